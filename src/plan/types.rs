//! Plan types. See the module documentation of `plan`.

use std::path::PathBuf;

/// Default virtual CPUs of a VM.
pub const DEFAULT_CPUS: u32 = 2;
/// Default VM memory, MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 1024;

use serde::{Deserialize, Serialize};

/// Everything the specs resolve to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// The spec files the plan was made from, as given (relative to the project root when below it).
    pub files: Vec<PathBuf>,
    /// The pinned eBPF toolchain (`toolchain { }` in `configs/build.hcl`), if any file declares it.
    pub toolchain: Option<Toolchain>,
    /// The eBPF programs to build (`program "NAME" { }` blocks), in declaration order.
    pub programs: Vec<Program>,
    /// The kernel catalog (`kernel "VERSION" { }` blocks), in declaration order, followed by the
    /// built-in catalog's kernels that no spec file declares.
    pub kernels: Vec<Kernel>,
    /// Where each catalog entry comes from: `built-in`, or the spec file that declares it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub kernel_origins: std::collections::BTreeMap<String, String>,
    /// The image catalog. `host` is always present: the host root shared read-only over 9p.
    pub images: Vec<Image>,
    /// VM specs (`vm { }` blocks), by name.
    pub vms: Vec<Vm>,
    /// The kernel × test matrix, if a matrix file was given.
    pub matrix: Option<Matrix>,
    /// Pipelines (`pipeline { }` blocks).
    pub pipelines: Vec<Pipeline>,
    /// Things the plan names but this host cannot resolve (a kernel with no source, an unknown
    /// image). They are not spec errors: the spec is valid, the host lacks something.
    pub unresolved: Vec<Unresolved>,
    /// The folder the plan's relative paths are relative to (the project root, or the spec files'
    /// common folder when they lie outside it). Not serialized: `orca plan --json` is the same in
    /// every checkout.
    #[serde(skip)]
    pub base: PathBuf,
}

/// A reference the specs make that cannot be resolved here, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unresolved {
    /// What is unresolved, e.g. `kernel 5.15` or `image ubuntu-22.04`.
    pub what: String,
    /// Why, and how to fix it.
    pub reason: String,
}

/// The pinned clang and the flags every program is compiled with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Toolchain {
    /// The clang major version that must be used, e.g. 14. A different clang is refused.
    pub clang_major: u32,
    /// The clang binary to run. Default: `clang-<major>` if on PATH, else `clang`.
    pub clang: Option<String>,
    /// Optional sha256 of the clang binary, for a stricter pin than the version.
    pub clang_sha256: Option<String>,
    /// The BPF target. Default `bpf` (host endianness).
    pub target: String,
    /// Compiler flags, in order. Default `["-O2", "-g"]`.
    pub cflags: Vec<String>,
    /// Include directories, project-relative or absolute, in order.
    pub include_dirs: Vec<PathBuf>,
    /// Where objects are written, project-relative. Default `build/ebpf`.
    pub out_dir: PathBuf,
}

/// One eBPF program: a C source compiled to one object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Program {
    /// The program's name, e.g. `xdp_drop`. Unique.
    pub name: String,
    /// The C source, project-relative.
    pub source: PathBuf,
    /// The object path, project-relative: `<out_dir>/<name>.o`.
    pub object: PathBuf,
    /// Extra flags for this program only, after the toolchain's.
    pub cflags: Vec<String>,
}

/// A kernel version in the catalog, pinned to concrete sources.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Kernel {
    /// The catalog key users write, e.g. `6.1`.
    pub version: String,
    /// The release string the guest's `uname -r` reports, e.g. `6.1.0-31-amd64`, if known.
    pub release: Option<String>,
    /// The parts that make up this kernel, all of them needed (a split Debian kernel has two).
    /// Empty when the catalog knows the version but has no source for this host.
    pub sources: Vec<KernelSource>,
    /// The nixpkgs attribute for the nix backend, e.g. `linuxPackages_6_1`.
    pub nixpkgs: Option<String>,
}

