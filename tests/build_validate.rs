//! Objects the loader would refuse, compile errors and toolchain mismatches: each gives one clear
//! message and its exit code, and leaves no object behind.

mod build_support;

use build_support::{Project, text};

/// Builds the single program `name` of the `ebpf-invalid` fixture; returns (exit code, stderr).
fn build_one(name: &str, cflags: &str) -> (Option<i32>, String, Project) {
    let p = Project::new("ebpf-invalid", "proj");
    p.single_program(name, cflags);
    let out = p.orca(&["build"]);
    (out.status.code(), text(&out.stderr), p)
}

const WITH_G: &str = "\"-O2\", \"-g\"";

#[test]
fn the_fixture_baseline_is_valid() {
    let (code, err, p) = build_one("plain_xdp", WITH_G);
    assert_eq!(code, Some(0), "{err}");
    assert!(p.root.join("build/ebpf/plain_xdp.o").exists());
}

#[test]
fn an_object_without_btf_is_refused() {
    let (code, err, p) = build_one("plain_xdp", "\"-O2\"");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("build/ebpf/plain_xdp.o has no BTF"), "{err}");
    assert!(err.contains("keep `-g`"), "{err}");
    assert!(
        !p.root.join("build/ebpf/plain_xdp.o").exists(),
        "an invalid object is not installed"
    );
}

#[test]
fn an_object_without_a_license_is_refused() {
    let (code, err, _) = build_one("no_license", WITH_G);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("has no license section"), "{err}");
    assert!(err.contains("SEC(\"license\")"), "{err}");
}

#[test]
fn a_program_in_an_unknown_section_is_refused() {
    let (code, err, _) = build_one("unknown_section", WITH_G);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("section `firewall/ingress`, which is not a program type the loader knows"),
        "{err}"
    );
}

#[test]
fn a_malformed_btf_map_is_refused() {
    let (code, err, _) = build_one("bad_map", WITH_G);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("malformed map definition in `.maps` (maps: bad_map)"),
        "{err}"
    );
    assert!(err.contains("__uint(type, ...)"), "{err}");
}

#[test]
fn a_malformed_legacy_map_is_refused() {
    let (code, err, _) = build_one("tiny_legacy_map", WITH_G);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("malformed map definition: map `tiny_map`"), "{err}");
}

#[test]
fn a_compile_error_names_the_source_and_line() {
    let (code, err, p) = build_one("compile_error", WITH_G);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("ebpf/compile_error.c:8:9: error: use of undeclared identifier"),
        "{err}"
    );
    assert!(!err.contains(&p.root.display().to_string()), "no absolute path: {err}");
    assert!(!err.contains("/run-"), "no temporary path: {err}");
    assert!(err.contains("1 of 1 programs failed to build: compile_error"), "{err}");
}

#[test]
fn a_failed_program_removes_its_stale_object() {
    let p = Project::new("ebpf-invalid", "proj");
    p.single_program("plain_xdp", WITH_G);
    assert!(p.orca(&["build"]).status.success());
    p.write(
        "ebpf/plain_xdp.c",
        &p.read("ebpf/plain_xdp.c")
            .replace("return XDP_PASS;", "return XDP_PASS"),
    );
    let out = p.orca(&["build", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["failed"], 1);
    assert!(
        s["programs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("ebpf/plain_xdp.c:")
    );
    assert!(!p.root.join("build/ebpf/plain_xdp.o").exists());
}

#[test]
fn a_different_clang_version_is_refused_with_the_fix() {
    let p = Project::new("ebpf-basic", "proj");
    p.write(
        "configs/build.hcl",
        &p.read("configs/build.hcl")
            .replace("clang_version = \"19\"", "clang_version = \"13\""),
    );
    let out = p.orca(&["build"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("is Debian clang version ") && err.contains("pins clang 13"),
        "{err}"
    );
    assert!(
        err.contains("clang-13") && err.contains("--backend nix") && err.contains("configs/build.hcl"),
        "{err}"
    );
}

#[test]
fn a_clang_sha256_pin_is_enforced() {
    let p = Project::new("ebpf-basic", "proj");
    let pin = format!("clang_version = \"19\"\n  clang_sha256 = \"{}\"", "0".repeat(64));
    p.write(
        "configs/build.hcl",
        &p.read("configs/build.hcl").replace("clang_version = \"19\"", &pin),
    );
    let out = p.orca(&["build"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("pins clang_sha256"), "{err}");
}

#[test]
fn a_missing_clang_is_a_clear_error() {
    let p = Project::new("ebpf-basic", "proj");
    p.write(
        "configs/build.hcl",
        &p.read("configs/build.hcl").replace(
            "clang_version = \"19\"",
            "clang_version = \"19\"\n  clang = \"clang-does-not-exist\"",
        ),
    );
    let out = p.orca(&["build"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("`clang-does-not-exist`, was not found") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn the_nix_backend_is_not_native() {
    let p = Project::new("ebpf-basic", "proj");
    let out = p
        .command(&["build", "--backend", "nix"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.to_lowercase().contains("nix"), "{err}");
}

#[test]
fn a_missing_source_fails_that_program_only() {
    let p = Project::new("ebpf-basic", "proj");
    p.write(
        "configs/build.hcl",
        &p.read("configs/build.hcl")
            .replace("ebpf/cg_events.c", "ebpf/missing.c"),
    );
    let out = p.orca(&["build", "--json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ebpf/missing.c does not exist (the source of program \"cg_events\")"),
        "{err}"
    );
    assert!(err.contains("hint: fix `source`"), "{err}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["compiled"], 2, "the other programs still build");
}
