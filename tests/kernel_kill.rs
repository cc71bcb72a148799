//! A kill at any moment leaves the kernel cache consistent: `orca kernel fetch` is SIGKILLed at
//! increasing delays while it copies, hashes and unpacks a large local kernel package, and after
//! each kill every cached part still matches its hash and every tree is complete. A last run
//! finishes and leaves no temporary files.

mod kernel_support;

use std::path::Path;
use std::process::{Command, Stdio};

use kernel_support::*;

const RELEASE: &str = "9.9.1-kill";

fn config() -> String {
    orca::kernel::BOOT_NEEDS
        .iter()
        .map(|n| format!("CONFIG_{}=y\n", n.option.trim_end_matches("=y")))
        .collect()
}

/// About 60 MiB of incompressible modules, so copying, hashing and unpacking take a while.
fn big_deb(path: &Path) {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("boot/vmlinuz-{RELEASE}"), fake_image(RELEASE, 4 << 20)),
        (format!("boot/config-{RELEASE}"), config().into_bytes()),
        (
            format!("lib/modules/{RELEASE}/modules.builtin"),
            b"kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/char/virtio_console.ko\nkernel/net/9p/9pnet_virtio.ko\nkernel/fs/9p/9p.ko\nkernel/fs/overlayfs/overlay.ko\n".to_vec(),
        ),
    ];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..900 {
        let mut body = fake_module(&["depends="]);
        body.extend((0..64 * 1024 / 8).flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        }));
        files.push((format!("lib/modules/{RELEASE}/kernel/drivers/m{i}.ko"), body));
    }
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    build_deb_with(path, "linux-image-kill", "1", &refs, false);
}

/// Every cached part matches its name's hash; every tree has its manifest.
fn assert_consistent(cache: &Path) {
    let parts = cache.join("kernels/parts");
    for e in std::fs::read_dir(&parts).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            continue;
        }
        let hash = name.split('.').next().unwrap();
        assert_eq!(sha256(&e.path()), hash, "cached part {name} does not match its hash");
    }
    for e in std::fs::read_dir(cache.join("kernels/v1"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") || name.ends_with(".lock") {
            continue;
        }
        assert!(
            e.path().join("manifest.json").is_file(),
            "tree {name} has no manifest: a torn entry"
        );
    }
}

#[test]
fn a_kill_at_any_moment_leaves_the_cache_consistent() {
    let project = tempfile::tempdir().unwrap();
    let deb = project.path().join("kill.deb");
    big_deb(&deb);
    std::fs::create_dir_all(project.path().join("configs")).unwrap();
    std::fs::write(
        project.path().join("configs/kernels.hcl"),
        format!(
            "schema_version = \"1.0\"\nkernel \"9.9\" {{\n  file {{\n    path = \"{}\"\n    sha256 = \"{}\"\n  }}\n}}\n",
            deb.display(),
            sha256(&deb)
        ),
    )
    .unwrap();
    let fetch_into = |cache: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_orca"));
        c.args(["kernel", "fetch", "9.9"])
            .current_dir(project.path())
            .env("ORCA_CACHE_DIR", cache)
            .env("CI", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    // How long a whole cold fetch takes here, in a cache of its own; the kills are spread over it.
    let start = std::time::Instant::now();
    let out = fetch_into(&project.path().join("timing-cache")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = start.elapsed();
    let cache = project.path().join("cache");
    let fetch = || fetch_into(&cache);
    let mut killed = 0;
    for tenth in 0..10 {
        let mut child = fetch().spawn().unwrap();
        std::thread::sleep(whole * (2 * tenth + 1) / 20);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        assert_consistent(&cache);
    }
    assert!(killed > 0, "orca finished before every kill; the test proves nothing");
    let out = fetch().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_consistent(&cache);
    let leftovers: Vec<String> = ["kernels/parts", "kernels/v1"]
        .iter()
        .flat_map(|d| std::fs::read_dir(cache.join(d)).into_iter().flatten().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    eprintln!("a cold fetch takes {whole:?}; killed {killed} of 10 runs; the cache stayed consistent");
}
