//! `orca init`: a starter project that builds and tests with no edits.
//!
//! The starter is a set of files (in `src/init/starter/`, embedded in the binary, and the flake's
//! `templates.default` for `nix flake init -t`, so both give the same files): specs in
//! `configs/` (the clang pin and the program, a builder VM and a test VM on the host image, a
//! matrix over three catalog kernels, a two-stage pipeline), a hello XDP program, a Makefile, a
//! test script that attaches the object in the guest and writes JUnit, a flake that uses
//! orca's flake as a library, and the `nix/generated/` that flake reads (what `orca gen` writes for
//! these specs; `tests/init_project.rs` keeps it in sync). Writing never touches a file that exists: it is skipped and reported.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

/// One file of the starter: its path in the project, its text, and whether it is executable.
pub struct StarterFile {
    pub path: &'static str,
    pub text: &'static str,
    pub executable: bool,
}

/// The starter's files, in the order they are written.
pub const STARTER: &[StarterFile] = &[
    file("configs/build.hcl", include_str!("starter/configs/build.hcl")),
    file("configs/ebpf-builder.hcl", include_str!("starter/configs/ebpf-builder.hcl")),
    file("configs/ebpf-test.hcl", include_str!("starter/configs/ebpf-test.hcl")),
    file("configs/ebpf-test-matrix.hcl", include_str!("starter/configs/ebpf-test-matrix.hcl")),
    file("configs/ebpf-test-pipeline.hcl", include_str!("starter/configs/ebpf-test-pipeline.hcl")),
    file("bpf/hello.bpf.c", include_str!("starter/bpf/hello.bpf.c")),
    file("Makefile", include_str!("starter/Makefile")),
    StarterFile {
        path: "tests/load.sh",
        text: include_str!("starter/tests/load.sh"),
        executable: true,
    },
    file("flake.nix", include_str!("starter/flake.nix")),
    file("nix/generated/images.json", include_str!("starter/nix/generated/images.json")),
    file("nix/generated/kernels.json", include_str!("starter/nix/generated/kernels.json")),
    file("nix/generated/matrix.json", include_str!("starter/nix/generated/matrix.json")),
    file("nix/generated/programs.json", include_str!("starter/nix/generated/programs.json")),
    file("nix/generated/toolchain.json", include_str!("starter/nix/generated/toolchain.json")),
    file(".gitignore", include_str!("starter/.gitignore")),
];

const fn file(path: &'static str, text: &'static str) -> StarterFile {
    StarterFile {
        path,
        text,
        executable: false,
    }
}

/// What [`write`] did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Written {
    /// The project folder.
    pub dir: PathBuf,
    /// Files written, relative to `dir`.
    pub written: Vec<String>,
    /// Files that existed already and were left as they were.
    pub skipped: Vec<String>,
}

/// Writes the starter into `dir` (created if missing), skipping every file that exists.
pub fn write(dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Written {
        dir: dir.to_path_buf(),
        ..Written::default()
    };
    for f in STARTER {
        let path = dir.join(f.path);
        // symlink_metadata: a dangling symlink exists too, and is not ours to replace.
        if path.symlink_metadata().is_ok() {
            out.skipped.push(f.path.to_string());
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        // create_new: never replace a file that appeared meanwhile.
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if f.executable { 0o755 } else { 0o644 });
        }
        match opts.open(&path) {
            Ok(mut h) => {
                use std::io::Write;
                h.write_all(f.text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                out.written.push(f.path.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => out.skipped.push(f.path.to_string()),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("writing {}", path.display()))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_into_an_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        let w = write(dir.path()).unwrap();
        assert_eq!(w.written.len(), STARTER.len());
        assert!(w.skipped.is_empty());
        for f in STARTER {
            let text = std::fs::read_to_string(dir.path().join(f.path)).unwrap();
            assert_eq!(text, f.text, "{}", f.path);
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("tests/load.sh"), 0o755);
        assert_eq!(mode("Makefile"), 0o644);
    }

    #[test]
    fn never_overwrites_and_says_what_it_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Makefile"), "all:\n\techo mine\n").unwrap();
        std::fs::create_dir_all(dir.path().join("configs")).unwrap();
        std::fs::write(dir.path().join("configs/build.hcl"), "# mine\n").unwrap();
        std::os::unix::fs::symlink("/nonexistent/flake", dir.path().join("flake.nix")).unwrap();
        let w = write(dir.path()).unwrap();
        assert_eq!(w.skipped, ["configs/build.hcl", "Makefile", "flake.nix"]);
        assert_eq!(w.written.len(), STARTER.len() - 3);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("Makefile")).unwrap(),
            "all:\n\techo mine\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("configs/build.hcl")).unwrap(),
            "# mine\n"
        );
        assert!(dir.path().join("flake.nix").symlink_metadata().unwrap().file_type().is_symlink());
        // A second run writes nothing.
        let again = write(dir.path()).unwrap();
        assert!(again.written.is_empty());
        assert_eq!(again.skipped.len(), STARTER.len());
    }

    /// `src/init/starter/` is also the flake's `templates.default`: every file there is written by
    /// `orca init`, so `nix flake init -t` and `orca init` give the same project.
    #[test]
    fn every_file_of_the_template_is_in_the_starter() {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    walk(base, &e.path(), out);
                } else {
                    out.push(e.path().strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/init/starter");
        let mut on_disk = Vec::new();
        walk(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut listed: Vec<String> = STARTER.iter().map(|f| f.path.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn the_starter_names_no_network_host_and_builds_with_the_pinned_clang() {
        let build = STARTER.iter().find(|f| f.path == "configs/build.hcl").unwrap();
        assert!(build.text.contains("clang_version = \"19\""));
        assert!(build.text.contains("source = \"bpf/hello.bpf.c\""));
        let matrix = STARTER.iter().find(|f| f.path == "configs/ebpf-test-matrix.hcl").unwrap();
        for k in ["\"5.10\"", "\"6.1\"", "\"6.12\""] {
            assert!(matrix.text.contains(&format!("kernel_version = {k}")), "{k}");
        }
        let flake = STARTER.iter().find(|f| f.path == "flake.nix").unwrap();
        assert!(flake.text.contains("EDIT ME"), "the orca input is a placeholder the user edits");
        for f in STARTER {
            assert!(!f.text.contains("https://"), "{} names a network host", f.path);
        }
    }
}
