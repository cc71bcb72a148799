//! The nix backend against the real `nix` on this machine, and the cell reports it reads.
//!
//! Nix is installed here but nixpkgs cannot be fetched (no network), so a real `nix build .#ebpf`
//! must fail fast with one clear message. The reports are written by nix/cell_report.py, the code
//! every cell's NixOS test runs, from suite output fixtures, and read back with the backend's parser.

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

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/nix")
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

/// Runs nix/cell_report.py as a cell's NixOS test does, into a fresh directory.
fn cell_report(spec: &serde_json::Value, status: i32, suite: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let spec_file = out.path().join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let st = Command::new("python3")
        .arg(root().join("nix/cell_report.py"))
        .arg(&spec_file)
        .arg(status.to_string())
        .arg(suite)
        .arg(out.path())
        .status()
        .expect("python3 runs");
    assert!(st.success());
    std::fs::remove_file(spec_file).unwrap();
    out
}

fn spec(kernel: &str) -> serde_json::Value {
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("spec-5.10.json")).unwrap()).unwrap();
    s["kernel"] = kernel.into();
    s["id"] = format!("kernel-{kernel}/0").into();
    if kernel != "5.10" {
        s["expectations"] = serde_json::json!([]);
    }
    s
}

fn cell(kernel: &str) -> Cell {
    Cell {
        id: format!("kernel-{kernel}/0"),
        name: format!("kernel-{kernel}"),
        image: "host".into(),
        kernel: kernel.into(),
        command: "orca suite --json".into(),
        unavailable: None,
    }
}

fn expectations() -> Vec<Expectation> {
    vec![Expectation {
        test: "cgroup_events/*".into(),
        min_kernel: "5.17".into(),
        reason: Some("uses bpf_loop".into()),
    }]
}

#[test]
fn committed_cell_result_is_what_cell_report_writes() {
    let fresh = cell_report(&spec("5.10"), 1, &fixtures().join("suite-5.10.json"));
    for name in ["junit.xml", "verdict", "suite.json"] {
        let committed = std::fs::read_to_string(fixtures().join("result-kernel-5_10-0").join(name)).unwrap();
        assert_eq!(
            std::fs::read_to_string(fresh.path().join(name)).unwrap(),
            committed,
            "{name}"
        );
    }
}

#[test]
fn old_kernel_failures_are_expected_failures() {
    let xml = std::fs::read_to_string(fixtures().join("result-kernel-5_10-0/junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell("5.10"), &expectations(), Duration::from_secs(90)).unwrap();
    assert_eq!(r.release.as_deref(), Some("5.10.247"));
    assert_eq!(r.kernel.as_deref(), Some("5.10"));
    assert_eq!(r.duration_ms, 90_000);
    let outcomes: Vec<(&str, Outcome)> = r.tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("xdp_blocklist/load", Outcome::Pass),
            ("xdp_blocklist/ipv4_blocked", Outcome::Pass),
            ("tc_egress_policy/load", Outcome::Skip),
            ("cgroup_events/load", Outcome::ExpectedFail),
            ("cgroup_events/ringbuf_events", Outcome::ExpectedFail),
        ]
    );
    let load = &r.tests[3];
    assert_eq!(load.expectation.as_deref(), Some("needs kernel >= 5.17: uses bpf_loop"));
    assert_eq!(
        load.message.as_deref(),
        Some("program cgroup_events: verifier rejected it")
    );
    assert!(load.log.as_deref().unwrap().contains("bpf_loop#181"));
    assert_eq!(r.tests[0].duration_ms, 41);
    assert_eq!(r.outcome, Outcome::Pass, "expected failures match their expectation");
    assert!(r.message.is_none());
    assert_eq!(
        std::fs::read_to_string(fixtures().join("result-kernel-5_10-0/verdict")).unwrap(),
        "pass\n"
    );
}

#[test]
fn regressions_fail_the_cell_and_its_check() {
    let out = cell_report(&spec("6.1"), 1, &fixtures().join("suite-6.1-regressions.json"));
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell("6.1"), &expectations(), Duration::ZERO).unwrap();
    assert_eq!(r.tests[1].outcome, Outcome::Fail);
    assert_eq!(
        r.tests[1].message.as_deref(),
        Some("packet from 10.0.0.1 passed; expected XDP_DROP")
    );
    assert_eq!(r.tests[2].outcome, Outcome::Pass, "6.1 is above min_kernel");
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(r.message.as_deref(), Some("failed: xdp_blocklist/ipv4_blocked"));
    let verdict = std::fs::read_to_string(out.path().join("verdict")).unwrap();
    assert_eq!(
        verdict, "fail\nfail: xdp_blocklist/ipv4_blocked\n",
        "the check derivation fails on this"
    );
}

#[test]
fn a_pass_below_min_kernel_is_an_unexpected_pass() {
    let out = cell_report(&spec("5.10"), 0, &fixtures().join("suite-6.1-regressions.json"));
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let r = orca::nix::junit::cell_result(&xml, &cell("5.10"), &expectations(), Duration::ZERO).unwrap();
    assert_eq!(r.tests[2].outcome, Outcome::UnexpectedPass);
    assert!(r.tests[2].outcome.is_failure());
    assert!(
        std::fs::read_to_string(out.path().join("verdict"))
            .unwrap()
            .contains("unexpected-pass: cgroup_events/ringbuf_events")
    );
}

#[test]
fn a_report_that_disagrees_with_orcas_expectations_is_refused() {
    let xml = std::fs::read_to_string(fixtures().join("result-kernel-5_10-0/junit.xml")).unwrap();
    // The flake applied an expectation orca does not have (stale nix/generated/).
    let err = orca::nix::junit::cell_result(&xml, &cell("5.10"), &[], Duration::ZERO).unwrap_err();
    assert!(format!("{err:#}").contains("nix/generated/ is stale"), "{err:#}");
}

#[test]
fn a_suite_without_its_json_report_is_an_error_of_the_cell() {
    let out = tempfile::tempdir().unwrap();
    let spec_file = out.path().join("spec.json");
    std::fs::write(&spec_file, spec("6.1").to_string()).unwrap();
    let crash = out.path().join("crash.txt");
    std::fs::write(&crash, "thread 'main' panicked at src/suite/mod.rs:1:1\n").unwrap();
    let res = Command::new("python3")
        .arg(root().join("nix/cell_report.py"))
        .args([&spec_file, Path::new("101"), &crash, out.path()])
        .output()
        .unwrap();
    assert!(!res.status.success(), "the NixOS test must fail (and not be cached)");
    assert!(String::from_utf8_lossy(&res.stderr).contains("without its JSON report"));
    assert!(!out.path().join("junit.xml").exists());
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
