//! JUnit XML for a matrix run: one `<testsuite>` per cell (per kernel when each kernel has one
//! command), one `<testcase>` per test.
//!
//! How the outcomes map:
//! - pass → a passing test case; skip → `<skipped>` with the suite's reason.
//! - FAIL → `<failure type="fail">`, the verifier log (or the cell's output) as its body.
//! - xfail → `<skipped type="xfail">` with the expectation as its message and the verifier log as
//!   its body. Like pytest's JUnit output: the test did not pass, so it is not counted as passed,
//!   and it did not fail the run, so it is not a failure. CI dashboards show it as skipped.
//! - XPASS → `<failure type="xpass">`: the expectation is out of date, which fails the run.
//! - ERROR (orca or the VM failed) → `<error>`, with the cell's output as its body.
//! - An unavailable cell → its test suite holds one `<skipped type="unavailable">` case with the
//!   reason, so merged reports show the kernel instead of silently missing it.
//! - A flaky cell (its first guest panicked or hung before its agent was ready, and it ran on a
//!   second boot) → each of its passing cases carries a `<flakyError type="boot">` with the first
//!   boot's failure as its message and its console tail as its body, and the suite a `flaky`
//!   property.
//!
//! Test case class names are the suite's name (`kernel 6.1`), so that JUnit files from several
//! shards merge without clashes.

use std::time::Duration;

use anyhow::Result;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::model::{CellResult, Outcome, Report, TestResult};
use super::table::column_labels;

/// The name of the test case standing for a cell that reported no tests of its own.
const CELL_CASE: &str = "(cell)";

/// The JUnit document for a matrix report.
pub fn render(report: &Report) -> Result<String> {
    let mut doc = quick_junit::Report::new(format!("orca {}", report.kind));
    doc.set_time(Duration::from_millis(report.wall_ms));
    for (cell, label) in report.cells.iter().zip(column_labels(report)) {
        doc.add_test_suite(suite(cell, &format!("kernel {label}")));
    }
    Ok(doc.to_string()?)
}

fn suite(c: &CellResult, name: &str) -> TestSuite {
    let class = name;
    let mut s = TestSuite::new(name);
    s.set_time(Duration::from_millis(c.duration_ms));
    s.add_property(Property::new("cell", c.id.as_str()));
    s.add_property(Property::new("command", c.command.as_str()));
    if let Some(k) = &c.kernel {
        s.add_property(Property::new("kernel", k.as_str()));
    }
    if let Some(r) = &c.release {
        s.add_property(Property::new("release", r.as_str()));
    }
    s.add_property(Property::new("cached", if c.cached { "true" } else { "false" }));
    if c.flaky.is_some() {
        s.add_property(Property::new("flaky", "true"));
    }
    let flaky = c.flaky.as_deref();
    for t in &c.tests {
        s.add_test_case(case(t, name, c.output.as_deref(), flaky));
    }
    // A script's lines: a case each when the cell reported no tests of its own (so a failing line
    // is the failing case), else a property each.
    let step_cases = c.tests.is_empty() && !c.steps.is_empty();
    for st in &c.steps {
        let name = format!("[{}] {}", st.index + 1, st.command);
        let code = st.exit_code.map_or("killed".to_string(), |c| c.to_string());
        if step_cases {
            let t = TestResult {
                name,
                outcome: if st.exit_code == Some(0) { Outcome::Pass } else { Outcome::Fail },
                duration_ms: st.duration_ms,
                message: (st.exit_code != Some(0)).then(|| format!("exit code {code}")),
                log: st.output.clone(),
                expectation: None,
            };
            s.add_test_case(case(&t, class, None, flaky));
        } else {
            let took = crate::ui::duration(Duration::from_millis(st.duration_ms));
            s.add_property(Property::new(
                format!("step {}", st.index + 1),
                format!("{} (exit {code}, {took})", st.command),
            ));
        }
    }
    // The cell's own failure (no tests, or a suite that broke after reporting some) gets a case
    // of its own so it cannot go unseen.
    if (c.tests.is_empty() && !step_cases) || c.outcome == Outcome::Error {
        let own = TestResult {
            name: if c.tests.is_empty() && c.outcome != Outcome::Error && c.outcome != Outcome::Unavailable {
                c.command.clone()
            } else {
                CELL_CASE.to_string()
            },
            outcome: c.outcome,
            duration_ms: c.duration_ms,
            message: c.message.clone(),
            log: None,
            expectation: None,
        };
        s.add_test_case(case(&own, name, c.output.as_deref(), flaky));
    }
    if let Some(out) = c
        .output
        .as_deref()
        .filter(|_| c.outcome.is_failure() || c.outcome.is_infra())
    {
        s.set_system_out(out);
    }
    s
}

