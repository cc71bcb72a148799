//! The builder VM: `orca build` inside a guest (configs/ebpf-builder.hcl) brings back objects
//! byte-identical to a build on the host.

mod vm_support;

use std::path::Path;

use vm_support::{ROOT, Vm, stderr};

#[test]
fn objects_built_in_the_builder_vm_match_the_host_build() {
    let Some(vm) = Vm::new() else { return };
    let t = tempfile::Builder::new().prefix("orca-vmbuild-").tempdir().unwrap();
    let proj = t.path();
    for d in ["configs", "ebpf"] {
        copy_tree(&Path::new(ROOT).join(d), &proj.join(d));
    }
    // The host build, from an empty object cache.
    let host_cache = t.path().join("host-cache");
    let out = vm
        .orca()
        .current_dir(proj)
        .env("ORCA_CACHE_DIR", &host_cache)
        .args(["build"])
        .output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(0), "host build: {}", stderr(&out));
    let host = objects(&proj.join("build/ebpf"));
    assert!(!host.is_empty());
    std::fs::rename(proj.join("build"), t.path().join("host-build")).unwrap();

    // The guest build: its own empty object cache, so clang really runs in the guest.
    let out = vm
        .orca()
        .current_dir(proj)
        .args(["run", "configs/ebpf-builder.hcl", "--kernel", "6.1", "--cpus", "1"])
        .args([
            "--env",
            "ORCA_CACHE_DIR=/tmp/guest-cache",
            "--command",
            "cd /flywall && orca build",
        ])
        .output()
        .unwrap();
    eprintln!("{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("built"), "the guest compiled: {}", stderr(&out));
    let guest = objects(&proj.join("build/ebpf"));
    assert_eq!(guest, host, "objects built in the VM differ from the host's");
    vm.assert_clean();
}

fn objects(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "o"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let (s, d) = (e.path(), dest.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&s, &d)
        } else {
            std::fs::copy(&s, &d).map(|_| ()).unwrap()
        }
    }
}
