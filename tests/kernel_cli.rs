//! `orca kernel list | fetch | pin` as users run them.

mod kernel_support;

use std::process::{Command, Output};

use kernel_support::*;

fn orca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unknown_version_is_a_usage_error_listing_the_known_ones() {
    let o = orca(&["kernel", "fetch", "9.9"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("kernel 9.9 is not in the catalog"), "{err}");
    assert!(err.contains("known versions: 5.10, 6.1, 6.12, 7.2, 5.4, 5.15, 6.8, 6.1.176"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn list_json_has_every_catalog_kernel() {
    let o = orca(&["kernel", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let versions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["5.10", "6.1", "6.12", "7.2", "5.4", "5.15", "6.8", "6.1.176"]);
    let sid = &rows[3];
    assert_eq!(sid["release"], "7.2.13+deb14-amd64");
    assert_eq!(sid["sources"].as_array().unwrap().len(), 3);
    assert!(sid["cached"].is_boolean() && sid["parts_cached"].is_u64());
    let text = orca(&["kernel", "list"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).starts_with("VERSION"),
        "{}",
        stderr(&text)
    );
}

/// Pinning the catalog's own 6.1 package into a stale copy of the catalog gives back the
/// catalog, byte for byte: version, sha256 and release come from the package itself.
#[test]
fn pin_reproduces_the_catalog_entry_and_keeps_the_rest_of_the_file() {
    let original = std::fs::read_to_string(root().join("configs/kernels.hcl")).unwrap();
    let sha = catalog_kernel("6.1").sources[0].sha256().to_string();
    let stale = original
        .replace(&sha, &"0".repeat(64))
        .replace("release = \"6.1.0-50-amd64\"", "release = \"6.1.0-31-amd64\"")
        // Only the generic 6.1 entry: the cloud kernel after it has the same package version.
        .replacen("version = \"6.1.176-1\"", "version = \"6.1.128-1\"", 1);
    assert_ne!(stale, original);
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("kernels.hcl");
    std::fs::write(&catalog, &stale).unwrap();
    let o = orca(&[
        "kernel",
        "pin",
        "6.1",
        "--debian",
        "linux-image-6.1.0-50-amd64-unsigned",
        "--suite",
        "bookworm",
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    if o.status.code() == Some(4) && !ci() {
        eprintln!("SKIP: the mirror is not reachable here (CI is not set): {}", stderr(&o));
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&sha),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(std::fs::read_to_string(&catalog).unwrap(), original);
}

#[test]
fn pin_refuses_a_bad_version_and_a_missing_package() {
    let o = orca(&[
        "kernel",
        "pin",
        "six",
        "--debian",
        "x",
        "--catalog",
        "/nonexistent/k.hcl",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("kernels.hcl");
    let o = orca(&[
        "kernel",
        "pin",
        "6.1",
        "--debian",
        "linux-image-6.1.0-0-amd64-unsigned",
        "--suite",
        "bookworm",
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    if !ci() && err.contains("could not read the package lists") {
        eprintln!("SKIP: the mirror is not reachable here (CI is not set): {err}");
        return;
    }
    assert!(
        err.contains("the host's mirror has no linux-image-6.1.0-0-amd64-unsigned in bookworm"),
        "{err}"
    );
    assert!(err.contains("hint: bookworm has: linux-image-6.1"), "{err}");
    assert!(!catalog.exists(), "a failed pin must not write the catalog");
}
