//! The suite's results as JUnit XML, for any CI and for orca's matrix, which collects the file
//! through the test block's `results` and merges its testcases into the kernel × test report.
//!
//! One `<testsuite name="firewall-suite">` with the kernel release as a property, one
//! `<testcase>` per test, named `<program>/<test>` (the names `--list` prints):
//! - pass → a passing case; its note (e.g. the program's size) in `<system-out>`;
//! - fail → `<failure>` with the message, and the kernel's whole verifier log as the failure's
//!   text when the kernel refused the program (also in the case's `<system-out>`);
//! - skip → `<skipped>` with the missing prerequisite.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Outcome, TestResult};

/// The suite name and every test case's class name.
pub const SUITE: &str = "firewall-suite";

/// The JUnit document for one run on kernel `release`.
pub fn render(release: &str, results: &[TestResult], elapsed: Duration) -> Result<String> {
    let mut suite = TestSuite::new(SUITE);
    suite.set_time(elapsed);
    suite.add_property(Property::new("kernel", release));
    for t in results {
        let status = match t.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("fail");
                s.set_message(t.message.as_str());
                if let Some(log) = &t.verifier_log {
                    s.set_description(log.as_str());
                }
                s
            }
            Outcome::Skip => {
                let mut s = TestCaseStatus::skipped();
                s.set_type("skip");
                s.set_message(t.message.as_str());
                s
            }
        };
        let mut case = TestCase::new(t.name.as_str(), status);
        case.set_classname(SUITE);
        case.set_time(Duration::from_millis(t.duration_ms));
        let out = match (&t.verifier_log, t.message.is_empty()) {
            (Some(log), _) => format!("{}\nverifier log:\n{log}", t.message),
            (None, false) => t.message.clone(),
            (None, true) => String::new(),
        };
        if !out.is_empty() {
            case.set_system_out(out);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new(SUITE);
    report.set_time(elapsed);
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

/// Writes the document to `path`, creating its folder.
pub fn write(path: &Path, release: &str, results: &[TestResult], elapsed: Duration) -> Result<()> {
    let xml = render(release, results, elapsed)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, outcome: Outcome, message: &str, log: Option<&str>) -> TestResult {
        TestResult {
            name: name.into(),
            outcome,
            duration_ms: 7,
            message: message.into(),
            verifier_log: log.map(str::to_string),
        }
    }

    #[test]
    fn one_case_per_test_with_the_verifier_log_as_the_failure_text() {
        let results = [
            t("xdp_blocklist/load", Outcome::Pass, "312 insns", None),
            t(
                "cgroup_events/load",
                Outcome::Fail,
                "the verifier refused it: unknown func bpf_loop#181",
                Some("0: (b7) r1 = 0\nunknown func bpf_loop#181"),
            ),
            t("tc_egress_policy/live_veth", Outcome::Skip, "no veth", None),
        ];
        let xml = render("6.1.0-31-amd64", &results, Duration::from_secs(2)).unwrap();
        let back = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(back.tests, 3);
        assert_eq!(back.failures, 1);
        let s = &back.test_suites[0];
        assert_eq!(s.name.as_str(), SUITE);
        let names: Vec<&str> = s.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["xdp_blocklist/load", "cgroup_events/load", "tc_egress_policy/live_veth"]);
        assert!(matches!(s.test_cases[0].status, TestCaseStatus::Success { .. }));
        match &s.test_cases[1].status {
            TestCaseStatus::NonSuccess {
                kind,
                message,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert!(message.as_ref().unwrap().as_str().contains("bpf_loop"));
                assert!(description.as_ref().unwrap().as_str().contains("0: (b7) r1 = 0"));
            }
            other => panic!("a failure should fail: {other:?}"),
        }
        assert!(
            s.test_cases[1]
                .system_out
                .as_ref()
                .unwrap()
                .as_str()
                .contains("verifier log:\n0: (b7)")
        );
        match &s.test_cases[2].status {
            TestCaseStatus::Skipped { message, .. } => assert_eq!(message.as_ref().unwrap().as_str(), "no veth"),
            other => panic!("a skip is skipped: {other:?}"),
        }
        let kernel = s.properties.iter().find(|p| p.name.as_str() == "kernel").unwrap();
        assert_eq!(kernel.value.as_str(), "6.1.0-31-amd64");
    }

    #[test]
    fn write_creates_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build/test-results/suite.xml");
        write(&path, "6.1", &[t("a/b", Outcome::Pass, "", None)], Duration::ZERO).unwrap();
        assert!(std::fs::read_to_string(path).unwrap().contains("testcase name=\"a/b\""));
    }
}
