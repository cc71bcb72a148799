//! Turning what a cell's command printed into results.
//!
//! A suite command (`orca suite --json`) prints one JSON document on stdout:
//! `{"kernel": "<uname -r>", "tests": [{"name", "outcome": "pass"|"fail"|"skip", "duration_ms",
//! "message", "verifier_log"}]}` and exits 0 (all passed) or 1 (a test failed). Each test gets its
//! verdict with the cell's expectations applied. Anything else — no JSON, a crash, another exit
//! code — is an infrastructure error, never a test failure: it says nothing about the programs.
//! A plain command passes or fails by its exit code.

use std::time::Duration;

use serde::Deserialize;

use super::expect::{self, Expectations, Verdict};
use super::script::Step;
use crate::plan::{self, KernelVersion};
use crate::report::{CellResult, Outcome, TestResult};

/// What a cell's command left behind.
#[derive(Debug, Clone, Default)]
pub struct CellOutput {
    /// The command's exit code; `None` when it was killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the start of the boot to the end of the command.
    pub duration: Duration,
    /// The script's lines as they ran (empty when the output carried no step markers).
    pub steps: Vec<Step>,
    /// The JUnit files the test's `results` globs matched in the guest, when it declares any.
    pub results: Option<super::results::Collected>,
}

/// The suite's document, as it prints it.
#[derive(Debug, Deserialize)]
struct SuiteDoc {
    kernel: Option<String>,
    tests: Vec<SuiteTest>,
}

#[derive(Debug, Deserialize)]
struct SuiteTest {
    name: String,
    outcome: Verdict,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    verifier_log: Option<String>,
}

/// How much of a failed command's output a report keeps.
const OUTPUT_TAIL_LINES: usize = 80;

/// A fresh result for `cell` with the given outcome and message, no tests.
pub fn bare(cell: &plan::Cell, command: &str, outcome: Outcome, message: Option<String>) -> CellResult {
    CellResult {
        id: cell.id.clone(),
        kernel: Some(cell.kernel.clone()),
        release: None,
        command: command.to_string(),
        outcome,
        duration_ms: 0,
        cached: false,
        tests: Vec::new(),
        message,
        output: None,
        steps: Vec::new(),
    }
}

/// The results of a suite command on `cell`.
pub fn suite(cell: &plan::Cell, command: &str, out: &CellOutput, expectations: &Expectations) -> CellResult {
    let mut r = bare(cell, command, Outcome::Error, None);
    r.duration_ms = out.duration.as_millis() as u64;
    let doc = match parse_doc(&out.stdout) {
        Ok(d) => d,
        Err(why) => {
            r.message = Some(format!(
                "the suite's output is not a result document ({why}); {}",
                exit_text(out)
            ));
            r.output = Some(tail(out));
            return r;
        }
    };
    if !matches!(out.exit_code, Some(0) | Some(1)) {
        r.message = Some(format!("the suite did not finish normally: {}", exit_text(out)));
        r.output = Some(tail(out));
        return r;
    }
    r.release = doc.kernel.filter(|k| !k.is_empty());
    // The catalog key says which kernel the cell meant; the guest's release is the fallback for
    // catalog keys that are not versions.
    let version = KernelVersion::parse(&cell.kernel).or_else(|| r.release.as_deref().and_then(KernelVersion::parse));
    for t in doc.tests {
        let expected = version.and_then(|v| expectations.failing_on(&t.name, v));
        let outcome = expect::outcome(t.outcome, expected.is_some());
        let message = match outcome {
            Outcome::UnexpectedPass => Some(format!(
                "passed on {} although expected to fail: the expectation is out of date",
                r.release.as_deref().unwrap_or(&cell.kernel)
            )),
            Outcome::Pass => None,
            _ => t.message.filter(|m| !m.is_empty()),
        };
        let keep_log = matches!(outcome, Outcome::Fail | Outcome::ExpectedFail);
        r.tests.push(TestResult {
            name: t.name,
            outcome,
            duration_ms: t.duration_ms,
            message,
            log: t.verifier_log.filter(|l| keep_log && !l.is_empty()),
            expectation: expected.map(expect::describe),
        });
    }
    r.outcome = Outcome::of_tests(r.tests.iter().map(|t| t.outcome));
    let failed = r
        .tests
        .iter()
        .any(|t| t.outcome == Outcome::Fail || t.outcome == Outcome::ExpectedFail);
    if out.exit_code == Some(1) && !failed {
        r.outcome = Outcome::Error;
        r.message = Some("the suite exited 1 but reported no failing test".into());
    } else if r.tests.is_empty() {
        r.message = Some("the suite ran no tests (does --test match any?)".into());
    }
    if r.outcome.is_failure() || r.outcome.is_infra() {
        r.output = Some(tail(out));
    }
    r
}

