//! A pipeline with a VM stage on kernel 6.12, booted in QEMU (TCG here): the VM's `provision` runs
//! first on the host root, as one script, and the stage sees what it left; the guest reads a host
//! stage's artifact, its own artifacts are copied out of the guest, and a later host stage reads
//! them. A second run takes everything from the cache without booting.
//!
//! The project lives below the target folder, because the guest sees the host's tree but gets a
//! fresh /tmp. With `CI=true` nothing here is skipped; otherwise a missing QEMU skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn in_ci() -> bool {
    orca::ci::enabled()
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(dir: &Path, cache: &Path) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["pipeline", "run", "configs/pipeline.hcl", "--json", "-"])
        .current_dir(dir)
        .env("ORCA_CACHE_DIR", cache)
        .env("CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no report ({e}):\n{stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

/// Whether QEMU is installed; without it the test is skipped, saying why (never under CI).
fn qemu_installed() -> bool {
    let qemu = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()));
    if !qemu {
        assert!(!in_ci(), "CI=true and qemu-system-x86_64 is not installed");
        eprintln!("SKIPPED pipeline_vm: qemu-system-x86_64 is not installed (run .ci/setup)");
    }
    qemu
}

/// A project below the target folder (the guest sees the host's tree, not its /tmp) holding the
/// VM pipeline fixture and the catalog, in a scratch folder removed on drop.
fn project(name: &str) -> (Scratch, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = Scratch(Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id())));
    let dir = scratch.0.join("project");
    std::fs::create_dir_all(dir.join("configs")).unwrap();
    std::fs::create_dir_all(dir.join("ebpf")).unwrap();
    std::fs::copy(
        root.join("tests/fixtures/pipelines/vm.hcl"),
        dir.join("configs/pipeline.hcl"),
    )
    .unwrap();
    std::fs::copy(root.join("configs/kernels.hcl"), dir.join("configs/kernels.hcl")).unwrap();
    (scratch, dir)
}

fn stage<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["cells"].as_array().unwrap().iter().find(|c| c["id"] == name).unwrap()
}

#[test]
fn artifacts_flow_through_a_vm_stage_and_the_second_run_is_cached() {
    if !qemu_installed() {
        return;
    }
    let (scratch, dir) = project("pipeline-vm");
    // The kernels are shared with the rest of orca's cache; the results are this test's own.
    let cache = scratch.0.join("cache");
    let shared = std::env::var_os("ORCA_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/orca"));
    std::fs::create_dir_all(&cache).unwrap();
    for area in ["kernels", "apt", "initramfs", "accel", "vmlinux"] {
        if shared.join(area).exists() {
            std::os::unix::fs::symlink(shared.join(area), cache.join(area)).unwrap();
        }
    }

    let (code, r, err) = run(&dir, &cache);
    assert_eq!(code, 0, "{r:#}\n{err}");
    assert_eq!(stage(&r, "guest")["kernel"], "6.12");
    assert!(
        stage(&r, "guest")["release"].as_str().unwrap().starts_with("6.12."),
        "{r:#}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out/seen.txt")).unwrap(),
        "from-the-host\n"
    );
    assert!(
        std::fs::read_to_string(dir.join("out/release.txt"))
            .unwrap()
            .starts_with("6.12.")
    );
    // provision ran in this boot, before the commands, its `cd` and `export` carried over.
    let mark = std::fs::read_to_string(dir.join("out/provisioned.txt")).unwrap();
    assert!(
        mark.starts_with("provisioned ") && mark.ends_with(" in /tmp\n") && mark.len() > "provisioned  in /tmp\n".len(),
        "{mark:?}"
    );
    let steps = stage(&r, "guest")["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5, "the stage's own lines only: {r:#}");
    assert_eq!(stage(&r, "check")["outcome"], "pass");
    assert!(r["accel"].is_string(), "{r:#}");

    std::fs::remove_dir_all(dir.join("out")).unwrap();
    let (code, r, err) = run(&dir, &cache);
    assert_eq!(code, 0, "{r:#}\n{err}");
    for s in ["prepare", "guest", "check"] {
        assert_eq!(stage(&r, s)["cached"], true, "{s}: {r:#}");
    }
    assert!(
        !err.contains("stage guest started"),
        "the cached VM stage booted:\n{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out/seen.txt")).unwrap(),
        "from-the-host\n"
    );
}

#[test]
fn a_guest_that_panics_while_booting_is_booted_once_more_then_the_stage_errors() {
    if !qemu_installed() {
        return;
    }
    let (_scratch, dir) = project("pipeline-panic");
    // No init and no root device: the kernel panics early in every boot, the same way each time.
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["pipeline", "run", "configs/pipeline.hcl", "--json", "-", "--no-cache"])
        .current_dir(&dir)
        .env("CI", "true")
        .env("ORCA_VM_CMDLINE", "rdinit=/nonexistent root=/dev/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no report ({e}):\n{stderr}"));
    assert_eq!(out.status.code(), Some(3), "{r:#}\n{stderr}");
    assert_eq!(stage(&r, "prepare")["outcome"], "pass");
    assert_eq!(stage(&r, "guest")["outcome"], "error", "{r:#}");
    assert!(
        stage(&r, "guest")["message"].as_str().unwrap().contains("panicked"),
        "{r:#}"
    );
    assert_eq!(stage(&r, "check")["outcome"], "skip");
    let log =
        std::fs::read_to_string(dir.join("build/pipeline/logs/guest.log")).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    assert_eq!(log.matches("booting once more").count(), 1, "{log}");
}

#[test]
fn a_failing_provision_line_fails_the_vm_stage_and_is_named() {
    if !qemu_installed() {
        return;
    }
    let (_scratch, dir) = project("pipeline-provision");
    let spec = dir.join("configs/pipeline.hcl");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("\"cd /tmp\","));
    std::fs::write(&spec, text.replace("\"cd /tmp\",", "\"cd /no/such/dir\",")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["pipeline", "run", "configs/pipeline.hcl", "--json", "-", "--no-cache"])
        .current_dir(&dir)
        .env("CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no report ({e}):\n{stderr}"));
    assert_eq!(out.status.code(), Some(1), "{r:#}\n{stderr}");
    let guest = stage(&r, "guest");
    assert_eq!(guest["outcome"], "fail", "{r:#}");
    let msg = guest["message"].as_str().unwrap();
    assert!(msg.contains("provision of pipeline-vm failed") && msg.contains("cd /no/such/dir"), "{msg}");
    assert!(!msg.contains("kept"), "nothing is kept on the host root, so nothing is said of it: {msg}");
    assert_eq!(stage(&r, "check")["outcome"], "skip");
    // The stage's commands did not run.
    assert!(!dir.join("out/release.txt").exists());
}
