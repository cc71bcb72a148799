//! The nix backend against the real `nix` on this machine, and the cell reports it reads.
//!
//! Nix is installed here but nixpkgs cannot be fetched (no network), so a real `nix build .#ebpf`
//! must fail fast with one clear message. The reports are written by nix/cell_report.py, the code
//! every cell's NixOS test runs, with this host in the guest's place (its `LocalMachine`): real
//! scripts in a copy of a project, real JUnit files collected, read back with the backend's parser.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use orca::error::{Exit, exit_of, find_fail};
use orca::nix::backend::{Nix, build_with, run_matrix_with};
use orca::plan::{Cell, Expectation, Plan};
use orca::report::Outcome;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Nix from PATH, or a reason to skip (only allowed outside CI).
fn nix_or_skip() -> Option<Nix> {
    let present = Command::new("nix")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        orca::ci::skip_or_fail("nix is not installed (bash .ci/setup installs nix-bin)");
        return None;
    }
    if std::env::var_os("ORCA_NIX_ONLINE").is_some() {
        orca::ci::skip_or_fail("ORCA_NIX_ONLINE is set, so nixpkgs may be fetched and a real build would run");
        return None;
    }
    Some(Nix::default())
}

fn plan() -> Plan {
    orca::plan::load_project(&root()).expect("configs/ load")
}

#[test]
fn offline_build_fails_fast_with_one_clear_message() {
    let Some(nix) = nix_or_skip() else { return };
    // "Fast" is behaviour here, not a stopwatch: one clear error instead of a build attempt.
    let err = build_with(&nix, &root(), &plan()).expect_err("nixpkgs cannot be fetched on this machine");
    assert_eq!(exit_of(&err), Exit::Infra, "{err:#}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("the nix backend cannot fetch nixpkgs pinned in"),
        "{msg}"
    );
    assert!(msg.contains("flake.lock"), "{msg}");
    let hint = find_fail(&err).and_then(|f| f.hint.clone()).unwrap_or_default();
    assert!(hint.contains("--backend native"), "{hint}");
}

#[test]
fn offline_matrix_run_fails_the_same_way() {
    let Some(nix) = nix_or_skip() else { return };
    let plan = plan();
    let cells = plan.matrix.as_ref().map(|m| m.cells.clone()).unwrap_or_default();
    let err = run_matrix_with(&nix, &root(), &plan, &cells).expect_err("nixpkgs cannot be fetched on this machine");
    assert_eq!(exit_of(&err), Exit::Infra, "{err:#}");
    assert!(
        err.to_string().starts_with("the nix backend cannot fetch nixpkgs"),
        "{err:#}"
    );
}

#[test]
fn missing_nix_is_one_clear_message() {
    let err = build_with(&Nix::new("/nonexistent/bin/nix"), &root(), &plan()).unwrap_err();
    assert_eq!(exit_of(&err), Exit::Infra);
    assert!(err.to_string().contains("Nix is not installed"), "{err:#}");
    assert!(
        find_fail(&err)
            .and_then(|f| f.hint.clone())
            .unwrap_or_default()
            .contains("--backend native")
    );
}

/// A project with a test script that writes JUnit: `tests/junit.sh NAME:VERDICT ...` writes one
/// test case per argument into build/test-results/NAME.xml and exits 1 when one failed, as a test
/// runner does.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("source");
    std::fs::create_dir_all(src.join("tests")).unwrap();
    std::fs::write(
        src.join("tests/junit.sh"),
        r#"#!/bin/sh
mkdir -p build/test-results
rc=0
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<testsuite name="suite">'
  for t in "$@"; do
    name=${t%%:*}
    case ${t##*:} in
      pass) echo "<testcase name=\"$name\" time=\"0.041\"/>" ;;
      skip) echo "<testcase name=\"$name\"><skipped message=\"no tc\"/></testcase>" ;;
      *) rc=1; echo "<testcase name=\"$name\"><failure message=\"verifier rejected it\">invalid func unknown#160</failure></testcase>" ;;
    esac
  done
  echo '</testsuite>'
} > build/test-results/suite.xml
echo "ran $# tests"
exit $rc
"#,
    )
    .unwrap();
    dir
}

