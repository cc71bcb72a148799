//! The whole flake, evaluated against the stand-in nixpkgs of tests/nix/stand-in (real
//! derivations that are never built): `nix flake check --no-build` over every output of every
//! system, the outputs it lists, what the dev shell tells orca, and a check that this catches a
//! store path used as an attribute name (the first form of nix/ebpf.nix's prefix maps).
//! See README.md "What the Nix checks prove" for what this does and does not show.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the project's sources (not target/, .git, build/), so that Nix copies only them into
/// the store and a test may change them.
fn copy_project() -> tempfile::TempDir {
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

/// `nix <args…> path:<project>` with flakes on and nixpkgs replaced by the stand-in; None (after
/// saying why) when nix is missing and CI is off.
fn nix(project: &Path, args: &[&str], attr: Option<&str>) -> Option<Output> {
    if !Command::new("nix").arg("--version").output().is_ok_and(|o| o.status.success()) {
        orca::ci::skip_or_fail("nix is not installed (bash .ci/setup installs nix-bin)");
        return None;
    }
    let flake = format!("path:{}", project.display());
    let target = match attr {
        Some(a) => format!("{flake}#{a}"),
        None => flake,
    };
    let stand_in = format!("path:{}", project.join("tests/nix/stand-in").display());
    let out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command flakes"])
        .args(args)
        .args(["--no-write-lock-file", "--override-input", "nixpkgs", &stand_in, &target])
        .output()
        .unwrap();
    Some(out)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(project: &Path, attr: &str) -> Option<Value> {
    let out = nix(project, &["eval", "--json"], Some(attr))?;
    Some(serde_json::from_str(&ok(&out)).unwrap())
}

/// The environment of the derivation behind `attr` (`nix show-derivation`).
fn drv_env(project: &Path, attr: &str) -> Option<serde_json::Map<String, Value>> {
    let out = nix(project, &["show-derivation"], Some(attr))?;
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let (_, drv) = v.as_object().unwrap().iter().next().unwrap();
    Some(drv["env"].as_object().unwrap().clone())
}

#[test]
fn every_flake_output_evaluates_against_the_stand_in() {
    let p = copy_project();
    let Some(out) = nix(p.path(), &["flake", "check", "--no-build"], None) else { return };
    ok(&out);

    // What it checked: every cell of matrix.json is a check or listed as unavailable with a
    // reason, and each system has its packages and dev shell.
    let show: Value = serde_json::from_str(&ok(&nix(p.path(), &["flake", "show", "--json"], None).unwrap())).unwrap();
    let unavailable = json(p.path(), "legacyPackages.x86_64-linux.orca.unavailable").unwrap();
    let matrix: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("nix/generated/matrix.json")).unwrap()).unwrap();
    let checks = show["checks"]["x86_64-linux"].as_object().unwrap();
    for cell in matrix["cells"].as_array().unwrap() {
        let check = cell["check"].as_str().unwrap();
        assert!(
            checks.contains_key(check) != unavailable.get(check).is_some(),
            "cell {check} must be exactly one of a check ({:?}) or unavailable ({unavailable})",
            checks.keys().collect::<Vec<_>>()
        );
        if let Some(why) = unavailable.get(check) {
            assert!(why.as_str().unwrap().starts_with(&format!("cell {}: ", cell["id"].as_str().unwrap())), "{why}");
        }
    }
    // The stand-in builds 5.10 without BTF (as nixpkgs may): unavailable with that reason, not a
    // failed evaluation; 7.2 has no attribute; 6.1 and 6.12 are checks.
    assert!(unavailable["matrix-5_10"].as_str().unwrap().contains("without CONFIG_DEBUG_INFO_BTF"), "{unavailable}");
    assert!(checks.contains_key("matrix-6_1") && checks.contains_key("matrix-6_12"), "{checks:?}");
    for system in ["x86_64-linux", "aarch64-linux", "aarch64-darwin", "x86_64-darwin"] {
        let packages = show["packages"][system].as_object().unwrap();
        assert!(packages.contains_key("orca") && packages.contains_key("default"), "{system}: {packages:?}");
        assert_eq!(packages.contains_key("ebpf"), system.ends_with("-linux"), "{system}: {packages:?}");
        assert!(show["devShells"][system]["default"].is_object(), "{system}");
        assert!(checks.contains_key("gen-in-sync") && checks.contains_key("nix-unit"));
    }
    let linux = show["packages"]["x86_64-linux"].as_object().unwrap();
    assert!(linux.contains_key("vmlinux-h-6_1") && !linux.contains_key("vmlinux-h-5_10"), "{linux:?}");

    // The NixOS test inside a cell check: the boot has its own allowance beyond the command's.
    let results = drv_env(p.path(), "checks.x86_64-linux.matrix-6_1.results").unwrap();
    let global: u64 = results["globalTimeout"].as_str().unwrap().parse().unwrap();
    let command = matrix["cells"][1]["timeout_secs"].as_u64().unwrap();
    assert!(global > command, "globalTimeout {global} leaves the boot nothing beyond the command's {command} s");
    assert!(results["testScript"].as_str().unwrap().contains("timeout=spec[\"boot_timeout_secs\"]"));
}

