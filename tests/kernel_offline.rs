//! The kernel layer on small synthetic kernels (local `.deb` files): unpacking, the module
//! closure from `.modinfo` with xz/zstd/gzip modules, the config check, and every refusal with
//! its exit code. No network; an isolated cache.

mod kernel_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kernel_support::*;
use orca::error::{Exit, exit_of, find_fail};
use orca::kernel::{self, Prepared};
use orca::plan::{Kernel, KernelSource};

/// A cache of our own for this test binary, set before anything reads it.
fn setup() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        // SAFETY: set once, before any test of this binary reads the environment.
        unsafe { std::env::set_var("ORCA_CACHE_DIR", d.path().join("cache")) };
        d
    })
    .path()
}

const RELEASE: &str = "9.9.0-test";

/// A kernel package with the fixture config and a small module tree:
/// 9p → 9pnet, fscache; fscache → netfs; overlay built in; broken → missing. `name` makes its
/// bytes (and so its hash) unique, so tests sharing the cache do not share parts.
fn synthetic_deb(dir: &Path, name: &str) -> PathBuf {
    let m = |p: &str| format!("lib/modules/{RELEASE}/{p}");
    let path = dir.join(name);
    build_deb(
        &path,
        "linux-image-9.9.0-test",
        "9.9.0-1",
        &[
            (&format!("boot/vmlinuz-{RELEASE}"), fake_image(RELEASE, 8192)),
            (&format!("boot/config-{RELEASE}"), CONFIG_WITHOUT_9P.as_bytes().to_vec()),
            (&format!("boot/System.map-{RELEASE}"), b"not extracted".to_vec()),
            ("usr/share/doc/linux-image/changelog.gz", name.as_bytes().to_vec()), // unique per package
            (&m("modules.builtin"), b"kernel/fs/overlayfs/overlay.ko\n".to_vec()),
            (&m("modules.order"), b"kernel/fs/9p/9p.ko\n".to_vec()),
            (
                &m("kernel/fs/9p/9p.ko.xz"),
                xz(&fake_module(&["license=GPL", "depends=9pnet,fscache", "name=9p"])),
            ),
            (
                &m("kernel/net/9p/9pnet.ko.zst"),
                zst(&fake_module(&["depends=", "name=9pnet"])),
            ),
            (&m("kernel/fs/fscache/fscache.ko"), fake_module(&["depends=netfs"])),
            (&m("kernel/fs/netfs/netfs.ko.xz"), xz(&fake_module(&["depends="]))),
            (&m("kernel/arch/x86/crypto/crc32c-intel.ko"), fake_module(&["depends="])),
            (&m("kernel/drivers/net/veth.ko"), fake_module(&["depends="])),
            (&m("kernel/drivers/broken.ko"), fake_module(&["depends=missing"])),
        ],
    );
    path
}

fn prepared(name: &str) -> (Kernel, Prepared, tempfile::TempDir) {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let deb = synthetic_deb(dir.path(), name);
    let k = file_kernel("9.9", &[&deb]);
    let p = kernel::prepare_in(&k, dir.path()).unwrap();
    (k, p, dir)
}

fn hint(e: &anyhow::Error) -> String {
    find_fail(e).and_then(|f| f.hint.clone()).unwrap_or_default()
}

#[test]
fn a_deb_unpacks_into_image_config_and_modules() {
    let (_, p, _dir) = prepared("a.deb");
    assert_eq!(p.release, RELEASE);
    assert_eq!(std::fs::read(&p.vmlinuz).unwrap(), fake_image(RELEASE, 8192));
    assert!(p.config.is_known());
    assert_eq!(p.config.get("CONFIG_HZ"), Some(&kernel::Setting::Value("250".into())));
    assert!(p.modules_dir.ends_with(format!("lib/modules/{RELEASE}")));
    assert!(p.modules_dir.join("modules.builtin").is_file());
    assert!(
        p.modules_dir.join("kernel/fs/9p/9p.ko.xz").is_file(),
        "modules stay as packaged"
    );
    assert_eq!(p.modules.len(), 7);
    assert!(p.builtin.contains("overlay"));
    assert_eq!(p.packages, ["linux-image-9.9.0-test 9.9.0-1"]);
    assert_eq!(p.parts.len(), 1);
    let all: Vec<String> = walk(&p.tree);
    assert!(
        !all.iter().any(|f| f.contains("System.map") || f.contains("changelog")),
        "{all:?}"
    );
}

