//! Long-lived VMs: `orca start`, `exec`, `cp` (with its path rules), `stop`, and the TTL.

mod vm_support;

use std::path::Path;
use std::time::{Duration, Instant};

use vm_support::{Vm, project, stderr, stdout};

const SPEC: &str = r#"
schema_version = "1.0"
vm {
  name = "t-daemon"
  resources {
    cpu = 1
    memory = "512MB"
  }
}
"#;

#[test]
fn start_exec_cp_stop() {
    let Some(vm) = Vm::new() else { return };
    let p = project(&[("configs/d.hcl", SPEC)]);
    let cwd = p.path();
    let orca = |args: &[&str]| {
        let out = vm.orca().current_dir(cwd).args(args).output().unwrap();
        eprintln!(
            "orca {args:?} → {:?}\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        out
    };
    let out = orca(&["start", "configs/d.hcl", "--kernel", "6.1", "--ttl", "10m"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("VM t-daemon is running"), "{}", stderr(&out));

    // The name is taken while it runs.
    let again = orca(&["start", "configs/d.hcl", "--kernel", "6.1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already running"), "{}", stderr(&again));

    // exec: the command's own code, streams apart, the host cwd.
    let out = orca(&["exec", "t-daemon", "--", "sh", "-c", "pwd; echo oops >&2; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), format!("{}\n", cwd.display()));
    assert_eq!(stderr(&out), "oops\n");

    // A long-lived VM sees changes made on the host after it started.
    std::fs::write(cwd.join("edited.txt"), "v1").unwrap();
    assert_eq!(stdout(&orca(&["exec", "t-daemon", "--", "cat", "edited.txt"])), "v1");
    std::fs::write(cwd.join("edited.txt"), "v2").unwrap();
    assert_eq!(stdout(&orca(&["exec", "t-daemon", "--", "cat", "edited.txt"])), "v2");

    // stdin: piped into the command with --stdin, empty without it.
    let piped = |args: &[&str], input: &[u8]| {
        use std::io::Write;
        let mut child = vm
            .orca()
            .current_dir(cwd)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        eprintln!(
            "orca {args:?} → {:?}\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        out
    };
    let input: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = piped(
        &[
            "exec",
            "--stdin",
            "t-daemon",
            "--",
            "sh",
            "-c",
            "wc -c; sha256sum | cut -c1-64",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().next(), Some("100000"));
    let out = piped(&["exec", "t-daemon", "--", "wc", "-c"], b"ignored");
    assert_eq!(stdout(&out), "0\n");
    // The shell on a pty, driven through a pipe (no terminal to put in raw mode).
    let out = piped(&["shell", "t-daemon"], b"echo shell-$((6*7))\nexit 3\n");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("shell-42"), "{}", stdout(&out));

    // cp in, into an existing guest folder and to a new name, then back out; trees and symlinks.
    std::fs::create_dir_all(cwd.join("tree/sub")).unwrap();
    std::fs::write(cwd.join("tree/sub/f"), b"payload").unwrap();
    std::os::unix::fs::symlink("sub/f", cwd.join("tree/link")).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(cwd.join("big.bin"), &big).unwrap();
    assert_eq!(orca(&["cp", "big.bin", "t-daemon:/root"]).status.code(), Some(0));
    assert_eq!(orca(&["cp", "tree", "t-daemon:/opt/copied"]).status.code(), Some(0));
    let out = orca(&[
        "exec",
        "t-daemon",
        "--",
        "sh",
        "-c",
        "sha256sum /root/big.bin | cut -c1-64; cat /opt/copied/link",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let want = sha256(&big);
    assert_eq!(stdout(&out), format!("{want}\npayload"));
    assert_eq!(orca(&["cp", "t-daemon:/opt/copied", "back"]).status.code(), Some(0));
    assert_eq!(std::fs::read(cwd.join("back/sub/f")).unwrap(), b"payload");
    assert_eq!(std::fs::read_link(cwd.join("back/link")).unwrap(), Path::new("sub/f"));
    std::fs::create_dir_all(cwd.join("into")).unwrap();
    assert_eq!(orca(&["cp", "t-daemon:/root/big.bin", "into"]).status.code(), Some(0));
    assert_eq!(std::fs::read(cwd.join("into/big.bin")).unwrap(), big);

    // Paths that escape their root are refused (exit 2) and nothing is written.
    std::os::unix::fs::symlink("/etc", cwd.join("etc-link")).unwrap();
    for (src, dest) in [
        ("t-daemon:/root/big.bin", "../escaped.bin"),
        ("t-daemon:/root/big.bin", "etc-link/escaped.bin"),
        ("t-daemon:/root/../etc/passwd", "x"),
        ("t-daemon:root/big.bin", "x"),
        ("../outside", "t-daemon:/tmp/x"),
    ] {
        let out = orca(&["cp", src, dest]);
        assert_eq!(out.status.code(), Some(2), "cp {src} {dest}: {}", stderr(&out));
    }
    assert!(!cwd.parent().unwrap().join("escaped.bin").exists());
    assert!(!Path::new("/etc/escaped.bin").exists());
    // A guest symlink pointing out of the copied tree is refused on the way back.
    assert_eq!(
        orca(&[
            "exec",
            "t-daemon",
            "--",
            "sh",
            "-c",
            "mkdir -p /opt/evil && ln -s /etc/passwd /opt/evil/pw"
        ])
        .status
        .code(),
        Some(0)
    );
    let out = orca(&["cp", "t-daemon:/opt/evil", "evil"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("refused symlink"), "{}", stderr(&out));
    assert!(!cwd.join("evil").exists());

    let out = orca(&["stop", "t-daemon"]);
    assert_eq!(out.status.code(), Some(0));
    let out = orca(&["exec", "t-daemon", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no VM named t-daemon"), "{}", stderr(&out));
    vm.assert_clean();
}

#[test]
fn the_ttl_stops_a_forgotten_vm() {
    let Some(vm) = Vm::new() else { return };
    let p = project(&[("configs/d.hcl", SPEC)]);
    let out = vm
        .orca()
        .current_dir(p.path())
        .args(["start", "configs/d.hcl", "--kernel", "6.1", "--ttl", "1s"])
        .output()
        .unwrap();
    // It may expire before or after announcing itself; either way it must go away by itself.
    assert!(matches!(out.status.code(), Some(0)), "{}", stderr(&out));
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until && !vm_support::files_under(vm.runtime.path()).is_empty() {
        std::thread::sleep(Duration::from_millis(200));
    }
    vm.assert_clean();
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
