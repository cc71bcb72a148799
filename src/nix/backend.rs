//! The nix backend: the same plan, built and run through the flake.
//!
//! - [`build`]: `nix build .#ebpf`, then the objects are copied into the plan's out_dir, where the
//!   native build would have put them.
//! - [`run_matrix`]: one `nix build` of `.#checks.x86_64-linux.<cell>.results` (a NixOS test, or
//!   for a cell on a distro image the report of its run in nixpkgs' build of that image) per
//!   cell, each cell's `junit.xml` read back into the results model.
//!
//! Nix needs nixpkgs, fetched on first use. Where it cannot be fetched (no network) or Nix is
//! missing, the backend stops at the first `nix` call with one message and `Exit::Infra`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::error::{Exit, Fail};
use crate::fail;
use crate::plan::{Cell, Plan};
use crate::process;
use crate::report::{Outcome, Report};
use crate::run::classify::bare;

/// The system the matrix checks are defined for (the catalog's kernels are x86_64 kernels).
pub const MATRIX_SYSTEM: &str = "x86_64-linux";

/// Deadline for `nix build .#ebpf`: the first run fetches nixpkgs and clang from the binary cache.
const BUILD_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Deadline for evaluating the flake (fetching nixpkgs included).
const EVAL_DEADLINE: Duration = Duration::from_secs(10 * 60);
/// What a cell's `nix build` may take beyond the cell's own timeout: building orca and the objects,
/// and fetching the kernel and the NixOS closure, the first time.
const CELL_SLACK: Duration = Duration::from_secs(60 * 60);

/// The `nix` binary and the features orca needs from it.
#[derive(Debug, Clone)]
pub struct Nix {
    program: PathBuf,
}

impl Default for Nix {
    fn default() -> Self {
        Nix::new("nix")
    }
}

impl Nix {
    pub fn new(program: impl Into<PathBuf>) -> Nix {
        Nix {
            program: program.into(),
        }
    }

    /// `nix <args>` in `root`, with the flake commands enabled (Nix before 2.x-stable needs it;
    /// later Nix accepts it as a no-op).
    pub fn command(&self, root: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(root)
            .args(["--extra-experimental-features", "nix-command flakes"])
            .args(args);
        cmd
    }

    /// `nix build --json --no-link <installable>`.
    pub fn build_command(&self, root: &Path, installable: &str) -> Command {
        self.command(
            root,
            &["build", "--json", "--no-link", "--print-build-logs", installable],
        )
    }

    /// Runs `args`, returning stdout; a failure becomes one message (see [`explain`]).
    fn run(&self, root: &Path, mut cmd: Command, what: &str, deadline: Duration) -> Result<String> {
        let out = process::run(&mut cmd, what, deadline).map_err(|e| match crate::error::find_fail(&e) {
            Some(f) if f.message.contains("not installed") => anyhow::Error::new(
                Fail::new(
                    Exit::Infra,
                    format!("{what}: Nix is not installed (no `{}` on PATH)", self.program.display()),
                )
                .hint("install Nix, or use the native backend (--backend native)"),
            ),
            _ => e,
        })?;
        if !out.status.success() {
            return Err(explain(what, &out.stderr_str(), root));
        }
        Ok(out.stdout_str())
    }
}

/// What `nix build .#ebpf` produced, once copied.
#[derive(Debug, Clone, PartialEq)]
pub struct NixBuild {
    /// The store path holding the objects.
    pub out_path: PathBuf,
    /// The objects written into the project, project-relative, in program order.
    pub objects: Vec<PathBuf>,
}

/// Builds `.#ebpf` and copies every program's object to its `object` path under `root`.
pub fn build(root: &Path, plan: &Plan) -> Result<NixBuild> {
    build_with(&Nix::default(), root, plan)
}

/// [`build`] with a given `nix`.
pub fn build_with(nix: &Nix, root: &Path, plan: &Plan) -> Result<NixBuild> {
    let step = crate::ui::Step::start("nix build .#ebpf");
    let stdout = nix.run(
        root,
        nix.build_command(root, ".#ebpf"),
        "nix build .#ebpf",
        BUILD_DEADLINE,
    )?;
    let out_path = out_path(&stdout).context("reading the output of `nix build .#ebpf --json`")?;
    let mut objects = Vec::new();
    for p in &plan.programs {
        let name = p.object.file_name().context("a program object without a file name")?;
        let from = out_path.join(name);
        let bytes = std::fs::read(&from).map_err(|e| {
            fail!(
                Exit::Infra,
                "{} has no {} ({e}); is nix/generated/ in sync? run `orca gen --check`",
                out_path.display(),
                name.to_string_lossy()
            )
        })?;
        crate::paths::write_atomic(&root.join(&p.object), &bytes)?;
        objects.push(p.object.clone());
    }
    step.done(format!("{} objects from {}", objects.len(), out_path.display()));
    Ok(NixBuild { out_path, objects })
}

