//! The acceptance for `orca install`: inside a guest booted on kernel 6.12 by `orca run`,
//! `orca install --iface` loads and pins the firewall's programs and attaches them to a veth,
//! `orca status --json` lists them as loaded, and `orca uninstall` removes every pin and detaches.
//!
//! The guest sees the host's root, so it runs this very orca binary on objects compiled here.
//! With `CI=true` nothing here is skipped; otherwise a missing QEMU (or an orca without `orca
//! run`) skips with a message.

mod install_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use install_support::compile_objects;

/// One guest at a time: two would share 2 cores and stretch every deadline.
static ONE_VM_AT_A_TIME: Mutex<()> = Mutex::new(());

fn skip_or_fail(why: &str) {
    orca::ci::skip_or_fail(format!("install_vm: {why}"));
}

/// The text between two marker lines.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in:\n{text}")) + start.len();
    let to = text[from..].find(end).unwrap_or_else(|| panic!("no {end} in:\n{text}")) + from;
    &text[from..to]
}

#[test]
fn install_status_uninstall_in_a_guest_on_6_12() {
    let qemu = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()));
    if !qemu {
        return skip_or_fail("qemu-system-x86_64 is not installed (run .ci/setup)");
    }
    let _one = ONE_VM_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let objects = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("install-vm-{}", std::process::id()));
    compile_objects(&objects);
    let orca = env!("CARGO_BIN_EXE_orca");
    let objs = objects.display();
    let script = format!(
        "set -e
uname -r
ip link add orcav0 type veth peer name orcav1
ip link set orcav0 up
ip link set orcav1 up
{orca} install --objects {objs} --iface orcav0
echo ==STATUS==
{orca} status --json
echo ==END==
ip link show orcav0
echo ==UNINSTALL==
{orca} uninstall
test ! -e /sys/fs/bpf/orca && echo PINS-GONE
ip link show orcav0
echo ==DONE=="
    );
    let out = Command::new(orca)
        .args([
            "run",
            "configs/ebpf-test.hcl",
            "--kernel",
            "6.12",
            "--timeout",
            "10m",
            "-c",
            &script,
        ])
        .current_dir(&root)
        .env("CI", "true")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&objects);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("is not available in this build of orca yet") {
        return skip_or_fail("this build of orca has no `orca run` yet");
    }
    assert!(
        out.status.success(),
        "orca run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.lines().next().is_some_and(|l| l.starts_with("6.12")),
        "not kernel 6.12:\n{stdout}"
    );

    let status: serde_json::Value = serde_json::from_str(between(&stdout, "==STATUS==", "==END==")).unwrap();
    let programs = status["installed"]["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 3, "{status:#}");
    assert!(
        programs
            .iter()
            .all(|p| p["loaded"] == true && p["id"].as_u64().is_some()),
        "{status:#}"
    );
    assert_eq!(status["installed"]["links"].as_array().unwrap().len(), 2, "{status:#}");
    let attached = between(&stdout, "==END==", "==UNINSTALL==");
    assert!(attached.contains("xdp"), "XDP not attached in the guest:\n{attached}");

    let after = between(&stdout, "==UNINSTALL==", "==DONE==");
    assert!(after.contains("PINS-GONE"), "pins left after uninstall:\n{after}");
    assert!(!after.contains("xdp"), "XDP still attached after uninstall:\n{after}");
}

#[test]
fn status_lists_a_running_vm_and_only_it_when_named() {
    let qemu = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()));
    if !qemu {
        return skip_or_fail("qemu-system-x86_64 is not installed (run .ci/setup)");
    }
    let _one = ONE_VM_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A private runtime folder, so that this VM's name cannot clash with one the user runs.
    let runtime = tempfile::tempdir().unwrap();
    let orca_rt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(args)
            .current_dir(&root)
            .env("CI", "true")
            .env("XDG_RUNTIME_DIR", runtime.path())
            .output()
            .unwrap()
    };
    let started = orca_rt(&["start", "configs/ebpf-test.hcl", "--kernel", "6.12", "--ttl", "5m"]);
    let err = String::from_utf8_lossy(&started.stderr);
    if err.contains("is not available in this build of orca yet") {
        return skip_or_fail("this build of orca has no `orca start` yet");
    }
    assert!(started.status.success(), "orca start failed:\n{err}");
    let all = orca_rt(&["status", "--json"]);
    let named = orca_rt(&["status", "ebpf-test", "--json"]);
    let other = orca_rt(&["status", "no-such-vm"]);
    let text = orca_rt(&["status"]);
    let stopped = orca_rt(&["stop", "ebpf-test"]);
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));

    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let vms = all["vms"]["running"].as_array().unwrap();
    assert_eq!(vms.len(), 1, "{all:#}");
    assert_eq!(vms[0]["name"], "ebpf-test");
    assert_eq!(vms[0]["kernel"], "6.12");
    assert!(
        all["caches"]["areas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "kernels"),
        "{all:#}"
    );
    let named: serde_json::Value = serde_json::from_slice(&named.stdout).unwrap();
    assert_eq!(named["running"][0]["status"], "running", "{named:#}");
    assert!(String::from_utf8_lossy(&other.stdout).contains("no VM named no-such-vm is running"));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("ebpf-test") && l.contains("6.12")),
        "{text}"
    );
    let after: serde_json::Value = serde_json::from_slice(&orca_rt(&["status", "--json"]).stdout).unwrap();
    assert_eq!(after["vms"]["running"].as_array().unwrap().len(), 0, "{after:#}");
}

/// Before 6.6 there is no TCX: install attaches the TC program over netlink on a clsact qdisc it
/// adds, and uninstall must detach it and remove that qdisc, leaving the interface as it was.
#[test]
fn on_6_1_tc_attaches_over_netlink_and_uninstall_leaves_the_interface_as_it_was() {
    let qemu = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()));
    if !qemu {
        return skip_or_fail("qemu-system-x86_64 is not installed (run .ci/setup)");
    }
    let _one = ONE_VM_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let objects = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("install-vm61-{}", std::process::id()));
    compile_objects(&objects);
    let orca = env!("CARGO_BIN_EXE_orca");
    let objs = objects.display();
    let script = format!(
        "set -e
ip link add orcav0 type veth peer name orcav1
ip link set orcav0 up
echo ==BEFORE==
tc qdisc show dev orcav0
echo ==INSTALLED==
{orca} install --objects {objs} --iface orcav0
tc filter show dev orcav0 egress
echo ==UNINSTALLED==
{orca} uninstall
tc qdisc show dev orcav0
tc filter show dev orcav0 egress
echo ==DONE=="
    );
    let out = Command::new(orca)
        .args([
            "run",
            "configs/ebpf-test.hcl",
            "--kernel",
            "6.1",
            "--timeout",
            "10m",
            "-c",
            &script,
        ])
        .current_dir(&root)
        .env("CI", "true")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&objects);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("is not available in this build of orca yet") {
        return skip_or_fail("this build of orca has no `orca run` yet");
    }
    assert!(
        out.status.success(),
        "orca run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let before = between(&stdout, "==BEFORE==", "==INSTALLED==");
    let installed = between(&stdout, "==INSTALLED==", "==UNINSTALLED==");
    let after = between(&stdout, "==UNINSTALLED==", "==DONE==");
    assert!(
        installed.contains("egress_policy") && installed.contains("direct-action"),
        "{installed}"
    );
    assert_eq!(before.trim(), after.trim(), "uninstall left the interface changed");
    assert!(!after.contains("clsact") && !after.contains("egress_policy"), "{after}");
}
