//! Shared by the tests that evaluate flakes against the stand-in nixpkgs of tests/nix/stand-in:
//! a copy of the project for Nix to take into its store, and `nix` run on a flake with one input
//! replaced by the stand-in.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the project's sources (not target/, .git, build/), so that Nix copies only them into
/// the store and a test may change them.
pub fn copy_project() -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path, top: bool) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let name = e.file_name();
            let n = name.to_string_lossy();
            let ty = e.file_type().unwrap();
            if (top && (n == "target" || n == "build" || n.starts_with("result"))) || n == ".git" {
                continue;
            }
            if ty.is_dir() {
                walk(&e.path(), &to.join(&name), false);
            } else if ty.is_file() {
                std::fs::copy(e.path(), to.join(&name)).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    walk(&root(), dir.path(), true);
    dir
}

/// `nix <args…> path:<project>[#attr]` with flakes on and the flake input `input` (`nixpkgs`, or
/// `orca/nixpkgs` for a project that takes orca as an input) replaced by the stand-in under
/// `orca_tree` (a copy of this project); None (after saying why) when nix is missing and CI is off.
pub fn nix_with_stand_in(
    project: &Path,
    orca_tree: &Path,
    input: &str,
    args: &[&str],
    attr: Option<&str>,
) -> Option<Output> {
    if !Command::new("nix").arg("--version").output().is_ok_and(|o| o.status.success()) {
        orca::ci::skip_or_fail("nix is not installed (bash .ci/setup installs nix-bin)");
        return None;
    }
    let flake = format!("path:{}", project.display());
    let target = match attr {
        Some(a) => format!("{flake}#{a}"),
        None => flake,
    };
    let stand_in = format!("path:{}", orca_tree.join("tests/nix/stand-in").display());
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes"])
        .args(args)
        .args(["--no-write-lock-file", "--override-input", input, &stand_in, &target])
        .output()
        .unwrap();
    Some(out)
}