#[test]
fn the_closure_lists_dependencies_first_skips_builtins_and_decompresses() {
    let (_, p, _dir) = prepared("b.deb");
    let mods = kernel::module_closure(&p, &["9p", "overlay", "crc32c-intel", "9pnet"]).unwrap();
    let names: Vec<&str> = mods.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["9pnet", "netfs", "fscache", "9p", "crc32c_intel"]);
    for m in &mods {
        let bytes = std::fs::read(&m.path).unwrap();
        assert_eq!(
            &bytes[..4],
            b"\x7fELF",
            "{} is not a plain ELF: {}",
            m.name,
            m.path.display()
        );
        assert!(!m.path.to_string_lossy().ends_with(".xz") && !m.path.to_string_lossy().ends_with(".zst"));
    }
    // Packaged plain modules are used in place; compressed ones get a decompressed copy.
    assert!(mods[2].path.starts_with(&p.modules_dir), "{}", mods[2].path.display());
    assert!(
        mods[0].path.starts_with(p.tree.join("plain")),
        "{}",
        mods[0].path.display()
    );
    assert!(kernel::module_closure(&p, &["overlay"]).unwrap().is_empty());
}

#[test]
fn an_unknown_module_is_exit_5_with_a_suggestion() {
    let (_, p, _dir) = prepared("c.deb");
    let e = kernel::module_closure(&p, &["vethh"]).unwrap_err();
    assert_eq!(exit_of(&e), Exit::KernelConfig);
    assert!(e.to_string().contains("has no module `vethh`"), "{e}");
    assert!(hint(&e).contains("did you mean `veth`"), "{}", hint(&e));
    let e = kernel::module_closure(&p, &["broken"]).unwrap_err();
    assert_eq!(exit_of(&e), Exit::KernelUnavailable, "{e:#}");
    assert!(format!("{e:#}").contains("broken depends on missing"), "{e:#}");
}

#[test]
fn a_kernel_lacking_options_is_exit_5_naming_each() {
    let (_, p, _dir) = prepared("d.deb");
    let e = kernel::check_config(&p, &kernel::boot_needs()).unwrap_err();
    assert_eq!(exit_of(&e).code(), 5);
    let msg = e.to_string();
    for missing in [
        "CONFIG_NET_9P ",
        "CONFIG_NET_9P_VIRTIO ",
        "CONFIG_9P_FS ",
        "CONFIG_OVERLAY_FS ",
    ] {
        assert!(msg.contains(missing), "{missing} not named in: {msg}");
    }
    assert!(msg.contains("lacks 4 option(s)"), "{msg}");
    assert!(!msg.contains("CONFIG_VIRTIO_PCI"), "{msg}");
    assert!(hint(&e).contains("another kernel"), "{}", hint(&e));
    kernel::check_config(&p, &["VIRTIO", "VIRTIO_PCI", "DEVTMPFS=y"]).unwrap();
}

