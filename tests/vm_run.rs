//! `orca run` on real kernels under TCG: every catalog kernel boots, exit codes and streams come
//! back exactly, a spec's shares, tmpfs, modules, provision and artifacts work.

mod vm_support;

use vm_support::{Vm, project, releases, stderr, stdout};

#[test]
fn every_catalog_kernel_boots_and_runs_uname() {
    let Some(vm) = Vm::new() else { return };
    let rel = releases();
    assert!(
        rel.len() >= 4,
        "the catalog should pin 5.10, 6.1, 6.12 and 7.2: {rel:?}"
    );
    for (version, release) in rel {
        let out = vm.run(&["run", "--kernel", &version, "--", "uname", "-r"]);
        assert_eq!(out.status.code(), Some(0), "kernel {version}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{release}\n"), "kernel {version}");
        vm.assert_clean();
    }
}

#[test]
fn exit_code_env_cwd_and_separate_ordered_streams() {
    let Some(vm) = Vm::new() else { return };
    let script = "echo $FOO; pwd; echo e1 >&2; echo o3; echo e2 >&2; echo o4; exit 7";
    let out = vm.run(&[
        "run",
        "--kernel",
        "6.1",
        "--cwd",
        "/usr/share",
        "-e",
        "FOO=o1",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "o1\n/usr/share\no3\no4\n");
    let err = stderr(&out);
    let guest_err: Vec<&str> = err.lines().filter(|l| !l.starts_with("orca:")).collect();
    assert_eq!(guest_err, ["e1", "e2"], "stderr: {err}");
    vm.assert_clean();

    // A shell string, and a program that does not exist (127 as a shell says, with a message).
    let out = vm.run(&[
        "run",
        "--kernel",
        "6.1",
        "--command",
        "test -d /sys/fs/bpf && kill -9 $$",
    ]);
    assert_eq!(out.status.code(), Some(137), "killed by SIGKILL → 128+9");
    let out = vm.run(&["run", "--kernel", "6.1", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(stderr(&out).contains("/no/such/program"), "{}", stderr(&out));
    vm.assert_clean();
}

const SPEC: &str = r#"
schema_version = "1.0"
vm {
  name = "t-spec"
  resources {
    cpu = 1
    memory = "512MB"
  }
  mounts = [
    { source = "../rw", destination = "/mnt/rw", readonly = false },
    { source = "../ro", destination = "/mnt/ro" },
    { type = "tmpfs", destination = "/scratch", size = "64MB" },
  ]
  modules = ["veth"]
  provision = ["echo provisioned > /scratch/mark"]
  artifacts = [
    { source = "/scratch/out", destination = "../build/out" },
    { source = "/mnt/ro/input.bin", destination = "../build/input-copy.bin" },
  ]
}
"#;

#[test]
fn spec_shares_tmpfs_modules_provision_and_artifacts() {
    let Some(vm) = Vm::new() else { return };
    let p = project(&[("configs/t.hcl", SPEC), ("ro/input.bin", "")]);
    let input: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(p.path().join("ro/input.bin"), &input).unwrap();
    std::fs::create_dir_all(p.path().join("rw")).unwrap();
    let script = "set -e
        cat /scratch/mark
        grep -q ' /scratch tmpfs ' /proc/mounts
        echo from-guest > /mnt/rw/written
        if touch /mnt/ro/nope 2>/dev/null; then echo ro-share-is-writable; exit 9; fi
        ip link add orcat0 type veth peer name orcat1
        mkdir -p /scratch/out/sub && cp /mnt/ro/input.bin /scratch/out/sub/a.bin && ln -s sub/a.bin /scratch/out/link
        echo done";
    let out = vm
        .orca()
        .current_dir(p.path())
        .args(["run", "configs/t.hcl", "--kernel", "6.1", "--command", script])
        .output()
        .unwrap();
    eprintln!("{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "provisioned\ndone\n");
    assert_eq!(
        std::fs::read_to_string(p.path().join("rw/written")).unwrap(),
        "from-guest\n"
    );
    assert_eq!(
        std::fs::read(p.path().join("build/out/sub/a.bin")).unwrap(),
        input,
        "artifact tree, byte for byte"
    );
    assert_eq!(
        std::fs::read_link(p.path().join("build/out/link")).unwrap(),
        std::path::Path::new("sub/a.bin")
    );
    assert_eq!(std::fs::read(p.path().join("build/input-copy.bin")).unwrap(), input);
    assert!(!p.path().join("ro/nope").exists());
    vm.assert_clean();
}