/// The spec nix/lib/matrix.nix gives a cell (`cellSpec`), for `commands` on `kernel`, with the
/// guest's directories in `dir`.
fn spec(
    dir: &Path,
    kernel: &str,
    commands: &[&str],
    results: &[&str],
    expectations: &[Expectation],
) -> serde_json::Value {
    let below: Vec<&Expectation> = expectations
        .iter()
        .filter(|e| orca::plan::KernelVersion::parse(kernel) < orca::plan::KernelVersion::parse(&e.min_kernel))
        .collect();
    serde_json::json!({
        "id": format!("kernel-{kernel}/0"),
        "check": format!("matrix-kernel-{}-0", kernel.replace('.', "_")),
        "kernel": kernel,
        "command": commands.join("\n"),
        "commands": commands,
        "results": results,
        "timeout_secs": 60,
        "boot_timeout_secs": 600,
        "expectations": below,
        "source": dir.join("source"),
        "project_dir": dir.join("project"),
        "workdir": dir.join("project"),
        "cpus": 2, "memory_mib": 1024, "modules": [],
    })
}

/// Runs nix/cell_report.py as a cell's NixOS test does, this host standing in for the guest.
fn run_cell(spec: &serde_json::Value) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let spec_file = out.path().join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let res = Command::new("python3")
        .arg(root().join("nix/cell_report.py"))
        .arg(&spec_file)
        .arg(out.path())
        .output()
        .expect("python3 runs");
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    std::fs::remove_file(spec_file).unwrap();
    out
}

fn cell(kernel: &str, commands: &[&str]) -> Cell {
    Cell {
        id: format!("kernel-{kernel}/0"),
        name: format!("kernel-{kernel}"),
        image: "host".into(),
        kernel: kernel.into(),
        command: commands.join("\n"),
        unavailable: None,
    }
}

fn expectations() -> Vec<Expectation> {
    vec![Expectation {
        test: "cgroup_events/*".into(),
        min_kernel: "5.11".into(),
        reason: Some("uses bpf_ktime_get_coarse_ns".into()),
    }]
}

/// The cell as the nix backend reports it, and the first line of its verdict file.
fn judged(kernel: &str, commands: &[&str], results: &[&str]) -> (orca::report::CellResult, String, tempfile::TempDir) {
    let p = project();
    let out = run_cell(&spec(p.path(), kernel, commands, results, &expectations()));
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell(kernel, commands), &expectations(), Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("{e:#}\n{xml}"));
    let verdict = std::fs::read_to_string(out.path().join("verdict")).unwrap();
    (r, verdict, out)
}

const RESULTS: &[&str] = &["build/test-results/*.xml"];

#[test]
fn the_scripts_junit_becomes_the_cells_tests_with_expectations_applied() {
    let tests = "sh tests/junit.sh xdp/load:pass tc/load:skip cgroup_events/load:fail";
    let (r, verdict, out) = judged("5.10", &["mkdir -p build", tests], RESULTS);
    let outcomes: Vec<(&str, Outcome)> = r.tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("xdp/load", Outcome::Pass),
            ("tc/load", Outcome::Skip),
            ("cgroup_events/load", Outcome::ExpectedFail)
        ]
    );
    assert_eq!(r.tests[0].duration_ms, 41);
    assert_eq!(
        r.tests[2].expectation.as_deref(),
        Some("needs kernel >= 5.11: uses bpf_ktime_get_coarse_ns")
    );
    assert_eq!(r.tests[2].message.as_deref(), Some("verifier rejected it"));
    // The runner exited 1 for a failure the expectations foresaw: the cell passes, as natively.
    assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.message);
    assert!(r.message.is_none(), "{:?}", r.message);
    assert_eq!(
        r.release.as_deref().map(str::is_empty),
        Some(false),
        "uname -r of the guest"
    );
    assert_eq!(verdict, "pass\n");
    // The collected file is kept in the report.
    let kept = std::fs::read_to_string(out.path().join("results/0-suite.xml")).unwrap();
    assert!(kept.contains("cgroup_events/load"));
}

#[test]
fn a_regression_fails_the_cell_and_its_check() {
    let tests = "sh tests/junit.sh xdp/load:pass cgroup_events/load:fail";
    let (r, verdict, _) = judged("6.1", &[tests], RESULTS);
    assert_eq!(r.tests[1].outcome, Outcome::Fail, "6.1 is above min_kernel");
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(verdict.starts_with("fail\n"), "{verdict}");
    assert!(verdict.contains("fail: cgroup_events/load"), "{verdict}");
}

