//! The catalog's real Debian kernels: fetched through the host's mirror (cached by hash), each
//! must give a bootable image, its config, and the boot modules with their dependency closure in
//! a valid load order. kmod's `modinfo` is the independent oracle for the dependencies.
//! Without CI, a kernel that cannot be fetched here skips its test with the reason; with
//! `CI=true` it fails.

mod kernel_support;

use std::collections::BTreeSet;
use std::process::Command;

use kernel_support::*;
use orca::error::{Exit, exit_of};
use orca::kernel::{self, Prepared};

/// `depends=` of a module file according to kmod's own `modinfo`.
fn kmod_depends(path: &std::path::Path) -> Vec<String> {
    let out = Command::new("modinfo")
        .args(["-F", "depends"])
        .arg(path)
        .output()
        .or_else(|_| Command::new("/sbin/modinfo").args(["-F", "depends"]).arg(path).output());
    let out = out.expect("kmod's modinfo is installed");
    assert!(
        out.status.success(),
        "modinfo {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}

/// Checks one prepared kernel and returns the names of its boot closure.
fn check(p: &Prepared, wanted_9p_deps: &[&str]) -> Vec<String> {
    // The image is a bzImage that names the catalog's release.
    let image = std::fs::read(&p.vmlinuz).unwrap();
    assert_eq!(
        orca::kernel::unpack::image_release(&image).as_deref(),
        Some(p.release.as_str()),
        "{}",
        p.vmlinuz.display()
    );
    assert_eq!(p.modules_dir.file_name().unwrap().to_str(), Some(p.release.as_str()));
    assert!(p.modules_dir.join("modules.builtin").is_file() && p.modules_dir.join("modules.order").is_file());
    assert!(
        p.config.is_known() && p.config.len() > 1000,
        "config has {} options",
        p.config.len()
    );
    kernel::check_config(p, &kernel::boot_needs()).unwrap();
    let bpf: Vec<&str> = kernel::BPF_NEEDS.iter().map(|n| n.option).collect();
    kernel::check_config(p, &bpf).unwrap();

    let mut wanted = kernel::boot_modules(p.config.share_fs().unwrap());
    wanted.push("veth");
    let mods = kernel::module_closure(p, &wanted).unwrap();
    let names: Vec<String> = mods.iter().map(|m| m.name.clone()).collect();
    let mut seen = BTreeSet::new();
    for m in &mods {
        let bytes = std::fs::read(&m.path).unwrap();
        assert_eq!(
            &bytes[..4],
            b"\x7fELF",
            "{} at {} is not a plain ELF",
            m.name,
            m.path.display()
        );
        for dep in kmod_depends(&m.path) {
            assert!(
                p.builtin.contains(&dep) || seen.contains(&dep),
                "kernel {}: {} is loaded before its dependency {dep}: {names:?}",
                p.version,
                m.name
            );
        }
        assert!(seen.insert(m.name.clone()), "{} twice in {names:?}", m.name);
    }
    // Every wanted module is either loaded or built in.
    for w in &wanted {
        assert!(
            seen.contains(*w) || p.builtin.contains(*w),
            "kernel {}: {w} neither loaded nor built in",
            p.version
        );
    }
    for d in wanted_9p_deps {
        assert!(
            seen.contains(*d),
            "kernel {}: 9p should pull in {d}: {names:?}",
            p.version
        );
    }
    // A typo is refused with a suggestion, not silently skipped.
    let e = kernel::module_closure(p, &["vethh"]).unwrap_err();
    assert_eq!(exit_of(&e), Exit::KernelConfig);
    names
}

#[test]
fn kernel_5_10_bullseye() {
    let Some(p) = prepare_real("5.10") else { return };
    assert_eq!(p.release, "5.10.0-32-amd64");
    let names = check(
        &p,
        &[
            "9pnet",
            "fscache",
            "9pnet_virtio",
            "9p",
            "overlay",
            "virtio_pci",
            "veth",
        ],
    );
    eprintln!("5.10 boot closure: {names:?}");
}

#[test]
fn kernel_6_1_bookworm() {
    let Some(p) = prepare_real("6.1") else { return };
    assert_eq!(p.release, "6.1.0-50-amd64");
    let names = check(&p, &["9pnet", "netfs", "fscache", "9p", "virtio_pci", "virtio_console"]);
    eprintln!("6.1 boot closure: {names:?}");
}

#[test]
fn kernel_6_12_trixie_with_xz_modules() {
    let Some(p) = prepare_real("6.12") else { return };
    assert_eq!(p.release, "6.12.117+deb13-amd64");
    assert!(
        p.modules_dir.join("kernel/fs/9p/9p.ko.xz").is_file(),
        "trixie ships .ko.xz"
    );
    let names = check(&p, &["9pnet", "netfs", "9p"]);
    eprintln!("6.12 boot closure: {names:?}");
}

#[test]
fn kernel_7_2_sid_split_over_three_packages() {
    let Some(p) = prepare_real("7.2") else { return };
    assert_eq!(p.release, "7.2.13+deb14-amd64");
    assert_eq!(p.parts.len(), 3);
    assert!(p.config.file.is_some(), "sid keeps the config in linux-base");
    let names = check(&p, &["9pnet", "netfs", "9p"]);
    eprintln!("7.2 boot closure: {names:?}");
}

#[test]
fn kernel_6_1_cloud_has_virtiofs_in_place_of_9p() {
    let Some(p) = prepare_real("6.1.176") else { return };
    assert_eq!(p.release, "6.1.0-50-cloud-amd64");
    assert!(!p.modules.contains_key("9p"), "Debian's cloud kernel has no 9p");
    let wanted = kernel::boot_modules(p.config.share_fs().unwrap());
    assert!(wanted.contains(&"virtiofs"), "{wanted:?}");
    assert!(
        !wanted.contains(&"9p") && !wanted.contains(&"9pnet_virtio"),
        "{wanted:?}"
    );
    let names = check(&p, &["fuse", "virtiofs", "overlay"]);
    eprintln!("6.1 cloud boot closure: {names:?}");
}
