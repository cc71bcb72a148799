//! `orca init` in a temporary folder outside the repository, then the commands its `--help`
//! names, each with the real tools: `orca validate`, `orca build` (the real clang 19), and, in a VM,
//! `orca matrix run` and `orca pipeline run`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use orca::process::Output;

const ORCA: &str = env!("CARGO_BIN_EXE_orca");

fn orca(dir: &Path, args: &[&str], deadline: Duration) -> Output {
    let mut c = Command::new(ORCA);
    c.args(args).current_dir(dir).env("CI", "true").env_remove("SOURCE_DATE_EPOCH");
    orca::process::run(&mut c, &format!("orca {}", args.join(" ")), deadline).unwrap()
}

fn ok(dir: &Path, args: &[&str], deadline: Duration) -> Output {
    let out = orca(dir, args, deadline);
    assert_eq!(
        out.status.code(),
        Some(0),
        "orca {}:\n{}\n{}",
        args.join(" "),
        out.stdout_str(),
        out.stderr_str()
    );
    out
}

/// A fresh starter in a temporary folder (outside the repository: the system's temp dir).
fn starter() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        !dir.path().starts_with(env!("CARGO_MANIFEST_DIR")),
        "the project must not sit inside orca's tree"
    );
    ok(dir.path(), &["init"], Duration::from_secs(30));
    dir
}

#[test]
fn init_then_validate_and_build_with_no_edits() {
    let dir = starter();
    let p = dir.path();
    let out = ok(p, &["validate"], Duration::from_secs(60));
    assert!(out.stdout_str().contains("5 spec files valid"), "{}", out.stdout_str());
    let out = ok(p, &["build", "--json"], Duration::from_secs(300));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = summary.to_string();
    assert!(text.contains("hello"), "{text}");
    let obj = std::fs::read(p.join("build/ebpf/hello.o")).unwrap();
    assert_eq!(&obj[..4], b"\x7fELF");
    // The object is an eBPF ELF (e_machine 247) with the program's section.
    assert_eq!(u16::from_le_bytes([obj[18], obj[19]]), 247);
    assert!(obj.windows(4).any(|w| w == b"xdp\0"));
}

#[test]
fn init_in_an_existing_project_touches_nothing_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("Makefile"), "all:\n\ttrue\n").unwrap();
    let out = ok(p, &["init", "--json"], Duration::from_secs(30));
    let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w["skipped"], serde_json::json!(["Makefile"]));
    assert_eq!(std::fs::read_to_string(p.join("Makefile")).unwrap(), "all:\n\ttrue\n");
    let out = ok(p, &["init"], Duration::from_secs(30));
    assert!(out.stdout_str().contains("0 files written, 15 skipped"), "{}", out.stdout_str());
}

/// The starter's nix/generated/ (what its flake reads, `orca.lib.<system>.mkChecks`) is what
/// `orca gen` writes for its configs/, so `nix flake check` in a fresh starter sees its own cells.
#[test]
fn the_starters_nix_generated_is_in_sync_with_its_specs() {
    let dir = starter();
    let out = orca(dir.path(), &["gen", "--check"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "update src/init/starter/nix/generated/ with `orca gen` in a starter:\n{}{}", out.stdout_str(), out.stderr_str());
}

#[test]
fn help_shows_the_next_commands() {
    let out = ok(Path::new("."), &["init", "--help"], Duration::from_secs(30));
    let help = out.stdout_str();
    for next in ["orca build", "orca matrix run", "orca pipeline run", "orca test"] {
        assert!(help.contains(next), "{next} missing from:\n{help}");
    }
}

/// The starter's matrix (three catalog kernels, the built-in catalog) and pipeline pass as
/// written, with the testcases of the JUnit its test script writes.
#[test]
fn init_then_matrix_and_pipeline_run_pass_in_guests() {
    let dir = starter();
    let p = dir.path();
    let deadline = Duration::from_secs(3600);
    let out = ok(p, &["matrix", "run", "--json", "-"], deadline);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3, "{report:#}");
    for c in cells {
        assert_eq!(c["outcome"], "pass", "{c:#}");
        let names: Vec<&str> = c["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["hello/attach_lo"], "{c:#}");
    }
    ok(p, &["pipeline", "run"], deadline);
    assert!(p.join("build/test-results/hello.xml").is_file());
}
