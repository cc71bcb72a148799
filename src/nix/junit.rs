//! Reading a nix matrix cell's `junit.xml` (written in the NixOS test by `nix/cell_report.py`, from
//! the test block's script and the JUnit files its `results` name) back into the results model, so
//! the nix backend reports exactly what the native one would.
//!
//! Each test case carries its raw verdict (`orca.verdict`) and the outcome after the kernel
//! expectations (`orca.outcome`); the suite carries the script's own outcome (`orca.script`), the
//! cell's (`orca.outcome`), its message and, when the result files could not be had, why
//! (`orca.results-error`). orca recomputes each test's and the cell's outcome the way the native
//! backend does (`run::classify::script`), and refuses a report that disagrees: that would mean the
//! flake and orca judge cells differently. A cell without test cases has one case for the script
//! (`orca.kind = script`), which is not a test.

use std::time::Duration;

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus};

use crate::error::Exit;
use crate::fail;
use crate::plan::{Cell, Expectation, KernelVersion};
use crate::report::{CellResult, Outcome, TestResult};
use crate::run::expect::{Expectations, Verdict, describe, outcome};

/// Parses one cell's JUnit into its result. `cell` is the plan's cell the JUnit was built for and
/// `expectations` the matrix's; `wall` is how long the cell took to build.
pub fn cell_result(xml: &str, cell: &Cell, expectations: &[Expectation], wall: Duration) -> Result<CellResult> {
    let junit = JUnit::deserialize_from_str(xml).map_err(|e| fail!(Exit::Infra, "not a JUnit report: {e}"))?;
    let suite = junit
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == cell.id)
        .ok_or_else(|| fail!(Exit::Infra, "the JUnit report has no test suite for cell {:?}", cell.id))?;
    let prop = |name: &str| {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.to_string())
    };
    let kernel = KernelVersion::parse(&cell.kernel);
    let expectations = Expectations::new(expectations)?;
    let is_script = |case: &&TestCase| {
        case.properties
            .iter()
            .any(|p| p.name.as_str() == "orca.kind" && p.value.as_str() == "script")
    };
    let tests = suite
        .test_cases
        .iter()
        .filter(|c| !is_script(c))
        .map(|case| test_result(case, &expectations, kernel))
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("cell {}", cell.id))?;
    let script = match prop("orca.script").as_deref() {
        Some(s) => {
            outcome_from_name(s).ok_or_else(|| fail!(Exit::Infra, "cell {}: unknown script outcome {s:?}", cell.id))?
        }
        // A report not written by cell_report.py: its tests alone.
        None => Outcome::Pass,
    };
    let outcome = judge(script, &tests, prop("orca.results-error").is_some());
    if let Some(reported) = prop("orca.outcome")
        && reported != outcome_name(outcome)
    {
        return Err(fail!(
            Exit::Infra,
            "cell {}: the flake reported {reported:?} but orca's rules give {:?}; \
             nix/cell_report.py disagrees with orca",
            cell.id,
            outcome_name(outcome)
        ));
    }
    let message = prop("orca.message").or_else(|| failed_names(&tests));
    Ok(CellResult {
        id: cell.id.clone(),
        kernel: Some(cell.kernel.clone()),
        release: prop("orca.release"),
        command: cell.command.clone(),
        outcome,
        duration_ms: wall.as_millis() as u64,
        cached: false,
        message,
        tests,
        output: None,
        steps: Vec::new(),
        flaky: None,
    })
}

/// A cell's outcome from its script's and its tests' (the rule of `run::classify::script`): result
/// files that could not be had are an error (a failed script stays failed); a failing test fails
/// the cell; a failing script fails it too unless every failure its tests report was expected;
/// without tests, the script's outcome.
pub fn judge(script: Outcome, tests: &[TestResult], results_error: bool) -> Outcome {
    if results_error {
        return if script.is_failure() { script } else { Outcome::Error };
    }
    if tests.is_empty() {
        return script;
    }
    let mut outcome = Outcome::of_tests(tests.iter().map(|t| t.outcome));
    let failed = script != Outcome::Pass;
    let foreseen = failed
        && tests.iter().any(|t| t.outcome == Outcome::ExpectedFail)
        && tests.iter().all(|t| !t.outcome.is_failure() && !t.outcome.is_infra());
    if failed && !foreseen && !outcome.is_failure() {
        outcome = script;
    }
    outcome
}

fn outcome_from_name(name: &str) -> Option<Outcome> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

fn failed_names(tests: &[TestResult]) -> Option<String> {
    let failed: Vec<&str> = tests
        .iter()
        .filter(|t| t.outcome.is_failure())
        .map(|t| t.name.as_str())
        .collect();
    (!failed.is_empty()).then(|| format!("failed: {}", failed.join(", ")))
}

fn test_result(case: &TestCase, expectations: &Expectations, kernel: Option<KernelVersion>) -> Result<TestResult> {
    let name = case.name.to_string();
    let prop = |p: &str| {
        case.properties
            .iter()
            .find(|x| x.name.as_str() == p)
            .map(|x| x.value.to_string())
    };
    let verdict = match prop("orca.verdict").as_deref() {
        Some("pass") => Verdict::Pass,
        Some("fail") => Verdict::Fail,
        Some("skip") => Verdict::Skip,
        // A report not written by cell_report.py: read the verdict from the JUnit status.
        None => match &case.status {
            TestCaseStatus::Success { .. } => Verdict::Pass,
            TestCaseStatus::Skipped { .. } => Verdict::Skip,
            TestCaseStatus::NonSuccess { .. } => Verdict::Fail,
        },
        Some(other) => return Err(fail!(Exit::Infra, "test {name:?}: unknown verdict {other:?}")),
    };
    let expectation = kernel.and_then(|k| expectations.failing_on(&name, k));
    let outcome = outcome(verdict, expectation.is_some());
    if let Some(reported) = prop("orca.outcome")
        && reported != outcome_name(outcome)
    {
        return Err(fail!(
            Exit::Infra,
            "test {name:?}: the flake reported {reported:?} but orca's expectations give {:?}; \
             nix/generated/ is stale or nix/cell_report.py disagrees with orca",
            outcome_name(outcome)
        ));
    }
    let (message, log) = match &case.status {
        TestCaseStatus::NonSuccess {
            message,
            description,
            kind,
            ..
        } => (
            message.as_ref().map(|m| m.to_string()),
            description
                .as_ref()
                .map(|d| d.to_string())
                .filter(|d| !d.is_empty())
                .or_else(|| {
                    (*kind == NonSuccessKind::Error)
                        .then(|| case.system_out.as_ref().map(|s| s.to_string()))
                        .flatten()
                }),
        ),
        TestCaseStatus::Skipped { message, .. } => (message.as_ref().map(|m| m.to_string()), None),
        TestCaseStatus::Success { .. } => (None, None),
    };
    let log = log.or_else(|| case.system_out.as_ref().map(|s| s.to_string()));
    Ok(TestResult {
        name,
        outcome,
        duration_ms: case.time.map(|t| t.as_millis() as u64).unwrap_or(0),
        message: if outcome == Outcome::Pass { None } else { message },
        log,
        expectation: expectation.map(describe),
    })
}

/// The kebab-case name `report::Outcome` serializes to, which cell_report.py writes.
fn outcome_name(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}
