//! Every .nix file of the project parses (`nix-instantiate --parse`, which also rejects unbound
//! variables), the pure-Nix unit tests pass (`nix-instantiate --eval --strict`), and flake.lock
//! pins the nixpkgs revision the project's tests and docs name.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// nix-instantiate, or None when it is missing and CI is unset (it must be there with CI=true).
fn nix_instantiate() -> Option<Command> {
    if Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(Command::new("nix-instantiate"));
    }
    orca::ci::skip_or_fail("nix-instantiate is not installed (bash .ci/setup installs nix-bin)");
    None
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() && name != "target" && name != ".git" && name != "build" {
            nix_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "nix") {
            out.push(p);
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let mut files = Vec::new();
    nix_files(&root(), &mut files);
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("flake.nix")), "{files:?}");
    assert!(files.len() >= 15, "expected flake.nix and nix/**: {files:?}");
    let Some(_) = nix_instantiate() else { return };
    let mut failed = Vec::new();
    for f in &files {
        let out = Command::new("nix-instantiate").arg("--parse").arg(f).output().unwrap();
        if !out.status.success() {
            failed.push(format!("{}: {}", f.display(), String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_broken_nix_file_is_caught() {
    let Some(mut cmd) = nix_instantiate() else { return };
    let out = cmd.args(["--parse", "-E", "{ a }: a + b"]).output().unwrap();
    assert!(!out.status.success(), "an unbound variable must fail --parse");
}

/// The pin lives in the project: flake.lock locks nixpkgs to one nixos-25.11 revision, and every
/// place that names the pinned revision (the pure-Nix tests, nix/README.md) names that one.
#[test]
fn flake_lock_pins_the_nixpkgs_revision_the_project_names() {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("flake.lock")).unwrap()).unwrap();
    assert_eq!(lock["version"], 7);
    assert_eq!(lock["root"], "root");
    assert_eq!(lock["nodes"]["root"]["inputs"]["nixpkgs"], "nixpkgs");
    assert_eq!(lock["nodes"].as_object().unwrap().len(), 2, "only root and nixpkgs");
    let node = &lock["nodes"]["nixpkgs"];
    let original = serde_json::json!({ "owner": "NixOS", "ref": "nixos-25.11", "repo": "nixpkgs", "type": "github" });
    assert_eq!(node["original"], original);
    let locked = &node["locked"];
    assert_eq!((&locked["owner"], &locked["repo"], &locked["type"]), (&original["owner"], &original["repo"], &original["type"]));
    let rev = locked["rev"].as_str().unwrap();
    assert!(rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()), "rev {rev}");
    let nar = locked["narHash"].as_str().unwrap();
    assert!(nar.starts_with("sha256-") && nar.len() == 51, "narHash {nar}");
    assert!(locked["lastModified"].as_u64().is_some_and(|t| t > 1_700_000_000));
    let flake = std::fs::read_to_string(root().join("flake.nix")).unwrap();
    assert!(flake.contains("inputs.nixpkgs.url = \"github:NixOS/nixpkgs/nixos-25.11\";"));
    for f in ["nix/tests/resolve.nix", "nix/tests/generated.nix"] {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        assert!(text.contains(&format!("rev = \"{}\";", &rev[..7])), "{f} names another revision than flake.lock's {rev}");
    }
    let readme = std::fs::read_to_string(root().join("nix/README.md")).unwrap();
    assert!(readme.contains(&format!("The pinned revision ({rev},")), "nix/README.md names another revision than flake.lock's {rev}");
}