/// The result of a plain command on `cell`: its exit code decides.
pub fn plain(cell: &plan::Cell, command: &str, out: &CellOutput) -> CellResult {
    let mut r = bare(cell, command, Outcome::Pass, None);
    r.duration_ms = out.duration.as_millis() as u64;
    match out.exit_code {
        Some(0) => {}
        Some(_) => {
            r.outcome = Outcome::Fail;
            r.message = Some(format!("the command failed: {}", exit_text(out)));
            r.output = Some(tail(out));
        }
        None => {
            r.outcome = Outcome::Error;
            r.message = Some(format!("the command did not finish normally: {}", exit_text(out)));
            r.output = Some(tail(out));
        }
    }
    r
}

/// The result of a cell's script of `lines` lines: the suite's document when the line
/// `suite_line` ran it, else the lines' exit codes. A failing line is named, with its output's
/// tail, and every line that ran is a step of the result.
pub fn script(
    cell: &plan::Cell,
    command: &str,
    out: &CellOutput,
    suite_line: Option<usize>,
    lines: usize,
    expectations: &Expectations,
) -> CellResult {
    // The suite's own exit code is judged by its document (exit 1 with expected failures is fine).
    let failed = out
        .steps
        .iter()
        .find(|s| s.exit_code != Some(0) && Some(s.index) != suite_line);
    let suite_step = suite_line.and_then(|i| out.steps.iter().find(|s| s.index == i));
    let mut r = match (suite_step, suite_line) {
        (Some(step), _) => {
            let mut o = out.clone();
            o.exit_code = step.exit_code;
            suite(cell, command, &o, expectations)
        }
        // No markers came back (the shell itself could not start): the output is all there is.
        (None, Some(_)) if out.steps.is_empty() => suite(cell, command, out, expectations),
        _ => plain(cell, command, out),
    };
    if let Some(f) = failed {
        if !r.outcome.is_failure() && !r.outcome.is_infra() {
            r.outcome = if f.exit_code.is_some() { Outcome::Fail } else { Outcome::Error };
        }
        r.message = Some(f.failure(lines));
        r.output = Some(tail(out));
    }
    r.steps = out.steps.iter().map(Step::result).collect();
    if let Some(c) = &out.results {
        let version = KernelVersion::parse(&cell.kernel);
        match super::results::tests(c, version, expectations) {
            Ok(tests) => {
                let mut outcome = Outcome::of_tests(tests.iter().map(|t| t.outcome));
                // A runner exits non-zero when a test fails: when every failure is one the
                // expectations foresaw, the failing line is explained by them.
                let foreseen = failed.is_some()
                    && tests.iter().any(|t| t.outcome == Outcome::ExpectedFail)
                    && tests.iter().all(|t| !t.outcome.is_failure() && !t.outcome.is_infra());
                if failed.is_some() && !foreseen && !outcome.is_failure() {
                    outcome = r.outcome;
                } else if foreseen {
                    r.message = None;
                    r.output = None;
                }
                if tests.is_empty() && r.outcome == Outcome::Pass {
                    r.message = Some("the result files hold no test cases".into());
                }
                r.tests = tests;
                if !r.tests.is_empty() {
                    r.outcome = outcome;
                }
            }
            Err(why) => {
                let step = r.message.take();
                r.message = Some(match step {
                    Some(s) => format!("{s}; and {why}"),
                    None => why,
                });
                if !r.outcome.is_failure() {
                    r.outcome = Outcome::Error;
                }
                r.output = Some(tail(out));
            }
        }
    }
    r
}

