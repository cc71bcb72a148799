//! The command line: clap definitions, dispatch, and the one place errors become exit codes.
//!
//! Each subcommand lives in its own file here and only translates arguments into calls on the
//! layers below (spec → plan → backend → report).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{Exit, exit_of, find_fail};

mod build;
mod gen_cmd;
mod image;
mod init_cmd;
mod kernel;
mod matrix;
mod pipeline;
mod plan_cmd;
mod status;
mod validate;
mod vm;

const EXAMPLES: &str = "\
Examples:
  orca validate                      check every spec in configs/
  orca build                         build the eBPF objects into build/ebpf/
  orca init                          start a project: specs, a hello XDP program, a Makefile
  orca test                          the project's matrix test on its newest kernel
  orca matrix run --junit junit.xml  run every kernel × test cell in parallel
  orca run --kernel 6.1 -- uname -r  boot a kernel and run one command in it
  orca pipeline run                  run configs/ebpf-test-pipeline.hcl as a DAG

Exit codes:
  0 success · 1 test failure · 2 usage or spec error · 3 infrastructure failure
  4 kernel unavailable · 5 kernel lacks needed config · 6 guest kernel panic
  124 deadline passed · 130 interrupted
  (`orca run` and `orca exec` exit with the guest command's own code.)";

/// orca: reproducible eBPF builds, proven on every kernel you ship to.
#[derive(Debug, Parser)]
#[command(name = "orca", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Backend {
    /// orca drives clang and QEMU itself.
    #[default]
    Native,
    /// Through the flake: `nix build`.
    Nix,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project: specs, a hello XDP program, a Makefile, a test script and a flake.
    #[command(after_help = "\
Examples:
  orca init                 in the current folder
  orca init my-probe        in ./my-probe (created if missing)

Writes configs/ (the clang pin, a builder VM, a test VM, a matrix over kernels 5.10, 6.1 and 6.12, a
pipeline), bpf/hello.bpf.c, a Makefile, tests/load.sh (attaches the object in the guest, writes
JUnit to build/test-results/) and a flake.nix (edit its `orca` input). A file that exists is never
touched: it is listed as skipped.

Then:
  orca validate             check the specs
  orca build                compile bpf/hello.bpf.c into build/ebpf/ with clang 19
  orca test                 the tests on the newest kernel of the matrix
  orca matrix run           the tests on every kernel of the matrix
  orca pipeline run         build, then test in a VM")]
    Init(InitArgs),

    /// Check spec files and report every problem with its location.
    #[command(after_help = "\
Examples:
  orca validate                       all of configs/*.hcl
  orca validate configs/ebpf-test.hcl one file
  orca validate --json bad.hcl        diagnostics as JSON

Exit codes: 0 all valid · 2 spec errors")]
    Validate(ValidateArgs),

    /// Print the resolved plan: VMs, kernels and their sources, cells, pipeline order, programs.
    #[command(after_help = "\
Examples:
  orca plan                 the plan for configs/*.hcl
  orca plan --json | jq .   as JSON")]
    Plan(PlanArgs),

    /// Build the eBPF objects with the pinned clang, incrementally and from a content cache.
    #[command(after_help = "\
Examples:
  orca build                         build every program into build/ebpf/
  orca build -j 8                    run up to 8 clang processes at once
  orca build --verify-reproducible   build twice in separate trees and compare bytes
  orca build --backend nix           build through `nix build .#ebpf`")]
    Build(BuildArgs),

    /// Remove build outputs, and with flags the caches.
    #[command(after_help = "\
Examples:
  orca clean              remove build/
  orca clean --cache      also the object and result caches
  orca clean --unused     also kernels the catalog no longer names, and old cache layouts
  orca clean --all        everything orca stored, kernels included")]
    Clean(CleanArgs),

    /// Manage the kernel catalog and cache.
    #[command(subcommand)]
    Kernel(KernelCommand),

    /// Build, pin and cache the distro images VMs boot (debian-12, ubuntu-22.04, ...).
    #[command(subcommand)]
    Image(ImageCommand),

    /// Boot a VM, run provision and a command, copy artifacts back, shut down.
    #[command(after_help = "\
Examples:
  orca run --kernel 6.1 -- uname -r
  orca run configs/ebpf-builder.hcl --command 'cd /flywall && make'
  orca run configs/ebpf-test.hcl --kernel 5.10 -- make test
  orca run configs/ebpf-builder.hcl --interactive

The command is a shell line (--command, or one argument after --) run by /bin/sh -c, or several
arguments after -- run as they are. --interactive opens a shell on a terminal instead, once
provision is done, and stops the VM when the shell exits.

The spec's `provision` runs first as ONE script (one shell, line after line, stopping at the
first failing line, which is named; state carries over from line to line).

Exit code: the command's own; orca's own codes (2-6, 124, 130) on failures of its own.")]
    Run(RunArgs),

    /// Start a long-lived VM from a spec, addressed afterwards by its name.
    #[command(after_help = "\
Examples:
  orca start configs/ebpf-test.hcl
  orca start configs/ebpf-test.hcl --kernel 6.12 --ttl 2h")]
    Start(StartArgs),

    /// Stop a VM started with `orca start`.
    #[command(after_help = "Examples:\n  orca stop ebpf-test\n  orca stop --all")]
    Stop(StopArgs),

    /// Run a command in a running VM.
    #[command(after_help = "\
Examples:
  orca exec ebpf-test -- uname -r
  orca exec ebpf-builder -- \"cd /flywall && make\"
  orca exec ebpf-test --cwd /flywall -- make
  orca exec ebpf-builder --interactive

One argument after -- is a shell line, run by /bin/sh -c; several are run as they are.
Exit code: the command's own; orca's own codes (2-6, 124, 130) on failures of its own.")]
    Exec(ExecArgs),

    /// Copy files between the host and a running VM (`NAME:PATH` names the guest side).
    #[command(
        after_help = "Examples:\n  orca cp ebpf-test:/tmp/log.txt ./log.txt\n  orca cp build/ebpf/xdp_drop.o ebpf-test:/tmp/\n  orca cp 'ebpf-builder:/flywall/build/ebpf/*.o' build/ebpf/"
    )]
    Cp(CpArgs),

    /// Open an interactive shell in a running VM, or boot one from a spec for the shell.
    #[command(after_help = "Examples:\n  orca shell ebpf-test\n  orca shell configs/ebpf-test.hcl --kernel 6.1")]
    Shell(ShellArgs),

    /// Show VMs, installed programs, caches and the pinned toolchain.
    #[command(after_help = "Examples:\n  orca status\n  orca status ebpf-test\n  orca status --json")]
    Status(StatusArgs),

    /// Run the kernel × test matrix.
    #[command(subcommand)]
    Matrix(MatrixCommand),

    /// The quick loop: the project's matrix test on one kernel (default: the newest of the matrix's).
    #[command(
        after_help = "Examples:\n  orca test\n  orca test --kernel 5.10\n  orca test --junit junit.xml\n\n\
Exit codes: as `orca matrix run` (0 ok · 1 test failed · 2 usage · 3 infrastructure), and 4 when the\n\
kernel has no source on this host."
    )]
    Test(TestArgs),

    /// Run a pipeline of stages as a DAG.
    #[command(subcommand)]
    Pipeline(PipelineCommand),

    /// Load the built programs into the running kernel and pin them under /sys/fs/bpf/orca/.
    #[command(after_help = "Examples:\n  sudo orca install\n  sudo orca install --iface eth0")]
    Install(InstallArgs),

    /// Remove what `orca install` pinned, and nothing else.
    #[command(after_help = "Examples:\n  sudo orca uninstall")]
    Uninstall(UninstallArgs),

    /// Write nix/generated/*.json from the specs, for the flake.
    #[command(
        after_help = "Examples:\n  orca gen           rewrite the files\n  orca gen --check   fail with a diff if they are stale"
    )]
    Gen(GenArgs),

    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  orca completions bash > /etc/bash_completion.d/orca\n  orca completions zsh > ~/.zfunc/_orca\n  orca completions fish > ~/.config/fish/completions/orca.fish"
    )]
    Completions(CompletionsArgs),

    /// The guest agent (runs inside VMs as their init's successor).
    #[command(hide = true)]
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print what was written and skipped as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Spec files. Default: configs/*.hcl.
    pub files: Vec<PathBuf>,
    /// Print diagnostics as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Spec files. Default: configs/*.hcl.
    pub files: Vec<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Parallel clang processes. Default: the number of cores.
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Build twice in separate temporary trees and compare the objects byte for byte.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// Which backend builds.
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    /// Only these programs.
    #[arg(long = "program")]
    pub programs: Vec<String>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove the object and result caches.
    #[arg(long)]
    pub cache: bool,
    /// Also remove what is derived from kernels: downloaded packages and their apt state, unpacked
    /// kernels, boot images, initramfs images and the KVM probe.
    #[arg(long)]
    pub kernels: bool,
    /// Everything: build outputs, caches and kernels.
    #[arg(long)]
    pub all: bool,
    /// Also remove cached kernels this project's catalog no longer names (their packages, trees
    /// and boot images), and cache layouts this orca no longer reads. The cache is shared by all
    /// your projects: another project fetches its kernels again if it needs them.
    #[arg(long)]
    pub unused: bool,
}

#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// List the catalog's kernels, their sources and whether they are cached.
    #[command(after_help = "Examples:\n  orca kernel list\n  orca kernel list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download and unpack kernels into the cache (all when none is named).
    #[command(after_help = "Examples:\n  orca kernel fetch\n  orca kernel fetch 6.1 7.2")]
    Fetch { versions: Vec<String> },
    /// Pin a kernel version to a Debian package: download it and write its sha256 into the catalog.
    /// Without --debian, pin the catalog entry's own parts as listed (the Ubuntu kernels, which
    /// ship unpinned: run it where the Ubuntu archive is reachable).
    #[command(
        after_help = "Examples:\n  orca kernel pin 6.1 --debian linux-image-6.1.0-31-amd64-unsigned --suite bookworm\n  ORCA_UBUNTU_MIRROR=http://mirror.example/ubuntu orca kernel pin 5.15"
    )]
    Pin {
        version: String,
        /// Debian package name; repeat for a kernel split over several packages. Omit it to pin
        /// the catalog entry's own parts.
        #[arg(long = "debian")]
        packages: Vec<String>,
        /// The Debian suite that has the package.
        #[arg(long, default_value = "bookworm")]
        suite: String,
        /// The catalog file to edit. Default: configs/kernels.hcl.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// The image catalog (built in, plus the project's `image` blocks), each image's pin and
    /// whether it is cached.
    #[command(after_help = "Examples:\n  orca image list\n  orca image list --json | jq '.[] | select(.cached)'")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Build an image with mmdebstrap (nothing happens when its pinned content is cached). The
    /// first build pins it in configs/images.lock; later builds must reproduce that pin.
    #[command(after_help = "Examples:\n  orca image build debian-12-minimal\n  orca image build debian-12 debian-11\n  ORCA_UBUNTU_MIRROR=http://mirror.example/ubuntu orca image build ubuntu-22.04\n\nExit codes: 0 built or cached · 2 unknown image · 3 mmdebstrap or apt failed · 4 the archive cannot be reached, or the build does not match its pin")]
    Build {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Move an image's pin to the archive as it is now, building it if needed.
    #[command(after_help = "Examples:\n  orca image pin debian-12\n  git diff configs/images.lock")]
    Pin {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove an image's cached content (its pin stays; the next use rebuilds it).
    #[command(after_help = "Examples:\n  orca image rm debian-12")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove cached images the lock does not pin, provisioned roots whose image is gone, and
    /// leftovers of interrupted builds.
    #[command(
        after_help = "Examples:\n  orca image gc\n  orca image gc --debs          also the downloaded packages\n  orca image gc --provisioned   every provisioned root (the next boot provisions again)"
    )]
    Gc {
        /// Also remove the downloaded packages kept for rebuilds.
        #[arg(long)]
        debs: bool,
        /// Remove every provisioned root, not only those whose image is gone.
        #[arg(long)]
        provisioned: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub struct VmOpts {
    /// Kernel version from the catalog. Default: the spec's, else the newest.
    #[arg(short, long)]
    pub kernel: Option<String>,
    /// Override the spec's CPU count.
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Override the spec's memory, e.g. 2GB.
    #[arg(long)]
    pub memory: Option<String>,
    /// Acceleration: auto (probe KVM, fall back to TCG), kvm or tcg.
    #[arg(long, default_value = "auto", env = "ORCA_ACCEL")]
    pub accel: String,
    /// Give the guest a NIC (user networking).
    #[arg(long)]
    pub network: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A VM spec. Default: the host image with default resources.
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub vm: VmOpts,
    /// The command, as one shell string.
    #[arg(short = 'c', long, conflicts_with = "argv")]
    pub command: Option<String>,
    /// Deadline for the command, e.g. 10m. Default 10m (scaled under TCG).
    #[arg(long)]
    pub timeout: Option<String>,
    /// Working directory in the guest. Default: the spec's `workdir`, else where it mounts the project root, else the current directory.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Extra environment for the command, NAME=VALUE.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Feed this process's stdin to the command (default: the command's stdin is empty).
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// On a distro image, run provision again even when its result is cached (and keep the new one).
    #[arg(long)]
    pub reprovision: bool,
    /// Open a shell on this terminal once provision is done; the VM stops when it exits.
    #[arg(long, conflicts_with_all = ["command", "argv", "stdin"])]
    pub interactive: bool,
    /// The command, as arguments after `--` (one argument is a shell line).
    #[arg(last = true)]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    pub spec: PathBuf,
    #[command(flatten)]
    pub vm: VmOpts,
    /// On a distro image, run provision again even when its result is cached (and keep the new one).
    #[arg(long)]
    pub reprovision: bool,
    /// Stop the VM after this long, whatever happens. Default 8h.
    #[arg(long, default_value = "8h")]
    pub ttl: String,
    /// Internal: run as the VM's daemon (what `orca start` launches in the background).
    #[arg(long, hide = true)]
    pub daemon_child: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The VM's name.
    #[arg(required_unless_present = "all")]
    pub name: Option<String>,
    /// Stop every VM orca started.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub name: String,
    /// Working directory in the guest. Default: the VM's `workdir`, else where it mounts the project root, else the current directory.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Extra environment, NAME=VALUE.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Deadline for the command. Default 10m.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Feed this process's stdin to the command (default: the command's stdin is empty).
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Open a shell in the VM on this terminal instead of running a command.
    #[arg(long, conflicts_with_all = ["argv", "stdin"])]
    pub interactive: bool,
    /// The command, as arguments after `--` (one argument is a shell line).
    #[arg(last = true, required_unless_present = "interactive")]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a host path or NAME:PATH. Guest paths are absolute, without `.` or `..`, and may
    /// hold `*`, `?` and `[...]`, expanded in the guest (no match is an error; several matches
    /// need a destination folder, created when it ends with `/`). A
    /// relative host path must stay inside the current directory (no `..` out of it, no symlink
    /// out of it); an absolute host path may not contain `..`.
    pub src: String,
    /// Destination: a host path or NAME:PATH. An existing folder receives the item inside it;
    /// anything else at the destination is replaced. Items that would land outside the
    /// destination (entries with `..`, absolute or escaping symlinks) refuse the whole copy.
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// A running VM's name, or a VM spec to boot for the shell.
    pub target: Option<String>,
    #[command(flatten)]
    pub vm: VmOpts,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show only this VM.
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// The BPF filesystem folder orca pins under.
    #[arg(long, env = "ORCA_PIN_DIR", default_value = crate::install::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ReportOpts {
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the results as JSON here (`-` for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Run everything, taking nothing from the result cache (passing results are stored anew).
    #[arg(long)]
    pub no_cache: bool,
    /// Exit 0 even when some cells (stages) could not run on this host (no kernel source, an
    /// unknown image); by default such a run exits 4.
    #[arg(long)]
    pub allow_unavailable: bool,
}

#[derive(Debug, Subcommand)]
pub enum MatrixCommand {
    /// Run every cell (one per matrix entry: its image and kernel) of a matrix file.
    #[command(after_help = "\
Examples:
  orca matrix run
  orca matrix run configs/ebpf-test-matrix.hcl --junit junit.xml --json results.json
  orca matrix run --kernel 5.10 --kernel 6.1 --test 'xdp_*'
  orca matrix run --shard 1/4          cells for CI job 1 of 4
  orca matrix run --allow-unavailable  kernels this host cannot boot are n/a, not a failure
  orca matrix run --no-cache           run every cell, even those whose result is cached

A cell is one matrix entry: one boot runs the test's `commands` as ONE script, in one shell,
line after line, stopping at the first line that fails (like `set -e`); `cd`, `export` and shell
functions carry over from line to line. The failing line is named with its index, text, exit code
and the tail of its output, and every line is a step (time, exit code, output) in --json.

A passing cell is not run again while all its inputs are unchanged: the kernel (its packages'
sha256s), the image's content hash (and its provisioned root), the entry, the test block
(lines, results, timeout, expectations), the VM spec, the script's environment, orca itself, and
every file of the folders mounted in the guest that the project's .gitignore does not ignore
(path, mode, bytes). It is shown as cached, with the duration of the run that is reused. A
failing cell always runs again; a cell on the host's root (image = \"host\") always runs (the
host's whole filesystem is its input); `cache = false` in the test block turns the cache off for
tests with outside inputs (the network); --no-cache runs every cell and stores the results anew.

Exit codes: 0 all matched expectations (expected failures included) · 1 a test failed, or passed
where expected to fail, or its command panicked the guest · 2 usage or spec error
· 3 infrastructure failure (a guest failed to boot twice, or passed its deadline) and no test
failed · 4 a cell could not run on this host (no kernel source, unknown image) and nothing
failed, unless --allow-unavailable

A guest that panics or hangs before it is ready is booted once more; the cell is then marked
flaky in the table, the JSON and the JUnit.")]
    Run(MatrixRunArgs),
}

#[derive(Debug, Args)]
pub struct MatrixRunArgs {
    /// The matrix file. Default: configs/ebpf-test-matrix.hcl.
    pub file: Option<PathBuf>,
    /// Only these kernels.
    #[arg(long = "kernel")]
    pub kernels: Vec<String>,
    /// Only tests matching these globs.
    #[arg(long = "test")]
    pub tests: Vec<String>,
    /// Run shard I of N (1-based), e.g. 2/4.
    #[arg(long)]
    pub shard: Option<String>,
    /// Maximum VMs at once. Default: from the host's cores and memory.
    #[arg(short, long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    #[command(flatten)]
    pub report: ReportOpts,
    #[arg(long, default_value = "auto", env = "ORCA_ACCEL")]
    pub accel: String,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Kernel version. Default: the newest in the catalog.
    #[arg(short, long)]
    pub kernel: Option<String>,
    /// Only tests matching these globs.
    #[arg(long = "test")]
    pub tests: Vec<String>,
    #[command(flatten)]
    pub report: ReportOpts,
    #[arg(long, default_value = "auto", env = "ORCA_ACCEL")]
    pub accel: String,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Run a pipeline's stages as a DAG.
    #[command(after_help = "\
Examples:
  orca pipeline run
  orca pipeline run configs/ebpf-test-pipeline.hcl --junit pipeline.xml
  orca pipeline run --only integration
  orca pipeline run --from integration

A stage's `commands` run as ONE script, in one shell, line after line, stopping at the first
line that fails; `cd`, `export` and shell functions carry over from line to line. A VM stage runs
its VM's `provision` first, as `orca run` does. A stage's `artifacts` and `inputs` are globs
relative to the project root; its `results` are relative to where its script runs.

Exit codes: 0 all stages passed · 1 a stage failed · 3 infrastructure failure · 4 a stage could
not run on this host (its kernel is unavailable), unless --allow-unavailable")]
    Run(PipelineRunArgs),
}

#[derive(Debug, Args)]
pub struct PipelineRunArgs {
    /// The pipeline file. Default: configs/ebpf-test-pipeline.hcl.
    pub file: Option<PathBuf>,
    /// Start from this stage (it and its dependants run; earlier results come from the cache).
    #[arg(long, conflicts_with = "only")]
    pub from: Option<String>,
    /// Run only this stage.
    #[arg(long)]
    pub only: Option<String>,
    /// Maximum stages at once. Default: from the host's budget.
    #[arg(short, long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub report: ReportOpts,
    #[arg(long, default_value = "auto", env = "ORCA_ACCEL")]
    pub accel: String,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Attach the XDP and TC programs to this interface too.
    #[arg(long)]
    pub iface: Option<String>,
    /// Directory of built objects. Default: build/ebpf.
    #[arg(long)]
    pub objects: Option<PathBuf>,
    /// The BPF filesystem folder orca pins under.
    #[arg(long, env = "ORCA_PIN_DIR", default_value = crate::install::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The BPF filesystem folder orca pins under.
    #[arg(long, env = "ORCA_PIN_DIR", default_value = crate::install::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Do not write; exit 1 with a diff when the committed files are stale.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The virtio-serial port to serve on.
    #[arg(long, default_value = AGENT_PORT)]
    pub port: PathBuf,
}

/// The port of `orca agent [--port PATH]`, the agent's own command line as init starts it; `None`
/// for anything else, which clap then parses (and explains, if it is wrong).
#[cfg(target_os = "linux")]
fn agent_port(args: Vec<std::ffi::OsString>) -> Option<PathBuf> {
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    match a.as_slice() {
        [c] if *c == "agent" => Some(PathBuf::from(AGENT_PORT)),
        [c, p, port] if *c == "agent" && *p == "--port" => Some(PathBuf::from(port)),
        [c, p] if *c == "agent" => p
            .to_str()
            .and_then(|p| p.strip_prefix("--port="))
            .map(PathBuf::from),
        _ => None,
    }
}

/// `orca agent`'s default port.
const AGENT_PORT: &str = "/dev/virtio-ports/org.orca.agent";

/// Entry point: parse, dispatch, turn errors into one message and an exit code.
pub fn main() -> ExitCode {
    crate::process::install_signal_handlers();
    // The guest agent starts on every boot, under emulation too: straight to it, without building
    // the whole command line's parser (about 50 ms of a TCG boot) and without sweeping scratch
    // folders, which in a guest are the host's, seen through the overlay.
    #[cfg(target_os = "linux")]
    if let Some(port) = agent_port(std::env::args_os().skip(1).collect()) {
        return finish(crate::agent::main(port));
    }
    crate::paths::sweep_stale();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(Exit::Usage.code()),
            };
        }
    };
    if prints_only(&cli.command) {
        // Like other Unix tools, end quietly when the reader of stdout goes away (`orca plan | head`)
        // instead of failing on EPIPE. Only for commands that own no VM or socket: elsewhere a
        // closed socket must stay an error orca handles, not a signal that kills it mid-cleanup.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    finish(dispatch(cli.command))
}

/// Ends a command: removes this process's scratch folder, reports an error, gives the exit code.
fn finish(result: anyhow::Result<u8>) -> ExitCode {
    crate::paths::remove_scratch();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report_error(&err);
            ExitCode::from(exit_of(&err).code())
        }
    }
}

/// Prints an error as `orca: error: <chain>` plus its hint.
pub fn report_error(err: &anyhow::Error) {
    if crate::process::interrupted() {
        // The signal handler killed every child first, so whatever failed after it (a VM whose
        // QEMU died, a clang killed midway) is a consequence, not the cause.
        eprintln!("orca: interrupted; everything orca started has been stopped");
        return;
    }
    let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
    eprintln!("orca: error: {}", chain.join(": "));
    if let Some(h) = find_fail(err).and_then(|f| f.hint.as_ref()) {
        eprintln!("  hint: {h}");
    }
}

/// Commands that only read specs or caches and print.
fn prints_only(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Validate(_)
            | Command::Plan(_)
            | Command::Kernel(KernelCommand::List { .. })
            | Command::Image(ImageCommand::List { .. })
            | Command::Gen(_)
            | Command::Completions(_)
    )
}

/// The commands that boot guests or load programs into the running kernel. The guest's root is
/// the host's own file system and programs load through bpf(2), so these need a Linux host; on
/// other systems `validate`, `plan`, `gen`, `status` and the nix backend work.
fn needs_linux(cmd: &Command) -> Option<&'static str> {
    Some(match cmd {
        Command::Run(_) => "run",
        Command::Start(_) => "start",
        Command::Stop(_) => "stop",
        Command::Exec(_) => "exec",
        Command::Cp(_) => "cp",
        Command::Shell(_) => "shell",
        Command::Test(_) => "test",
        Command::Matrix(MatrixCommand::Run(a)) if a.backend == Backend::Native => "matrix run",
        Command::Pipeline(_) => "pipeline run",
        Command::Install(_) => "install",
        Command::Uninstall(_) => "uninstall",
        Command::Agent(_) => "agent",
        Command::Image(ImageCommand::Build { .. }) => "image build",
        Command::Image(ImageCommand::Pin { .. }) => "image pin",
        _ => return None,
    })
}

/// The error for a Linux-only command on another system.
pub fn linux_only(command: &str) -> anyhow::Error {
    crate::error::usage(
        format!(
            "`orca {command}` needs a Linux host (guests share the host's root file system, and programs load \
             through bpf(2)); this is {}",
            std::env::consts::OS
        ),
        "on macOS, build and test through the flake: `orca build --backend nix`, `orca matrix run --backend nix` \
         (with a nix-darwin linux-builder; see docs/nix.md)",
    )
}

fn dispatch(cmd: Command) -> anyhow::Result<u8> {
    if !cfg!(target_os = "linux")
        && let Some(command) = needs_linux(&cmd)
    {
        return Err(linux_only(command));
    }
    match cmd {
        Command::Init(a) => init_cmd::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Plan(a) => plan_cmd::run(a),
        Command::Build(a) => build::run(a),
        Command::Clean(a) => build::clean(a),
        Command::Kernel(c) => kernel::run(c),
        Command::Image(c) => image::run(c),
        Command::Run(a) => vm::run(a),
        Command::Start(a) => vm::start(a),
        Command::Stop(a) => vm::stop(a),
        Command::Exec(a) => vm::exec(a),
        Command::Cp(a) => vm::cp(a),
        Command::Shell(a) => vm::shell(a),
        Command::Status(a) => status::run(a),
        Command::Matrix(MatrixCommand::Run(a)) => matrix::run(a),
        Command::Test(a) => matrix::test(a),
        Command::Pipeline(PipelineCommand::Run(a)) => pipeline::run(a),
        #[cfg(target_os = "linux")]
        Command::Install(a) => status::install(a),
        #[cfg(target_os = "linux")]
        Command::Uninstall(a) => status::uninstall(a),
        Command::Gen(a) => gen_cmd::run(a),
        Command::Completions(a) => {
            use clap::CommandFactory;
            clap_complete::generate(a.shell, &mut Cli::command(), "orca", &mut std::io::stdout());
            Ok(0)
        }
        #[cfg(target_os = "linux")]
        Command::Agent(a) => crate::agent::main(a.port),
        // Refused above already; these commands exist on Linux only.
        #[cfg(not(target_os = "linux"))]
        c @ (Command::Install(_) | Command::Uninstall(_) | Command::Agent(_)) => {
            Err(linux_only(needs_linux(&c).unwrap_or("this command")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The agent's own command lines skip clap; anything else goes to it, to be parsed or refused.
    #[cfg(target_os = "linux")]
    #[test]
    fn agent_command_lines_are_read_without_clap_and_agree_with_it() {
        let os = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        for (args, port) in [
            (&["agent"][..], AGENT_PORT),
            (&["agent", "--port", "/dev/x"][..], "/dev/x"),
            (&["agent", "--port=/dev/y"][..], "/dev/y"),
        ] {
            assert_eq!(agent_port(os(args)), Some(PathBuf::from(port)), "{args:?}");
            let mut full = vec!["orca"];
            full.extend_from_slice(args);
            match Cli::try_parse_from(&full).unwrap().command {
                Command::Agent(a) => assert_eq!(a.port, PathBuf::from(port), "clap reads {args:?} alike"),
                _ => panic!("{args:?} is not the agent for clap"),
            }
        }
        for args in [&["agent", "--port"][..], &["agent", "--bogus"], &["agentx"], &["run", "agent"], &[]] {
            assert_eq!(agent_port(os(args)), None, "{args:?}");
        }
    }

    /// What works on macOS is exactly what needs neither guests nor bpf(2).
    #[test]
    fn linux_only_commands() {
        let needs = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["orca"], args].concat()).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            needs_linux(&cli.command)
        };
        for portable in [
            &["validate"][..],
            &["plan"],
            &["gen", "--check"],
            &["status"],
            &["build"],
            &["build", "--backend", "nix"],
            &["matrix", "run", "--backend", "nix"],
            &["kernel", "list"],
            &["clean", "--all"],
        ] {
            assert_eq!(needs(portable), None, "{portable:?}");
        }
        assert_eq!(needs(&["matrix", "run"]), Some("matrix run"));
        assert_eq!(needs(&["run", "--", "true"]), Some("run"));
        assert_eq!(needs(&["install"]), Some("install"));
        assert_eq!(needs(&["test"]), Some("test"));
        let e = format!("{:#}", linux_only("install"));
        assert!(e.contains("`orca install` needs a Linux host"), "{e}");
    }

    #[test]
    fn every_subcommand_has_examples() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        fn walk(c: &clap::Command, path: String, missing: &mut Vec<String>) {
            for sub in c.get_subcommands() {
                if sub.is_hide_set() || sub.get_name() == "help" {
                    continue;
                }
                let p = format!("{path} {}", sub.get_name());
                if sub.has_subcommands() {
                    walk(sub, p, missing);
                } else if !sub
                    .get_after_help()
                    .map(|h| h.to_string().contains("orca "))
                    .unwrap_or(false)
                {
                    missing.push(p);
                }
            }
        }
        walk(&cmd, "orca".into(), &mut missing);
        assert!(missing.is_empty(), "subcommands without examples: {missing:?}");
    }
}