/// One pinned part of a kernel. A part is a Debian package, or a raw kernel image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum KernelSource {
    /// A Debian package fetched with `apt-get download` through the host's mirror, with `suite`
    /// added to a private apt configuration.
    Debian {
        package: String,
        /// The exact package version; `None` takes the suite's current one (and the sha256 check
        /// then catches a changed package).
        version: Option<String>,
        suite: String,
        sha256: String,
    },
    /// A package of the Ubuntu archive, fetched with `apt-get download` through a private apt
    /// state pointed at that archive (`ORCA_UBUNTU_MIRROR`, else the host's apt sources' Ubuntu
    /// entry). `sha256` is `None` until `orca kernel pin` records it: an unpinned part is never
    /// used, and a kernel with one is unavailable.
    Ubuntu {
        package: String,
        version: Option<String>,
        suite: String,
        sha256: Option<String>,
    },
    /// A `.deb` or kernel image downloaded from a URL.
    Url { url: String, sha256: String },
    /// A `.deb` or kernel image on disk (project-relative or absolute).
    File { path: PathBuf, sha256: String },
}

impl KernelSource {
    /// The pinned sha256; empty for an unpinned Ubuntu part (see [`KernelSource::pinned`]).
    pub fn sha256(&self) -> &str {
        match self {
            KernelSource::Debian { sha256, .. }
            | KernelSource::Url { sha256, .. }
            | KernelSource::File { sha256, .. } => sha256,
            KernelSource::Ubuntu { sha256, .. } => sha256.as_deref().unwrap_or(""),
        }
    }

    /// Whether the part has a sha256 to check its bytes against. Only an Ubuntu part can lack one.
    pub fn pinned(&self) -> bool {
        !self.sha256().is_empty()
    }
}

/// A guest root image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Image {
    /// The name specs use in `image = "..."`.
    pub name: String,
    /// What the image is.
    pub kind: ImageKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ImageKind {
    /// The host root, shared read-only over 9p, with a tmpfs overlay for writes.
    Host,
    /// A distro root filesystem built with mmdebstrap (variant minbase, plus `packages`) from an
    /// archive's suite, pinned in the project's image lock and cached by content hash.
    Distro(DistroImage),
}

/// What a distro image is built from, with its `base` chain already folded in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DistroImage {
    /// `debian` or `ubuntu`.
    pub archive: String,
    /// The archive's suite, e.g. `bookworm`.
    pub suite: String,
    /// The catalog kernel the image boots unless a spec names one; `None` for the newest.
    pub kernel: Option<String>,
    /// Packages installed on top of the essential set (minbase), sorted, each once: the base
    /// chain's and the image's own. Empty for a `-minimal` image.
    pub packages: Vec<String>,
    /// The archive URL to build from; `None` for the host's apt sources (Debian) or
    /// `ORCA_UBUNTU_MIRROR` / `ORCA_DEBIAN_MIRROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// The image this one extends, if any (for messages; its fields are folded in above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// A VM spec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Vm {
    /// The VM's name, unique across the specs. Long-lived VMs are addressed by it.
    pub name: String,
    /// The spec file that declared it.
    pub file: PathBuf,
    /// The image name. Default `host`.
    pub image: String,
    /// The kernel version from the catalog to boot by default, if the spec names one.
    pub kernel: Option<String>,
    /// Virtual CPUs. Default 2.
    pub cpus: u32,
    /// Memory in MiB. Default 1024.
    pub memory_mib: u64,
    /// Scratch disk size in MiB, if any.
    pub disk_mib: Option<u64>,
    /// Shares and tmpfs mounts, in order.
    pub mounts: Vec<Mount>,
    /// Commands run once after boot, before the main command.
    pub provision: Vec<String>,
    /// Files copied back to the host after the command.
    pub artifacts: Vec<Artifact>,
    /// Whether the guest gets a NIC (user networking). Default false: no NIC, faster boot.
    pub network: bool,
    /// Extra kernel modules to load at boot (with their dependencies), e.g. `veth`.
    pub modules: Vec<String>,
    /// Where the VM's commands start (`workdir`), when the spec says; see [`Vm::workdir`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// A mount inside the guest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mount {
    /// A host directory shared over 9p. `source` is resolved against the spec file's folder and
    /// made project-relative when it lies below the project root.
    Share {
        source: PathBuf,
        destination: String,
        readonly: bool,
    },
    /// A tmpfs of the given size.
    Tmpfs { destination: String, size_mib: u64 },
}