/// The document is the whole of stdout, or, when something printed before it, its last line that
/// parses.
fn parse_doc(stdout: &str) -> Result<SuiteDoc, String> {
    let whole = serde_json::from_str::<SuiteDoc>(stdout.trim());
    match whole {
        Ok(d) => Ok(d),
        Err(e) => stdout
            .lines()
            .rev()
            .filter(|l| l.trim_start().starts_with('{'))
            .find_map(|l| serde_json::from_str::<SuiteDoc>(l.trim()).ok())
            .ok_or_else(|| {
                if stdout.trim().is_empty() {
                    "it printed nothing".to_string()
                } else {
                    e.to_string()
                }
            }),
    }
}

fn exit_text(out: &CellOutput) -> String {
    match out.exit_code {
        Some(c) => format!("exit code {c}"),
        None => match out.signal {
            Some(s) => format!("killed by signal {s}"),
            None => "killed by a signal".to_string(),
        },
    }
}

/// The last lines of stderr then stdout, for a failure's report.
fn tail(out: &CellOutput) -> String {
    let mut text = String::new();
    for (name, s) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
        if s.trim().is_empty() {
            continue;
        }
        let lines: Vec<&str> = s.lines().collect();
        let skip = lines.len().saturating_sub(OUTPUT_TAIL_LINES);
        if skip > 0 {
            text.push_str(&format!(
                "--- {name} (last {OUTPUT_TAIL_LINES} of {} lines) ---\n",
                lines.len()
            ));
        } else {
            text.push_str(&format!("--- {name} ---\n"));
        }
        for l in &lines[skip..] {
            text.push_str(l);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Expectation;

    fn cell(kernel: &str) -> plan::Cell {
        plan::Cell {
            id: format!("{kernel}/0"),
            name: kernel.into(),
            image: "host".into(),
            kernel: kernel.into(),
            command: "orca suite".into(),
            unavailable: None,
        }
    }

    fn out(code: i32, stdout: &str) -> CellOutput {
        CellOutput {
            exit_code: Some(code),
            stdout: stdout.into(),
            stderr: "boot noise\n".into(),
            duration: Duration::from_secs(3),
            signal: None,
            steps: Vec::new(),
            results: None,
        }
    }

    const DOC: &str = r#"{"kernel":"5.10.0-35-amd64","tests":[
        {"name":"xdp_blocklist/ipv4_blocked","outcome":"pass","duration_ms":12,"message":null,"verifier_log":null},
        {"name":"cgroup_events/loop","outcome":"fail","duration_ms":3,"message":"load failed","verifier_log":"unknown func bpf_loop#181"},
        {"name":"tc_egress_policy/ipv6","outcome":"skip","duration_ms":0,"message":"no ipv6","verifier_log":null}]}"#;

    fn expectations() -> Vec<Expectation> {
        vec![Expectation {
            test: "cgroup_events/*".into(),
            min_kernel: "5.17".into(),
            reason: Some("uses bpf_loop".into()),
        }]
    }

    #[test]
    fn an_old_kernel_failing_as_expected_is_an_expected_failure_with_the_verifier_log() {
        let list = expectations();
        let e = Expectations::new(&list).unwrap();
        let r = suite(&cell("5.10"), "orca suite", &out(1, DOC), &e);
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
        assert_eq!(r.release.as_deref(), Some("5.10.0-35-amd64"));
        let t = &r.tests[1];
        assert_eq!(t.outcome, Outcome::ExpectedFail);
        assert_eq!(t.log.as_deref(), Some("unknown func bpf_loop#181"));
        assert_eq!(t.expectation.as_deref(), Some("needs kernel >= 5.17: uses bpf_loop"));
        assert_eq!(r.tests[2].outcome, Outcome::Skip);
        assert!(r.output.is_none(), "a matching cell keeps no output");
    }

    #[test]
    fn the_same_failure_on_a_new_kernel_is_a_failure() {
        let list = expectations();
        let e = Expectations::new(&list).unwrap();
        let r = suite(&cell("6.1"), "orca suite", &out(1, DOC), &e);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.tests[1].outcome, Outcome::Fail);
        assert_eq!(r.tests[1].log.as_deref(), Some("unknown func bpf_loop#181"));
        assert!(r.output.as_deref().unwrap().contains("boot noise"));
    }

    #[test]
    fn a_pass_below_min_kernel_is_an_unexpected_pass() {
        let list = expectations();
        let e = Expectations::new(&list).unwrap();
        let doc = DOC.replace(r#""outcome":"fail""#, r#""outcome":"pass""#);
        let r = suite(&cell("5.10"), "orca suite", &out(0, &doc), &e);
        assert_eq!(r.tests[1].outcome, Outcome::UnexpectedPass);
        assert_eq!(r.outcome, Outcome::UnexpectedPass);
        assert!(r.tests[1].message.as_deref().unwrap().contains("expectation"));
    }

    #[test]
    fn garbage_or_a_crash_is_an_infrastructure_error() {
        let e = Expectations::new(&[]).unwrap();
        let r = suite(&cell("6.1"), "orca suite", &out(0, "Segmentation fault"), &e);
        assert_eq!(r.outcome, Outcome::Error);
        assert!(r.message.as_deref().unwrap().contains("not a result document"), "{r:?}");
        let r = suite(&cell("6.1"), "orca suite", &out(139, DOC), &e);
        assert_eq!(r.outcome, Outcome::Error);
        let mut killed = out(0, DOC);
        killed.exit_code = None;
        killed.signal = Some(9);
        let r = suite(&cell("6.1"), "orca suite", &killed, &e);
        assert_eq!(r.outcome, Outcome::Error);
        assert!(r.message.as_deref().unwrap().contains("killed by signal 9"), "{r:?}");
        let r = suite(
            &cell("6.1"),
            "orca suite",
            &out(1, r#"{"kernel":"6.1","tests":[]}"#),
            &e,
        );
        assert_eq!(
            r.outcome,
            Outcome::Error,
            "exit 1 with nothing failing is not a test failure"
        );
    }

    #[test]
    fn the_document_may_follow_other_output() {
        let e = Expectations::new(&[]).unwrap();
        let stdout = format!("loading objects...\n{}\n", DOC.replace('\n', ""));
        let r = suite(&cell("6.1"), "orca suite", &out(1, &stdout), &e);
        assert_eq!(r.tests.len(), 3);
    }

    fn step(index: usize, command: &str, code: i32, stderr: &str) -> Step {
        Step {
            index,
            command: command.into(),
            exit_code: Some(code),
            duration: Duration::from_millis(10),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_failing_line_of_a_script_is_named_with_its_output() {
        let e = Expectations::new(&[]).unwrap();
        let mut o = out(2, "");
        o.steps = vec![step(0, "cd /flywall", 0, ""), step(1, "make test", 2, "make: *** [test] Error 2\n")];
        let r = script(&cell("6.1"), "cd /flywall\nmake test\nmake more", &o, None, 3, &e);
        assert_eq!(r.outcome, Outcome::Fail);
        let msg = r.message.unwrap();
        assert!(msg.starts_with("line 2 of 3 `make test` exited with status 2"), "{msg}");
        assert!(msg.contains("Error 2"), "{msg}");
        assert_eq!(r.steps.len(), 2);
        assert_eq!(r.steps[1].exit_code, Some(2));
        // A line failing before the suite's line: the suite never ran, the line is the failure.
        let r = script(&cell("6.1"), "x", &o, Some(2), 3, &e);
        assert_eq!(r.outcome, Outcome::Fail);
        // The suite's line ran and printed its document; a later line failed: both are seen.
        let mut o = out(3, DOC);
        o.steps = vec![step(0, "orca suite", 1, ""), step(1, "false", 3, "")];
        let list = expectations();
        let e = Expectations::new(&list).unwrap();
        let r = script(&cell("5.10"), "x", &o, Some(0), 2, &e);
        assert_eq!(r.tests.len(), 3);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.message.unwrap().contains("line 2 of 2 `false`"));
    }

    #[test]
    fn plain_commands_pass_or_fail_by_exit_code() {
        assert_eq!(plain(&cell("6.1"), "true", &out(0, "")).outcome, Outcome::Pass);
        let r = plain(&cell("6.1"), "false", &out(2, "oops"));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.message.unwrap().contains("exit code 2"));
    }
}