/// Runs `cells` as the flake's NixOS tests and reports them like the native backend would.
pub fn run_matrix(root: &Path, plan: &Plan, cells: &[Cell]) -> Result<Report> {
    run_matrix_with(&Nix::default(), root, plan, cells)
}

/// [`run_matrix`] with a given `nix`.
pub fn run_matrix_with(nix: &Nix, root: &Path, plan: &Plan, cells: &[Cell]) -> Result<Report> {
    let start = Instant::now();
    let matrix = plan
        .matrix
        .as_ref()
        .ok_or_else(|| crate::error::usage("the plan has no matrix", "pass a matrix file"))?;
    let unavailable = unavailable_cells(nix, root)?;
    let mut results = Vec::new();
    for cell in cells {
        process::check_interrupted()?;
        let attr = super::generate::check_attr(&cell.id);
        if let Some(reason) = unavailable.get(&attr) {
            results.push(bare(cell, &cell.command, Outcome::Unavailable, Some(reason.clone())));
            continue;
        }
        let installable = format!(".#checks.{MATRIX_SYSTEM}.{attr}.results");
        let deadline = Duration::from_secs(matrix.test.timeout_secs) + CELL_SLACK;
        let step = crate::ui::Step::start(format!("cell {} (kernel {}) through nix", cell.id, cell.kernel));
        let began = Instant::now();
        let result = match nix.run(
            root,
            nix.build_command(root, &installable),
            &format!("nix build {installable}"),
            deadline,
        ) {
            Ok(stdout) => {
                let out = out_path(&stdout)?;
                let xml = std::fs::read_to_string(out.join("junit.xml"))
                    .with_context(|| format!("reading {}/junit.xml", out.display()))?;
                super::junit::cell_result(&xml, cell, &matrix.test.expectations, began.elapsed())?
            }
            // nixpkgs unreachable, Nix missing, an interrupt: the run cannot go on.
            Err(e) if stops_the_run(&e) => return Err(e),
            // The VM or the suite broke (boot failure, timeout, no report): an error of this cell.
            Err(e) => bare(cell, &cell.command, Outcome::Error, Some(format!("{e:#}"))),
        };
        step.done(result.outcome.label());
        results.push(result);
    }
    Ok(Report {
        kind: "matrix".into(),
        backend: "nix".into(),
        accel: Some(MATRIX_SYSTEM.into()),
        wall_ms: start.elapsed().as_millis() as u64,
        cells: results,
    })
}

fn stops_the_run(e: &anyhow::Error) -> bool {
    matches!(crate::error::exit_of(e), Exit::Interrupted)
        || e.chain().any(|c| {
            let m = c.to_string();
            m.contains(UNREACHABLE) || m.contains(CLANG_PIN)
        })
}

/// The cells the pinned nixpkgs cannot boot (check attribute → reason), from the flake.
fn unavailable_cells(nix: &Nix, root: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let attr = format!(".#legacyPackages.{MATRIX_SYSTEM}.orca.unavailable");
    let cmd = nix.command(root, &["eval", "--json", &attr]);
    let stdout = nix.run(root, cmd, &format!("nix eval {attr}"), EVAL_DEADLINE)?;
    serde_json::from_str(&stdout).with_context(|| format!("reading the output of `nix eval --json {attr}`"))
}

/// The `out` path of the single result of `nix build --json`.
pub fn out_path(json: &str) -> Result<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Built {
        outputs: std::collections::BTreeMap<String, PathBuf>,
    }
    let built: Vec<Built> = serde_json::from_str(json.trim()).context("not the JSON of `nix build --json`")?;
    let first = built
        .into_iter()
        .next()
        .context("`nix build --json` reported no result")?;
    first
        .outputs
        .get("out")
        .cloned()
        .context("`nix build --json` reported no `out` output")
}

/// The start of the message for a Nix that cannot fetch its inputs.
const UNREACHABLE: &str = "the nix backend cannot fetch nixpkgs";
/// What nix/lib/resolve.nix says when the pinned nixpkgs lacks the pinned clang.
const CLANG_PIN: &str = "configs/build.hcl pins clang";

