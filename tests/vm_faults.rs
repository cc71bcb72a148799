//! Every way a VM run can go wrong ends with its own message and exit code, within bounded
//! time, and leaves no process, socket or temporary file behind.

mod vm_support;

use std::time::{Duration, Instant};

use vm_support::{Vm, project, stderr};

#[test]
fn guest_kernel_panic_is_exit_6() {
    let Some(vm) = Vm::new() else { return };
    let out = vm.run(&[
        "run",
        "--kernel",
        "6.1",
        "--",
        "sh",
        "-c",
        "echo c > /proc/sysrq-trigger; sleep 60",
    ]);
    assert_eq!(out.status.code(), Some(6));
    let err = stderr(&out);
    assert!(err.contains("panicked") && err.contains("sysrq"), "{err}");
    assert!(
        !err.contains("booting once more"),
        "a panic after the command started is its result, not retried: {err}"
    );
    vm.assert_clean();
}

#[test]
fn a_command_past_its_deadline_is_exit_124() {
    let Some(vm) = Vm::new() else { return };
    // 2s under KVM is 12s under TCG. Exit 124 with orca's own deadline named is the proof that
    // orca cut the command short (no wall-clock bound here: the machine's load decides those).
    let out = vm.run(&["run", "--kernel", "6.1", "--timeout", "2s", "--", "sleep", "600"]);
    assert_eq!(out.status.code(), Some(124));
    assert!(stderr(&out).contains("did not finish within 12.0s"), "{}", stderr(&out));
    vm.assert_clean();
}

#[test]
fn a_guest_that_hangs_while_booting_is_exit_124() {
    let Some(vm) = Vm::new() else { return };
    // An init that never hands over to the agent; boot deadline 1s × 6 under TCG. The exit code
    // and orca's message name the deadline that fired; no wall-clock bound on the test itself.
    let out = vm
        .orca()
        .env("ORCA_BOOT_TIMEOUT", "1")
        .env("ORCA_VM_CMDLINE", "rdinit=/bin/busybox -- sleep 600")
        .args(["run", "--kernel", "6.1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not finish booting within 6.0s"),
        "{}",
        stderr(&out)
    );
    // A hang before the agent is ready is retried once, on a fresh VM, which hangs the same way.
    assert_eq!(stderr(&out).matches("booting once more").count(), 1, "{}", stderr(&out));
    vm.assert_clean();
}

#[test]
fn qemu_killed_from_outside_is_exit_3() {
    let Some(vm) = Vm::new() else { return };
    let (child, qemu) = start_sleeper(&vm);
    // SAFETY: kill(2) on the QEMU this test started.
    unsafe { libc::kill(qemu, libc::SIGKILL) };
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("QEMU exited unexpectedly (killed by signal 9)"), "{err}");
    vm.assert_clean();
}

#[test]
fn ctrl_c_is_exit_130_and_stops_the_guest() {
    let Some(vm) = Vm::new() else { return };
    let (child, _) = start_sleeper(&vm);
    // SAFETY: SIGINT to the orca this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    vm.assert_clean();
}

/// `orca run` of a command that says `started` and sleeps; returns once it said so, with the
/// pid of its QEMU.
fn start_sleeper(vm: &Vm) -> (std::process::Child, i32) {
    use std::io::BufRead;
    let mut child = vm
        .orca()
        .args(["run", "--kernel", "6.1", "--", "sh", "-c", "echo started; sleep 600"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n");
    let pid = child.id();
    let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let qemu = kids
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.starts_with("qemu-system")))
        .expect("orca's QEMU child");
    (child, qemu)
}

/// Whether KVM can run a real guest here, found out without orca: QEMU boots the catalog's 6.1
/// kernel with `-accel kvm` and no root disk, so the kernel panics at mount time and, with
/// `panic=-1` and `-no-reboot`, QEMU exits 0 having printed the panic. A host whose /dev/kvm opens
/// but cannot run a guest stops with "KVM internal error", fails, or never gets there (killed at a
/// deadline this test sets for itself, generous because the machine is shared).
fn kvm_runs_a_guest() -> bool {
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
        return false;
    }
    let plan = orca::plan::load_project(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let kernel = orca::kernel::prepare(plan.kernel("6.1").expect("kernel 6.1 in the catalog")).unwrap();
    let mut child = std::process::Command::new("qemu-system-x86_64")
        .args(["-accel", "kvm", "-machine", "q35", "-cpu", "host", "-m", "256", "-nographic", "-no-reboot"])
        .args(["-nodefaults", "-serial", "stdio", "-kernel"])
        .arg(&kernel.vmlinuz)
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64");
    let give_up = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    let serial = String::from_utf8_lossy(&out.stdout);
    status.is_some_and(|s| s.success()) && serial.contains("Kernel panic")
}