#[test]
fn the_dev_shell_gives_orca_the_headers_packages_ebpf_compiles_against() {
    let p = copy_project();
    let Some(shell) = drv_env(p.path(), "devShells.x86_64-linux.default") else { return };
    let ebpf = drv_env(p.path(), "packages.x86_64-linux.ebpf").unwrap();
    let build = ebpf["buildPhase"].as_str().unwrap();
    let includes = shell["ORCA_SYSTEM_INCLUDES"].as_str().expect("the shell sets ORCA_SYSTEM_INCLUDES");
    let dirs: Vec<&str> = includes.split(':').collect();
    assert_eq!(dirs.len(), 2, "{includes}");
    for d in &dirs {
        assert!(d.starts_with("/nix/store/") && d.ends_with("/include"), "{d}");
        assert!(build.contains(&format!("'-isystem' '{d}'")), "packages.ebpf does not use {d}:\n{build}");
    }
    let resource = shell["ORCA_CLANG_RESOURCE_DIR"].as_str().unwrap();
    assert!(resource.ends_with("/lib/clang/19") && resource.contains("-clang-19.1.7-lib/"), "{resource}");
    assert!(build.contains(&format!("'-resource-dir' '{resource}'")), "{build}");
    assert!(build.contains(&format!("'-ffile-prefix-map={resource}=/clang'")), "{build}");
    // macOS: no libbpf or kernel headers there, and no variable naming them.
    let mac = drv_env(p.path(), "devShells.aarch64-darwin.default").unwrap();
    assert!(!mac.contains_key("ORCA_SYSTEM_INCLUDES") && mac.contains_key("ORCA_CLANG_RESOURCE_DIR"));
}

#[test]
fn a_store_path_as_an_attribute_name_fails_the_check() {
    // nix/ebpf.nix as it first was: prefix maps keyed by store paths, which Nix refuses.
    let p = copy_project();
    let file = p.path().join("nix/clang-system.nix");
    let text = std::fs::read_to_string(&file).unwrap();
    let fixed = r#"{ from = "${pkgs.libbpf}"; to = "/libbpf"; }"#;
    assert!(text.contains(fixed), "nix/clang-system.nix changed shape; update this test");
    let reverted = r#"({ "${pkgs.libbpf}" = "/libbpf"; } // { from = "${pkgs.libbpf}"; to = "/libbpf"; })"#;
    std::fs::write(&file, text.replacen(fixed, reverted, 1)).unwrap();
    let Some(out) = nix(p.path(), &["flake", "check", "--no-build"], None) else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the check passed a store path as an attribute name:\n{stderr}");
    assert!(stderr.contains("is not allowed to refer to a store path"), "{stderr}");
}
