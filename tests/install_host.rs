//! `orca install`, `orca status` and `orca uninstall` against the running kernel: the firewall's
//! programs compiled with clang, loaded, pinned in a private folder of the host's bpffs, attached
//! to a veth interface, listed, and removed again (and only what install pinned).
//!
//! Needs root and a mounted /sys/fs/bpf. Without them the test says why and skips, unless CI is
//! set, where it fails.

mod install_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use install_support::compile_objects;

fn orca(args: &[&str], state: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ORCA_STATE_DIR", state)
        .env("CI", "true")
        .output()
        .expect("run orca")
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "orca failed ({}):\n{text}", out.status);
    text
}

fn sh(cmd: &str) -> Output {
    Command::new("sh").args(["-c", cmd]).output().unwrap()
}

fn prerequisites() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new("/sys/fs/bpf").join(".").exists() || !sh("mount | grep -q ' /sys/fs/bpf type bpf'").status.success() {
        return Some("no BPF filesystem at /sys/fs/bpf".into());
    }
    None
}

/// A veth pair (this kernel has no dummy driver), deleted again when dropped.
struct Dummy(String);

impl Dummy {
    fn new() -> Dummy {
        let name = format!("orcat{}", std::process::id() % 100000);
        let peer = format!("{name}p");
        let up = sh(&format!(
            "ip link add {name} type veth peer name {peer} && ip link set {name} up && ip link set {peer} up"
        ));
        assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
        Dummy(name)
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        sh(&format!("ip link del {}", self.0));
    }
}

/// Removes the test's pin folder whatever happens.
struct PinDir(PathBuf);

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn install_status_uninstall_on_the_host_kernel() {
    if let Some(why) = prerequisites() {
        orca::ci::skip_or_fail(why);
        return;
    }
    let objects = tempfile::tempdir().unwrap();
    compile_objects(objects.path());
    let state = tempfile::tempdir().unwrap();
    let pins = PinDir(PathBuf::from(format!("/sys/fs/bpf/orca-test-{}", std::process::id())));
    let pin_dir = pins.0.to_str().unwrap();
    let dummy = Dummy::new();

    let text = ok(&orca(
        &[
            "install",
            "--objects",
            objects.path().to_str().unwrap(),
            "--pin-dir",
            pin_dir,
            "--iface",
            &dummy.0,
        ],
        state.path(),
    ));
    assert!(text.contains("3 programs"), "{text}");
    for (object, program) in [
        ("xdp_blocklist", "xdp_blocklist"),
        ("tc_egress_policy", "egress_policy"),
    ] {
        let link = pins.0.join(object).join("links").join(format!("{program}@{}", dummy.0));
        assert!(link.exists(), "no link pin {}", link.display());
    }
    assert!(pins.0.join("xdp_blocklist/maps/blocklist_v4").exists());
    let link = String::from_utf8(sh(&format!("ip link show {}", dummy.0)).stdout).unwrap();
    assert!(link.contains("xdp"), "XDP is not attached: {link}");

    // The status lists every pinned program as loaded, with the kernel's id.
    let out = orca(&["status", "--json", "--pin-dir", pin_dir], state.path());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let programs = status["installed"]["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 3, "{status:#}");
    let mut ids = Vec::new();
    for p in programs {
        assert_eq!(p["loaded"], true, "{p:#}");
        ids.push(p["id"].as_u64().unwrap());
    }
    assert!(
        status["installed"]["maps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["loaded"] == true)
    );
    assert_eq!(status["installed"]["links"].as_array().unwrap().len(), 2);
    assert_eq!(status["nixpkgs"]["branch"], "nixos-25.11");
    for id in &ids {
        assert!(
            sh(&format!("bpftool prog show id {id}")).status.success(),
            "program {id} is not loaded"
        );
    }
    let text = ok(&orca(&["status", "--pin-dir", pin_dir], state.path()));
    assert!(text.contains("xdp_blocklist") && text.contains("Caches in"), "{text}");

    // Installing again replaces the first install: its programs are unloaded, none leak.
    ok(&orca(
        &[
            "install",
            "--objects",
            objects.path().to_str().unwrap(),
            "--pin-dir",
            pin_dir,
            "--iface",
            &dummy.0,
        ],
        state.path(),
    ));
    for id in &ids {
        assert!(
            !sh(&format!("bpftool prog show id {id}")).status.success(),
            "program {id} of the first install leaked"
        );
    }
    let out = orca(&["status", "--json", "--pin-dir", pin_dir], state.path());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let ids: Vec<u64> = status["installed"]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{status:#}");

    // Something else pinned in the same folder must survive uninstall.
    let foreign = pins.0.join("foreign");
    assert!(
        sh(&format!(
            "bpftool map create {} type array key 4 value 4 entries 1 name foreign",
            foreign.display()
        ))
        .status
        .success()
    );

    ok(&orca(&["uninstall", "--pin-dir", pin_dir], state.path()));
    assert!(foreign.exists(), "uninstall removed a pin it did not make");
    assert!(!pins.0.join("xdp_blocklist").exists(), "uninstall left its own pins");
    let link = String::from_utf8(sh(&format!("ip link show {}", dummy.0)).stdout).unwrap();
    assert!(!link.contains("xdp"), "XDP is still attached: {link}");
    for id in &ids {
        assert!(
            !sh(&format!("bpftool prog show id {id}")).status.success(),
            "program {id} is still loaded"
        );
    }
    assert_eq!(
        std::fs::read_dir(state.path()).unwrap().count(),
        0,
        "the manifest was left behind"
    );

    let text = ok(&orca(&["uninstall", "--pin-dir", pin_dir], state.path()));
    assert!(text.contains("nothing installed"), "{text}");
}

#[test]
fn install_without_privileges_is_refused_with_a_hint() {
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: that is the case under test.
        let out = orca(&["install", "--pin-dir", "/sys/fs/bpf/orca-never"], Path::new("/tmp"));
        assert_eq!(out.status.code(), Some(2));
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_orca"))
        .args(["install", "--pin-dir", "/sys/fs/bpf/orca-never"])
        .env("ORCA_STATE_DIR", state.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs root") && err.contains("sudo orca install"), "{err}");
    assert!(!Path::new("/sys/fs/bpf/orca-never").exists());
}
