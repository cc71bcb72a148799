//! Shared by the VM integration tests: the real orca binary under TCG, one VM test at a time
//! (the host has 2 cores; two TCG guests at once starve each other's timers), an isolated
//! runtime directory per test, and the check that nothing of orca is left behind.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const ORCA: &str = env!("CARGO_BIN_EXE_orca");
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One VM test's surroundings. Holds the cross-process VM test lock while alive.
pub struct Vm {
    pub runtime: tempfile::TempDir,
    _lock: File,
}

fn ci() -> bool {
    orca::ci::enabled()
}

fn on_path(prog: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(prog).is_file())
}

impl Vm {
    /// `None` (after saying why) when a prerequisite is missing and CI is not set; with CI set a
    /// missing prerequisite fails the test instead.
    pub fn new() -> Option<Vm> {
        let missing: Vec<&str> = [
            (!on_path("qemu-system-x86_64")).then_some("qemu-system-x86_64"),
            (!Path::new("/bin/busybox").is_file()).then_some("/bin/busybox (busybox-static)"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !missing.is_empty() {
            if ci() {
                panic!("CI is set and VM tests may not be skipped, but these are missing: {missing:?}");
            }
            eprintln!("skipping VM test: missing {missing:?}");
            return None;
        }
        let lock_path = std::env::temp_dir().join("orca-vm-tests.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap();
        // SAFETY: flock on an open descriptor.
        assert_eq!(
            unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
            0
        );
        let runtime = tempfile::Builder::new().prefix("orca-vmtest-").tempdir().unwrap();
        Some(Vm { runtime, _lock: lock })
    }

    /// orca with this test's runtime directory, TCG, in the project root.
    pub fn orca(&self) -> Command {
        let mut c = Command::new(ORCA);
        c.current_dir(ROOT)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("ORCA_ACCEL", "tcg");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.orca().args(args).output().unwrap();
        eprintln!(
            "orca {args:?} → {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Nothing of orca left: no process mentions this runtime directory (QEMU's sockets live
    /// there), and it holds no scratch directories, sockets or registered VMs.
    pub fn assert_clean(&self) {
        let dir = self.runtime.path().to_string_lossy().into_owned();
        let until = Instant::now() + Duration::from_secs(5);
        let mut left = Vec::new();
        while Instant::now() < until {
            left = processes_mentioning(&dir);
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(left.is_empty(), "processes left running: {left:?}");
        let entries = files_under(self.runtime.path());
        assert!(entries.is_empty(), "left in the runtime directory: {entries:?}");
    }
}

/// Live processes whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        if cmd.contains(needle) && !zombie {
            out.push(format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                cmd.chars().take(160).collect::<String>()
            ));
        }
    }
    out
}

/// Everything below `dir` except empty `orca/` and `orca/vms/` folders.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if p.is_dir() && (rel == Path::new("orca") || rel == Path::new("orca/vms")) {
                stack.push(p);
            } else {
                out.push(rel);
            }
        }
    }
    out
}

/// Runs orca's `cmd` in `dir` with `CI` set and no Ubuntu mirror (so the archive stays out of
/// reach, as on the development machine), prints what it said, and times it.
pub fn timed(mut cmd: Command, dir: &Path, args: &[&str]) -> (Output, f64) {
    let t = Instant::now();
    let out = cmd
        .current_dir(dir)
        .env("CI", "true")
        .env_remove("ORCA_UBUNTU_MIRROR")
        .args(args)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "orca {args:?} → {:?} in {secs:.1}s\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    (out, secs)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The catalog's pinned releases by version, from `orca kernel list --json`: the kernels every
/// host can fetch and check. Unpinned entries (the Ubuntu kernels, whose archive the development
/// machine cannot reach) are left out; they are unavailable by design, which kernel_cli tests.
pub fn releases() -> Vec<(String, String)> {
    let out = Command::new(ORCA)
        .current_dir(ROOT)
        .args(["kernel", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "orca kernel list: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["pinned"] == serde_json::Value::Bool(true))
        .filter_map(|k| Some((k["version"].as_str()?.to_string(), k["release"].as_str()?.to_string())))
        .collect()
}

/// A throwaway project: `configs/kernels.hcl` copied from this one, plus the given spec files.
pub fn project(specs: &[(&str, &str)]) -> tempfile::TempDir {
    let t = tempfile::Builder::new().prefix("orca-vmproj-").tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("configs")).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("configs/kernels.hcl"),
        t.path().join("configs/kernels.hcl"),
    )
    .unwrap();
    for (name, text) in specs {
        let p = t.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    t
}
