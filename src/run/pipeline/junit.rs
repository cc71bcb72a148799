//! JUnit XML for a pipeline run: one test suite, one test case per stage, then the test cases of
//! each stage's result files (class `PIPELINE.STAGE`).

use std::time::Duration;

use anyhow::Result;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::report::{Outcome, Report};

pub fn render(report: &Report) -> Result<String> {
    let mut suite = TestSuite::new(report.kind.clone());
    for c in &report.cells {
        let mut status = match c.outcome {
            Outcome::Pass | Outcome::ExpectedFail => TestCaseStatus::success(),
            Outcome::Fail | Outcome::UnexpectedPass => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Outcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
            Outcome::Skip | Outcome::Unavailable => TestCaseStatus::skipped(),
        };
        if let Some(m) = &c.message {
            status.set_message(m.clone());
        }
        if let (Some(out), TestCaseStatus::NonSuccess { .. }) = (&c.output, &status) {
            status.set_description(out.clone());
        }
        let mut case = TestCase::new(c.id.clone(), status);
        case.set_classname(report.kind.clone());
        case.set_time(Duration::from_millis(c.duration_ms));
        if c.cached {
            case.add_property(("cached", "true"));
        }
        suite.add_test_case(case);
        let class = format!("{}.{}", report.kind, c.id);
        for t in &c.tests {
            suite.add_test_case(crate::report::junit::case(t, &class, None, None));
        }
    }
    let mut r = quick_junit::Report::new("orca");
    r.set_time(Duration::from_millis(report.wall_ms));
    r.add_test_suite(suite);
    Ok(r.to_string()?)
}