#[test]
fn a_pass_below_min_kernel_is_an_unexpected_pass() {
    let (r, verdict, _) = judged("5.10", &["sh tests/junit.sh cgroup_events/load:pass"], RESULTS);
    assert_eq!(r.tests[0].outcome, Outcome::UnexpectedPass);
    assert_eq!(r.outcome, Outcome::UnexpectedPass);
    assert!(verdict.contains("unexpected-pass: cgroup_events/load"), "{verdict}");
}

#[test]
fn the_script_is_one_shell_that_stops_at_the_first_failing_line() {
    // State carries from line to line (cd, variables); `false` stops the script, so the third line
    // never runs; no results are named, so the script is the cell.
    let p = project();
    let commands = [
        "mkdir -p sub && cd sub",
        "X=1; test \"$X\" = 1 && pwd > ../where",
        "false",
        "touch ../ran-after",
    ];
    let out = run_cell(&spec(p.path(), "6.1", &commands, &[], &[]));
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell("6.1", &commands), &[], Duration::ZERO).unwrap();
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(r.tests.is_empty(), "the script's own case is not a test: {:?}", r.tests);
    assert_eq!(r.message.as_deref(), Some("line 3 of 4 `false` exited with status 1"));
    let project = p.path().join("project");
    assert_eq!(
        std::fs::read_to_string(project.join("where")).unwrap().trim(),
        project.join("sub").to_str().unwrap()
    );
    assert!(!project.join("ran-after").exists(), "a line after the failing one ran");
    // The copy is writable and the source untouched.
    assert!(!p.path().join("source/where").exists());
}

#[test]
fn a_glob_without_a_match_is_an_error_of_the_cell_not_a_pass() {
    let (r, verdict, _) = judged("6.1", &["true"], &["build/none/*.xml"]);
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .contains("the result file glob \"build/none/*.xml\" matched no file"),
        "{:?}",
        r.message
    );
    assert_eq!(verdict.lines().next(), Some("fail"));
}

#[test]
fn a_result_file_that_is_not_junit_is_an_error_and_a_failed_script_stays_failed() {
    let commands = [
        "mkdir -p build/test-results",
        "echo 'thread main panicked' > build/test-results/x.xml",
        "exit 101",
    ];
    let (r, _, _) = judged("6.1", &commands, RESULTS);
    assert_eq!(r.outcome, Outcome::Fail);
    let m = r.message.unwrap();
    assert!(m.contains("the script exited with status 101"), "{m}");
    assert!(m.contains("is not JUnit XML"), "{m}");
}

#[test]
fn a_script_past_its_timeout_is_an_error() {
    let p = project();
    let mut s = spec(p.path(), "6.1", &["sleep 30"], &[], &[]);
    s["timeout_secs"] = 2.into();
    let out = run_cell(&s);
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell("6.1", &["sleep 30"]), &[], Duration::ZERO).unwrap();
    assert_eq!(r.outcome, Outcome::Error);
    assert!(r.message.unwrap().contains("did not finish within its timeout of 2 s"));
}

#[test]
fn a_report_that_disagrees_with_orca_is_refused() {
    let (_, _, out) = judged("5.10", &["sh tests/junit.sh cgroup_events/load:fail"], RESULTS);
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    // The flake applied an expectation orca does not have (stale nix/generated/).
    let err = orca::nix::junit::cell_result(&xml, &cell("5.10", &["x"]), &[], Duration::ZERO).unwrap_err();
    assert!(format!("{err:#}").contains("nix/generated/ is stale"), "{err:#}");
    // A cell outcome the rules do not give.
    let tampered = xml.replace(
        r#"name="orca.outcome" value="pass""#,
        r#"name="orca.outcome" value="fail""#,
    );
    let err =
        orca::nix::junit::cell_result(&tampered, &cell("5.10", &["x"]), &expectations(), Duration::ZERO).unwrap_err();
    assert!(
        format!("{err:#}").contains("nix/cell_report.py disagrees with orca"),
        "{err:#}"
    );
}

#[test]
fn offline_message_quotes_the_pinned_revision_nix_could_not_fetch() {
    let Some(nix) = nix_or_skip() else { return };
    let err = build_with(&nix, &root(), &plan()).unwrap_err();
    eprintln!("message: {err:#}");
    assert!(
        err.to_string().contains("8fd9daa3db09ced9700431c5b7ad0e8ba199b575"),
        "{err:#}"
    );
}
