//! Shared by the `install_*` tests: the firewall's objects compiled as `orca build` does.

use std::path::Path;
use std::process::Command;

/// Compiles the project's ebpf/*.c as `orca build` does, into `out` (created if missing). A test
/// whose guest loads them puts `out` below the project, which the guest sees.
pub fn compile_objects(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(out).unwrap();
    for src in std::fs::read_dir(root.join("ebpf"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
    {
        if src.extension().is_none_or(|x| x != "c") {
            continue;
        }
        let obj = out.join(src.file_stem().unwrap()).with_extension("o");
        let st = Command::new("clang")
            .args([
                "-target",
                "bpf",
                "-O2",
                "-g",
                "-Iebpf/include",
                "-I/usr/include/x86_64-linux-gnu",
                "-c",
            ])
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .current_dir(root)
            .status()
            .unwrap();
        assert!(st.success(), "clang failed on {}", src.display());
    }
}