#[test]
fn kvm_verdict_matches_an_independent_probe() {
    let Some(vm) = Vm::new() else { return };
    let kvm = kvm_runs_a_guest();
    let out = vm
        .orca()
        .env_remove("ORCA_ACCEL")
        .args(["run", "--kernel", "6.1", "--accel", "kvm", "--", "true"])
        .output()
        .unwrap();
    let err = stderr(&out);
    if kvm {
        assert_eq!(out.status.code(), Some(0), "QEMU runs a KVM guest here, but orca refused KVM:\n{err}");
    } else {
        assert_eq!(out.status.code(), Some(3), "QEMU cannot run a KVM guest here, but orca said:\n{err}");
        assert!(err.contains("KVM is not usable here"), "{err}");
        let auto = vm
            .orca()
            .env_remove("ORCA_ACCEL")
            .args(["run", "--kernel", "6.1", "--", "true"])
            .output()
            .unwrap();
        assert_eq!(auto.status.code(), Some(0), "{}", stderr(&auto));
        assert!(stderr(&auto).contains("using TCG"), "{}", stderr(&auto));
    }
    vm.assert_clean();
}

#[test]
fn unknown_kernels_and_missing_modules_fail_before_booting() {
    let Some(vm) = Vm::new() else { return };
    let out = vm.run(&["run", "--kernel", "9.99", "--", "true"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("kernel 9.99 is not in the catalog"),
        "{}",
        stderr(&out)
    );

    let spec = "schema_version = \"1.0\"\nvm {\n  name = \"t-mod\"\n  modules = [\"no_such_module_xyz\"]\n}\n";
    let p = project(&[("configs/t.hcl", spec)]);
    // Checked before booting: QEMU never started, so it never opened the console file.
    let console = p.path().join("console.log");
    let out = vm
        .orca()
        .current_dir(p.path())
        .env("ORCA_VM_CONSOLE", &console)
        .args(["run", "configs/t.hcl", "--kernel", "6.1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_such_module_xyz"), "{}", stderr(&out));
    assert!(!console.exists(), "checked before booting, yet QEMU started");

    // A catalog entry whose bytes do not match their pin.
    let bad = "schema_version = \"1.0\"\nkernel \"9.1\" {\n  file {\n    path = \"bogus.deb\"\n    sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n  }\n}\n";
    let p = project(&[("configs/kernels.hcl", bad), ("bogus.deb", "not a kernel")]);
    // Its own cache: nothing of the bogus kernel may land in the user's.
    let cache = tempfile::tempdir().unwrap();
    let out = vm
        .orca()
        .current_dir(p.path())
        .env("ORCA_CACHE_DIR", cache.path())
        .args(["run", "--kernel", "9.1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    vm.assert_clean();
}

#[test]
fn a_kernel_without_9p_is_exit_5_before_booting() {
    let Some(vm) = Vm::new() else { return };
    // A synthetic kernel package: a config with everything orca needs except CONFIG_9P_FS.
    let t = tempfile::tempdir().unwrap();
    let pkg = t.path().join("pkg");
    let release = "9.9.9-orca-test";
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("boot")).unwrap();
    std::fs::create_dir_all(pkg.join(format!("lib/modules/{release}/kernel"))).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: linux-image-orca-test\nVersion: 1\nArchitecture: amd64\nMaintainer: orca\nDescription: test\n",
    )
    .unwrap();
    std::fs::write(pkg.join(format!("boot/vmlinuz-{release}")), b"not really a kernel").unwrap();
    let config: String = [
        "BLK_DEV_INITRD",
        "DEVTMPFS",
        "BINFMT_ELF",
        "BINFMT_SCRIPT",
        "TMPFS",
        "SERIAL_8250",
        "SERIAL_8250_CONSOLE",
        "PCI",
        "ACPI",
        "VIRTIO",
        "VIRTIO_PCI",
        "VIRTIO_MMIO",
        "VIRTIO_CONSOLE",
        "NET_9P",
        "NET_9P_VIRTIO",
        "OVERLAY_FS",
    ]
    .iter()
    .map(|o| format!("CONFIG_{o}=y\n"))
    .collect::<String>()
        + "# CONFIG_9P_FS is not set\n";
    std::fs::write(pkg.join(format!("boot/config-{release}")), config).unwrap();
    std::fs::write(pkg.join(format!("lib/modules/{release}/modules.builtin")), "").unwrap();
    let deb = t.path().join("k.deb");
    let st = std::process::Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&pkg)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(st.status.success(), "dpkg-deb: {}", String::from_utf8_lossy(&st.stderr));
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&deb).unwrap()))
    };
    let catalog = format!(
        "schema_version = \"1.0\"\nkernel \"9.9\" {{\n  release = \"{release}\"\n  file {{\n    path = \"{}\"\n    sha256 = \"{sha}\"\n  }}\n}}\n",
        deb.display()
    );
    let p = project(&[("configs/kernels.hcl", &catalog)]);
    // Refused before booting: QEMU never started, so it never opened the console file.
    let console = p.path().join("console.log");
    // Its own cache: the synthetic kernel must not land in the user's.
    let out = vm
        .orca()
        .current_dir(p.path())
        .env("ORCA_CACHE_DIR", t.path().join("cache"))
        .env("ORCA_VM_CONSOLE", &console)
        .args(["run", "--kernel", "9.9", "--", "true"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("CONFIG_9P_FS is not set"), "{err}");
    assert!(!console.exists(), "refused before booting, yet QEMU started");
    vm.assert_clean();
}