/// Turns a failed `nix` call into one message. Nix's own last lines are kept, since they say which
/// derivation or attribute failed; the network case is recognised and said plainly.
pub fn explain(what: &str, stderr: &str, root: &Path) -> anyhow::Error {
    const OFFLINE: [&str; 7] = [
        "unable to download",
        "Couldn't resolve host",
        "Could not resolve host",
        "Network is unreachable",
        "Connection refused",
        "Connection timed out",
        "Failed to connect",
    ];
    let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(12)..].join("\n");
    if OFFLINE.iter().any(|m| stderr.contains(m)) {
        // The last such line is Nix's final error (earlier ones are retries and substituter probes).
        let line = stderr
            .lines()
            .rev()
            .find(|l| OFFLINE.iter().any(|m| l.contains(m)))
            .unwrap_or("")
            .trim();
        return anyhow::Error::new(
            Fail::new(
                Exit::Infra,
                format!("{UNREACHABLE} pinned in {}/flake.lock: {line}", root.display()),
            )
            .hint(
                "the nix backend needs network access (or a substituter holding the pinned nixpkgs); \
                 use the native backend here: --backend native",
            ),
        );
    }
    // nix/lib/resolve.nix refuses a clang the pinned nixpkgs lacks; every cell would fail alike.
    if let Some(line) = stderr.lines().find(|l| l.contains(CLANG_PIN)) {
        let msg = line
            .trim()
            .trim_start_matches("error:")
            .trim()
            .trim_start_matches("orca: ");
        return anyhow::Error::new(
            Fail::new(Exit::Infra, format!("{what}: {msg}"))
                .hint("see nix/README.md, \"The clang pin\"; the native backend is not affected (--backend native)"),
        );
    }
    if stderr.contains("does not provide attribute") {
        return anyhow::Error::new(
            Fail::new(
                Exit::Infra,
                format!("{what} failed: the flake lacks that output:\n{tail}"),
            )
            .hint("run `orca gen` and commit nix/generated/ (Nix only sees files git tracks)"),
        );
    }
    fail!(Exit::Infra, "{what} failed:\n{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_command_asks_for_json_and_no_result_link() {
        let cmd = Nix::new("/opt/nix/bin/nix").build_command(Path::new("/p"), ".#ebpf");
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(cmd.get_program(), "/opt/nix/bin/nix");
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/p")));
        assert_eq!(
            args,
            [
                "--extra-experimental-features",
                "nix-command flakes",
                "build",
                "--json",
                "--no-link",
                "--print-build-logs",
                ".#ebpf"
            ]
        );
    }

    #[test]
    fn out_path_reads_nix_build_json() {
        let json = r#"[{"drvPath":"/nix/store/aaaa-orca-ebpf-0.drv","outputs":{"out":"/nix/store/bbbb-orca-ebpf-0"}}]"#;
        assert_eq!(out_path(json).unwrap(), PathBuf::from("/nix/store/bbbb-orca-ebpf-0"));
        assert!(out_path("[]").is_err());
        assert!(out_path("error: nope").is_err());
    }

    #[test]
    fn offline_errors_say_so_once() {
        let stderr = "warning: Git tree '/p' is dirty\nerror: unable to download 'https://api.example/tarball/8fd9': Couldn't resolve host name (6)\n";
        let err = explain("nix build .#ebpf", stderr, Path::new("/p"));
        assert_eq!(crate::error::exit_of(&err), Exit::Infra);
        let msg = err.to_string();
        assert!(msg.starts_with(UNREACHABLE), "{msg}");
        assert!(msg.contains("Couldn't resolve host"), "{msg}");
        assert!(
            crate::error::find_fail(&err)
                .unwrap()
                .hint
                .as_deref()
                .unwrap()
                .contains("--backend native")
        );
    }

    #[test]
    fn a_clang_the_pin_lacks_is_said_plainly() {
        let stderr = "error: orca: configs/build.hcl pins clang 14, but nixpkgs 8fd9daa has no llvmPackages_14 (it has llvmPackages_18, llvmPackages_19).\n(use '--show-trace' to show detailed location information)\n";
        let err = explain("nix build .#ebpf", stderr, Path::new("/p"));
        assert_eq!(
            err.to_string(),
            "nix build .#ebpf: configs/build.hcl pins clang 14, but nixpkgs 8fd9daa has no llvmPackages_14 (it has llvmPackages_18, llvmPackages_19)."
        );
        assert!(stops_the_run(&err));
    }

    #[test]
    fn other_errors_keep_nix_last_lines() {
        let stderr = "error: builder for '/nix/store/x-orca-ebpf.drv' failed with exit code 1;\n       last 1 log lines:\n       > ebpf/x.c:1:10: fatal error: 'bpf/bpf_helpers.h' file not found\n";
        let err = explain("nix build .#ebpf", stderr, Path::new("/p"));
        assert!(err.to_string().contains("bpf_helpers.h"), "{err}");
        assert!(!err.to_string().contains(UNREACHABLE));
    }
}