#[test]
fn a_hash_mismatch_is_exit_4_showing_expected_and_actual_and_caches_nothing() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let deb = synthetic_deb(dir.path(), "e.deb");
    let actual = sha256(&deb);
    let expected = "0".repeat(64);
    let k = Kernel {
        version: "9.9".into(),
        release: None,
        sources: vec![KernelSource::File {
            path: deb.clone(),
            sha256: expected.clone(),
        }],
        nixpkgs: None,
    };
    let e = kernel::prepare_in(&k, dir.path()).unwrap_err();
    assert_eq!(exit_of(&e).code(), 4);
    let msg = format!("{e:#}");
    assert!(msg.contains(&format!("expected sha256 {expected}")), "{msg}");
    assert!(msg.contains(&format!("actual   sha256 {actual}")), "{msg}");
    assert!(
        hint(&e).contains("re-pin") || hint(&e).contains("sha256"),
        "{}",
        hint(&e)
    );
    let parts = kernel::fetch::parts_dir().unwrap();
    assert!(kernel::fetch::cached(&expected).unwrap().is_none());
    assert!(
        kernel::fetch::cached(&actual).unwrap().is_none(),
        "a rejected file must not enter the cache"
    );
    assert!(!kernel::tree_path(&kernel::kernel_id(&k)).unwrap().exists());
    // Other tests of this binary fetch into the same cache at the same time, and their downloads
    // sit in `.tmp-` files until they are renamed into place: wait for those to settle. A leftover
    // of the rejected download would never go away.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let leftovers: Vec<String> = walk(&parts).into_iter().filter(|f| f.contains(".tmp-")).collect();
        if leftovers.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{leftovers:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_kernel_without_sources_or_with_the_wrong_release_is_exit_4() {
    setup();
    let none = Kernel {
        version: "4.19".into(),
        release: None,
        sources: vec![],
        nixpkgs: None,
    };
    let e = kernel::prepare(&none).unwrap_err();
    assert_eq!(exit_of(&e), Exit::KernelUnavailable);
    assert!(hint(&e).contains("orca kernel pin 4.19"), "{}", hint(&e));

    let dir = tempfile::tempdir().unwrap();
    let deb = synthetic_deb(dir.path(), "f.deb");
    let mut k = file_kernel("9.9", &[&deb]);
    k.release = Some("9.9.0-other".into());
    let e = kernel::prepare_in(&k, dir.path()).unwrap_err();
    assert_eq!(exit_of(&e), Exit::KernelUnavailable);
    assert!(
        e.to_string()
            .contains("the catalog says release 9.9.0-other, but its packages hold 9.9.0-test"),
        "{e}"
    );
}

#[test]
fn parts_are_cached_by_hash_and_leftovers_of_a_killed_run_are_swept() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let deb = synthetic_deb(dir.path(), "g.deb");
    let k = file_kernel("9.9", &[&deb]);
    // What a SIGKILLed orca leaves: a temporary download and a tree without its manifest.
    let parts = kernel::fetch::parts_dir().unwrap();
    std::fs::write(parts.join(".tmp-999999999-x"), b"half a download").unwrap();
    let tree = kernel::tree_path(&kernel::kernel_id(&k)).unwrap();
    std::fs::create_dir_all(tree.join("lib")).unwrap();
    let p = kernel::prepare_in(&k, dir.path()).unwrap();
    assert!(p.tree.join("manifest.json").is_file());
    assert!(!parts.join(".tmp-999999999-x").exists());
    // The source may go away: the verified copy in the cache is what is used from now on.
    std::fs::remove_file(&deb).unwrap();
    let again = kernel::prepare_in(&k, dir.path()).unwrap();
    assert_eq!(again.id, p.id);
    assert_eq!(again.release, RELEASE);
}

#[test]
fn a_bare_image_is_a_kernel_with_everything_built_in() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("bzImage");
    std::fs::write(&img, fake_image("9.8.7-bare", 4096)).unwrap();
    let p = kernel::prepare_in(&file_kernel("9.8", &[&img]), dir.path()).unwrap();
    assert_eq!(p.release, "9.8.7-bare");
    assert!(p.parts[0].extension().is_some_and(|e| e == "img"));
    assert!(!p.config.is_known());
    assert!(kernel::module_closure(&p, &["virtio_pci", "9p"]).unwrap().is_empty());
    kernel::check_config(&p, &kernel::boot_needs()).unwrap();
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