/// A file or directory copied from the guest to the host after the command.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    /// The guest path (absolute).
    pub source: String,
    /// The host path: resolved against the spec file's folder, then made project-relative when it
    /// lies below the project root (else absolute), like a share's `source`.
    pub destination: PathBuf,
}

/// The kernel × test matrix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Matrix {
    /// The matrix file.
    pub file: PathBuf,
    /// The `test { }` block.
    pub test: TestSpec,
    /// One cell per matrix entry, in declaration order: one boot runs the whole script.
    pub cells: Vec<Cell>,
}

/// How the matrix's tests run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestSpec {
    /// Run cells in parallel within the host's CPU and memory budget. Default true.
    pub parallel: bool,
    /// The deadline for one cell under KVM, in seconds; scaled up under TCG. Default 600.
    pub timeout_secs: u64,
    /// The lines of the script each cell runs in the guest: one shell, line after line, stopping
    /// at the first that fails.
    pub commands: Vec<String>,
    /// The VM spec whose resources, mounts and modules the cells use, if named.
    pub vm: Option<String>,
    /// Per-test kernel expectations.
    pub expectations: Vec<Expectation>,
    /// Globs of JUnit files the script writes (relative to where it runs), whose test cases
    /// become the cell's tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<String>,
    /// Whether a passing cell's result may be reused when all its inputs are unchanged
    /// (`cache = false`: the test reads something outside the project, such as the network).
    /// Default true.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub cache: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// "This test needs at least this kernel": on older kernels it is expected to fail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Expectation {
    /// The test name, or a glob over test names (`events_*`).
    pub test: String,
    /// The oldest kernel the test supports, e.g. `5.17`.
    pub min_kernel: String,
    /// Why, shown beside the expected failure.
    pub reason: Option<String>,
}

/// One matrix cell: one entry (image and kernel), one boot, the whole script.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    /// A stable id, the entry's name; used by `--shard`, the result cache and reports.
    pub id: String,
    /// The matrix entry's name.
    pub name: String,
    /// The image name.
    pub image: String,
    /// The kernel version (catalog key).
    pub kernel: String,
    /// The script as written: the test's commands, one per line.
    pub command: String,
    /// Why the cell cannot run on this host, if it cannot (no kernel source, unknown image).
    pub unavailable: Option<String>,
}

/// A pipeline: stages run as a DAG.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub file: PathBuf,
    /// Stages in declaration order.
    pub stages: Vec<Stage>,
    /// Stage names in a topological order (dependencies first, ties in declaration order).
    pub order: Vec<String>,
}

/// One pipeline stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stage {
    pub name: String,
    /// The VM spec to run in; `None` runs on the host (`vm = "host"` or no `vm`).
    pub vm: Option<String>,
    /// The kernel to boot for a VM stage; default the VM's kernel, else the catalog's newest.
    pub kernel: Option<String>,
    /// Commands, run in order; the first failure fails the stage.
    pub commands: Vec<String>,
    /// Globs (project-relative) of files the stage produces, stored as its artifacts.
    pub artifacts: Vec<String>,
    /// Stages that must succeed first.
    pub dependencies: Vec<String>,
    /// Project-relative globs of files the stage reads; part of its result-cache key.
    pub inputs: Vec<String>,
    /// The stage's deadline in seconds (scaled under TCG for VM stages). Default 1800.
    pub timeout_secs: u64,
    /// Globs of JUnit files the script writes, relative to where it runs (the project root on
    /// the host); their test cases become the stage's tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<String>,
}

/// A kernel version as numbers, for "older than" comparisons: `5.10` < `6.1` < `6.12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KernelVersion(pub u32, pub u32);

