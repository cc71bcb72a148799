//! virtiofs on real kernels under TCG: Debian's cloud kernel (no 9p at all) boots with the host
//! root shared through virtiofsd, reads the project tree, writes a declared share, and leaves no
//! virtiofsd or QEMU behind; `ORCA_SHARE=virtiofs` forces it on the generic kernel; a missing or
//! dying virtiofsd is one clear error (exit 3), never a hang.

mod vm_support;

use std::collections::BTreeSet;

use vm_support::{ROOT, Vm, processes_mentioning, project, releases, stderr, stdout};

/// The catalog's cloud kernel: Debian 12's `-cloud-amd64` flavour, which has no 9p.
const CLOUD: &str = "6.1.176";

/// Live virtiofsd processes. Their command lines do not name the runtime directory (the socket
/// is passed as a descriptor), so leftovers are found by comparing with those before the run.
fn virtiofsds() -> BTreeSet<String> {
    processes_mentioning("virtiofsd")
        .into_iter()
        .filter(|p| p.contains("source="))
        .collect()
}

fn assert_no_new_virtiofsd(before: &BTreeSet<String>) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut left: Vec<String>;
    loop {
        left = virtiofsds().difference(before).cloned().collect();
        if left.is_empty() || std::time::Instant::now() > until {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(left.is_empty(), "virtiofsd left running: {left:?}");
}

#[test]
fn the_cloud_kernel_boots_over_virtiofs() {
    let Some(vm) = Vm::new() else { return };
    let release = releases()
        .into_iter()
        .find(|(v, _)| v == CLOUD)
        .map(|(_, r)| r)
        .expect("the catalog pins the cloud kernel");
    assert!(release.ends_with("-cloud-amd64"), "{release}");
    let before = virtiofsds();
    let out = vm
        .orca()
        .env("ORCA_VM_TRACE", "1")
        .args(["run", "--kernel", CLOUD, "--", "uname", "-r"])
        .output()
        .unwrap();
    eprintln!("{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{release}\n"));
    assert!(stderr(&out).contains("virtiofsd started"), "{}", stderr(&out));
    vm.assert_clean();
    assert_no_new_virtiofsd(&before);
}

const SPEC: &str = r#"
schema_version = "1.0"
vm {
  name = "t-virtiofs"
  mounts = [
    { source = "../rw", destination = "/mnt/rw", readonly = false },
    { source = "../ro", destination = "/mnt/ro" },
    { type = "tmpfs", destination = "/scratch", size = "16MB" },
  ]
}
"#;

#[test]
fn the_cloud_kernel_reads_the_project_and_writes_its_shares() {
    let Some(vm) = Vm::new() else { return };
    let p = project(&[("configs/t.hcl", SPEC), ("ro/input.txt", "from-host\n")]);
    std::fs::create_dir_all(p.path().join("rw")).unwrap();
    let cargo_toml = format!("{ROOT}/Cargo.toml");
    let want = std::fs::read(&cargo_toml).unwrap();
    let script = format!(
        "set -e
        sha256sum {cargo_toml} | cut -d' ' -f1
        cat /mnt/ro/input.txt
        echo from-guest > /mnt/rw/written
        echo scratch > /scratch/x && cat /scratch/x
        if touch /mnt/ro/nope 2>/dev/null; then echo ro-share-is-writable; exit 9; fi
        # Mounting a read-only share's tag again and remounting it read-write still cannot write
        # the host: the host root (orca.root) and the ro share (orca.share1) are read-only in
        # virtiofsd's own view.
        mkdir -p /run/root /run/ro
        mount -t virtiofs orca.root /run/root && mount -t virtiofs orca.share1 /run/ro
        mount -o remount,rw /run/root && mount -o remount,rw /run/ro
        if touch /run/root{dir}/root-write 2>/dev/null; then echo host-root-is-writable; exit 10; fi
        if touch /run/ro/nope 2>/dev/null; then echo ro-share-is-writable-through-virtiofsd; exit 11; fi
        exit 7",
        dir = p.path().display()
    );
    let before = virtiofsds();
    let out = vm
        .orca()
        .current_dir(p.path())
        .args(["run", "configs/t.hcl", "--kernel", CLOUD, "--command", &script])
        .output()
        .unwrap();
    eprintln!("{}", stderr(&out));
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&want))
    };
    assert_eq!(stdout(&out), format!("{sha}\nfrom-host\nscratch\n"));
    assert_eq!(
        std::fs::read_to_string(p.path().join("rw/written")).unwrap(),
        "from-guest\n"
    );
    assert!(!p.path().join("ro/nope").exists());
    assert!(!p.path().join("root-write").exists());
    vm.assert_clean();
    assert_no_new_virtiofsd(&before);
}

#[test]
fn orca_share_forces_virtiofs_on_a_kernel_with_9p() {
    let Some(vm) = Vm::new() else { return };
    let before = virtiofsds();
    let out = vm
        .orca()
        .env("ORCA_SHARE", "virtiofs")
        .env("ORCA_VM_TRACE", "1")
        .args([
            "run",
            "--kernel",
            "6.1",
            "--",
            "sh",
            "-c",
            // Under TCG a virtiofs guest keeps the kernel's zeroing of new pages: virtiofsd fills
            // pages behind TCG's back, and that zeroing is what drops stale translated code.
            "grep -qw init_on_alloc=0 /proc/cmdline && exit 5; test -f Cargo.toml && exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("virtiofsd started"), "{}", stderr(&out));
    vm.assert_clean();
    assert_no_new_virtiofsd(&before);

    let out = vm
        .orca()
        .env("ORCA_SHARE", "nfs")
        .args(["run", "--kernel", "6.1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("ORCA_SHARE=nfs"), "{}", stderr(&out));
}

#[test]
fn a_missing_or_dying_virtiofsd_is_exit_3_not_a_hang() {
    let Some(vm) = Vm::new() else { return };
    let out = vm
        .orca()
        .env("ORCA_VIRTIOFSD", "/nonexistent/virtiofsd")
        .args(["run", "--kernel", CLOUD, "--", "true"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("has no 9p, only virtiofs"), "{err}");
    assert!(err.contains("qemu-system-common"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    vm.assert_clean();

    // A virtiofsd that exits at once: the boot says so (exit 3, virtiofsd named) instead of
    // waiting out its boot deadline on a mount that never answers (exit 124).
    let out = vm
        .orca()
        .env("ORCA_VIRTIOFSD", "/bin/false")
        .args(["run", "--kernel", CLOUD, "--", "true"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("virtiofsd sharing / exited"), "{err}");
    assert!(!err.contains("did not finish booting"), "{err}");
    vm.assert_clean();
}

#[test]
fn the_cloud_kernel_boots_over_virtiofs_on_q35_too() {
    let Some(vm) = Vm::new() else { return };
    let before = virtiofsds();
    let out = vm
        .orca()
        .env("ORCA_MACHINE", "q35")
        .env("ORCA_VM_TRACE", "1")
        .args([
            "run",
            "--kernel",
            CLOUD,
            "--",
            "sh",
            "-c",
            "test -f Cargo.toml && exit 5",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.contains("vhost-user-fs-pci"),
        "the QEMU command in the trace: {err}"
    );
    vm.assert_clean();
    assert_no_new_virtiofsd(&before);
}