/// The JUnit case of one test (a matrix cell's, or a pipeline stage's from its result files).
pub(crate) fn case(t: &TestResult, class: &str, cell_output: Option<&str>, flaky: Option<&str>) -> TestCase {
    let body = t.log.as_deref().or(cell_output);
    let (mut status, ty) = match t.outcome {
        Outcome::Pass => (TestCaseStatus::success(), None),
        Outcome::Fail => (TestCaseStatus::non_success(NonSuccessKind::Failure), Some("fail")),
        Outcome::UnexpectedPass => (TestCaseStatus::non_success(NonSuccessKind::Failure), Some("xpass")),
        Outcome::Error => (TestCaseStatus::non_success(NonSuccessKind::Error), Some("error")),
        Outcome::ExpectedFail => (TestCaseStatus::skipped(), Some("xfail")),
        Outcome::Skip => (TestCaseStatus::skipped(), Some("skip")),
        Outcome::Unavailable => (TestCaseStatus::skipped(), Some("unavailable")),
    };
    if let Some(ty) = ty {
        status.set_type(ty);
        let message = match (t.outcome, &t.expectation, &t.message) {
            (Outcome::ExpectedFail, Some(e), _) => format!("expected to fail: {e}"),
            (_, _, Some(m)) => m.clone(),
            (o, _, None) => o.label().to_string(),
        };
        status.set_message(message);
        let body = match t.outcome {
            Outcome::ExpectedFail => t.log.as_deref(),
            Outcome::Skip | Outcome::Unavailable | Outcome::UnexpectedPass => None,
            _ => body,
        };
        if let Some(b) = body {
            status.set_description(b);
        }
    }
    if let (Some(f), Outcome::Pass) = (flaky, t.outcome) {
        let mut rerun = TestRerun::new(NonSuccessKind::Error);
        rerun.set_type("boot");
        rerun.set_message(f.lines().next().unwrap_or(f));
        rerun.set_description(f);
        status.add_rerun(rerun);
    }
    let mut c = TestCase::new(t.name.as_str(), status);
    c.set_classname(class);
    c.set_time(Duration::from_millis(t.duration_ms));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn one_suite_per_kernel_and_one_case_per_test() {
        let xml = render(&sample::report()).unwrap();
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let names: Vec<&str> = back.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["kernel 5.10", "kernel 6.1", "kernel 6.12", "kernel 7.2"]);
        let cases = |i: usize| {
            back.test_suites[i]
                .test_cases
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(cases(0), ["xdp_drop/ipv4_blocked", "cgroup_count/loop"]);
        assert_eq!(cases(2), [CELL_CASE]);
        assert_eq!(back.tests, 6);
        assert_eq!(back.failures, 1);
        assert_eq!(back.errors, 1);
    }

    #[test]
    fn a_scripts_lines_are_cases_when_it_reports_no_tests() {
        let mut r = sample::report();
        r.cells.truncate(1);
        r.cells[0].tests.clear();
        r.cells[0].outcome = Outcome::Fail;
        r.cells[0].steps = vec![
            crate::report::StepResult {
                index: 0,
                command: "cd /flywall".into(),
                exit_code: Some(0),
                duration_ms: 1,
                output: None,
            },
            crate::report::StepResult {
                index: 1,
                command: "make test".into(),
                exit_code: Some(2),
                duration_ms: 900,
                output: Some("make: *** Error 2\n".into()),
            },
        ];
        let xml = render(&r).unwrap();
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let cases = &back.test_suites[0].test_cases;
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["[1] cd /flywall", "[2] make test"]);
        assert_eq!(back.failures, 1);
        match &cases[1].status {
            TestCaseStatus::NonSuccess { description, .. } => {
                assert!(description.as_ref().unwrap().as_str().contains("Error 2"))
            }
            other => panic!("the failing line fails: {other:?}"),
        }
    }

    #[test]
    fn a_flaky_cell_passes_with_the_first_boot_as_a_flaky_error() {
        let mut r = sample::report();
        let first = "first boot failed (exit 124): VM cell-6-1-0 did not finish booting within 1m (tcg)\n  console:\n  [    1.6] sched_clock: Marking stable";
        r.cells[0].flaky = Some(first.into());
        let back = quick_junit::Report::deserialize_from_str(&render(&r).unwrap()).unwrap();
        let suite = &back.test_suites[0];
        assert!(
            suite
                .properties
                .iter()
                .any(|p| p.name.as_str() == "flaky" && p.value.as_str() == "true")
        );
        match &suite.test_cases[0].status {
            TestCaseStatus::Success { flaky_runs } => {
                assert_eq!(flaky_runs.len(), 1);
                assert_eq!(flaky_runs[0].kind, NonSuccessKind::Error);
                assert_eq!(flaky_runs[0].ty.as_ref().unwrap().as_str(), "boot");
                assert!(flaky_runs[0].message.as_ref().unwrap().as_str().contains("exit 124"));
                assert!(
                    flaky_runs[0]
                        .description
                        .as_ref()
                        .unwrap()
                        .as_str()
                        .contains("Marking stable"),
                    "the console tail is the body"
                );
            }
            other => panic!("a flaky pass is a success: {other:?}"),
        }
        assert!(
            !matches!(&suite.test_cases[1].status, TestCaseStatus::Success { .. }),
            "the expected failure stays skipped"
        );
        assert_eq!(back.failures, 1, "flakiness fails nothing");
        let plain = quick_junit::Report::deserialize_from_str(&render(&sample::report()).unwrap()).unwrap();
        match &plain.test_suites[0].test_cases[0].status {
            TestCaseStatus::Success { flaky_runs } => assert!(flaky_runs.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outcomes_map_to_junit_statuses() {
        let xml = render(&sample::report()).unwrap();
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let status = |s: usize, c: usize| back.test_suites[s].test_cases[c].status.clone();
        assert!(matches!(status(0, 0), TestCaseStatus::Success { .. }));
        match status(0, 1) {
            TestCaseStatus::Skipped {
                ty,
                message,
                description,
            } => {
                assert_eq!(ty.unwrap().as_str(), "xfail");
                assert!(message.unwrap().as_str().contains("needs kernel >= 5.17"));
                assert!(description.unwrap().as_str().contains("unknown func bpf_loop#181"));
            }
            other => panic!("xfail should be skipped: {other:?}"),
        }
        match status(1, 1) {
            TestCaseStatus::NonSuccess { kind, description, .. } => {
                assert_eq!(kind, NonSuccessKind::Failure);
                assert!(
                    description.unwrap().as_str().contains("unknown func bpf_loop#181"),
                    "the verifier log is the body"
                );
            }
            other => panic!("a failure should fail: {other:?}"),
        }
        match status(2, 0) {
            TestCaseStatus::Skipped { ty, message, .. } => {
                assert_eq!(ty.unwrap().as_str(), "unavailable");
                assert!(message.unwrap().as_str().contains("no source for kernel 6.12"));
            }
            other => panic!("an unavailable cell is skipped: {other:?}"),
        }
        match status(3, 0) {
            TestCaseStatus::NonSuccess { kind, description, .. } => {
                assert_eq!(kind, NonSuccessKind::Error);
                assert!(description.unwrap().as_str().contains("Kernel panic"));
            }
            other => panic!("a crashed cell is an error: {other:?}"),
        }
        let cached = back.test_suites[0]
            .properties
            .iter()
            .find(|p| p.name.as_str() == "cached")
            .unwrap();
        assert_eq!(cached.value.as_str(), "true");
    }
}