impl KernelVersion {
    /// Parses `MAJOR.MINOR`, ignoring anything after (`6.1.0-31-amd64` → 6.1).
    pub fn parse(s: &str) -> Option<KernelVersion> {
        let mut it = s.split(|c: char| !c.is_ascii_digit());
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some(KernelVersion(major, minor))
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl Vm {
    /// Where the VM's commands start: the spec's `workdir`, else the destination of the share
    /// whose source is the project root (`source = ".."` from `configs/`), if it has one.
    pub fn workdir(&self) -> Option<&str> {
        if let Some(w) = &self.workdir {
            return Some(w);
        }
        self.project_mount()
    }

    /// Where the guest sees the project root: the destination of the share whose source is the
    /// project root (`source = ".."` from `configs/`), if the VM has one.
    pub fn project_mount(&self) -> Option<&str> {
        self.mounts.iter().find_map(|m| match m {
            Mount::Share {
                source, destination, ..
            } if source.as_os_str() == "." => Some(destination.as_str()),
            _ => None,
        })
    }

    /// The VM a matrix `test` block without `vm` boots: default resources, the project root at
    /// `root` shared read-write at `/<name of the project folder>`, where its commands start.
    pub fn default_for_tests(root: &std::path::Path) -> Vm {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "project".into());
        Vm {
            name: "matrix".into(),
            file: PathBuf::new(),
            image: "host".into(),
            kernel: None,
            cpus: DEFAULT_CPUS,
            memory_mib: DEFAULT_MEMORY_MIB,
            disk_mib: None,
            mounts: vec![Mount::Share {
                source: root.to_path_buf(),
                destination: format!("/{name}"),
                readonly: false,
            }],
            provision: Vec::new(),
            artifacts: Vec::new(),
            network: false,
            modules: Vec::new(),
            workdir: None,
        }
    }
}

impl Plan {
    /// A plan-relative path made absolute (against `base`, else `root`).
    pub fn absolute(&self, p: &std::path::Path, root: &std::path::Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else if self.base.as_os_str().is_empty() {
            root.join(p)
        } else {
            self.base.join(p)
        }
    }
    pub fn kernel(&self, version: &str) -> Option<&Kernel> {
        self.kernels.iter().find(|k| k.version == version)
    }
    pub fn vm(&self, name: &str) -> Option<&Vm> {
        self.vms.iter().find(|v| v.name == name)
    }
    /// The newest kernel in the catalog that has sources.
    pub fn newest_kernel(&self) -> Option<&Kernel> {
        self.kernels
            .iter()
            .filter(|k| !k.sources.is_empty())
            .max_by_key(|k| KernelVersion::parse(&k.version))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plans_vm_starts_in_its_workdir_before_its_project_mount() {
        let mut vm = super::Vm::default_for_tests(std::path::Path::new("/home/u/flywall"));
        vm.mounts = vec![super::Mount::Share {
            source: ".".into(),
            destination: "/src".into(),
            readonly: false,
        }];
        assert_eq!(vm.workdir(), Some("/src"));
        vm.workdir = Some("/flywall".into());
        assert_eq!(vm.workdir(), Some("/flywall"));
    }


    use super::*;

    #[test]
    fn commands_start_where_the_project_root_is_mounted() {
        let mut vm = Vm::default_for_tests(std::path::Path::new("/home/me/flywall"));
        assert_eq!(vm.workdir(), None, "an absolute source is not the plan's root");
        assert!(matches!(&vm.mounts[0], Mount::Share { destination, readonly: false, .. } if destination == "/flywall"));
        vm.mounts = vec![
            Mount::Tmpfs {
                destination: "/tmp/build".into(),
                size_mib: 64,
            },
            Mount::Share {
                source: ".".into(),
                destination: "/flywall".into(),
                readonly: false,
            },
        ];
        assert_eq!(vm.workdir(), Some("/flywall"));
    }

    #[test]
    fn kernel_versions_order_numerically() {
        let v = |s| KernelVersion::parse(s).unwrap();
        assert!(v("5.10") < v("6.1"));
        assert!(v("6.1") < v("6.12"));
        assert!(v("6.12") < v("7.2"));
        assert_eq!(v("6.1.0-31-amd64"), KernelVersion(6, 1));
        assert_eq!(KernelVersion::parse("six"), None);
    }
}
