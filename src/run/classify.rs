//! Turning what a cell's command printed into results.
//!
//! A cell's script passes or fails by its lines' exit codes; one killed by a signal is an
//! infrastructure error. When the test block declares `results`, the JUnit files the script wrote
//! are its testcases, each with the cell's expectations applied.
//!
//! Except: a guest kernel that panics while the command runs ([`CellOutput::fault`]) is the
//! command's failure: the command started, and what it did may be why (a program
//! that crashes the kernel). It is not retried. Faults before the guest's agent was ready (a panic
//! or a hang) are the infrastructure's: the boot is retried once and the result marked `flaky`.

use std::time::Duration;

use super::expect::Expectations;
use super::script::{self, Step};
use crate::plan::{self, KernelVersion};
use crate::report::{CellResult, Outcome};

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
    /// Set when the guest kernel panicked while the command ran: the test's own failure (not
    /// retried), with the kernel's words.
    pub fault: Option<String>,
    /// Set when the first boot failed before the guest's agent was ready and the command ran on a
    /// second one: how the first boot failed ([`crate::vm::Machine::flaky`]).
    pub flaky: Option<String>,
    /// The guest kernel's release (`uname -r`), once it booted.
    pub release: Option<String>,
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
        flaky: None,
    }
}

/// A guest kernel that panicked while the command ran: the command's failure, whatever it printed.
fn faulted(cell: &plan::Cell, command: &str, out: &CellOutput) -> Option<CellResult> {
    let fault = out.fault.as_ref()?;
    let mut r = bare(cell, command, Outcome::Fail, Some(fault.clone()));
    r.duration_ms = out.duration.as_millis() as u64;
    r.output = Some(tail(out));
    r.flaky = out.flaky.clone();
    Some(r)
}

/// The result of a plain command on `cell`: its exit code decides.
pub fn plain(cell: &plan::Cell, command: &str, out: &CellOutput) -> CellResult {
    if let Some(r) = faulted(cell, command, out) {
        return r;
    }
    let mut r = bare(cell, command, Outcome::Pass, None);
    r.flaky = out.flaky.clone();
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

/// The result of a cell's script of `lines` lines: the lines' exit codes, and the testcases of
/// the result files when the test declares any. A failing line is named, with its output's
/// tail, and every line that ran is a step of the result.
pub fn script(
    cell: &plan::Cell,
    command: &str,
    out: &CellOutput,
    lines: usize,
    expectations: &Expectations,
) -> CellResult {
    let failed = script::failed(&out.steps);
    let mut r = plain(cell, command, out);
    // A guest kernel that panicked while the script ran says more than the line it killed.
    if let Some(f) = failed.filter(|_| out.fault.is_none()) {
        if !r.outcome.is_failure() && !r.outcome.is_infra() {
            r.outcome = if f.exit_code.is_some() { Outcome::Fail } else { Outcome::Error };
        }
        r.message = Some(f.failure(lines));
        r.output = Some(tail(out));
    }
    r.steps = out.steps.iter().map(Step::result).collect();
    if r.release.is_none() {
        r.release = out.release.clone();
    }
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
            fault: None,
            flaky: None,
            release: None,
        }
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
        let r = script(&cell("6.1"), "cd /flywall\nmake test\nmake more", &o, 3, &e);
        assert_eq!(r.outcome, Outcome::Fail);
        let msg = r.message.unwrap();
        assert!(msg.starts_with("line 2 of 3 `make test` exited with status 2"), "{msg}");
        assert!(msg.contains("Error 2"), "{msg}");
        assert_eq!(r.steps.len(), 2);
        assert_eq!(r.steps[1].exit_code, Some(2));
    }

    #[test]
    fn plain_commands_pass_or_fail_by_exit_code() {
        assert_eq!(plain(&cell("6.1"), "true", &out(0, "")).outcome, Outcome::Pass);
        let r = plain(&cell("6.1"), "false", &out(2, "oops"));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.message.unwrap().contains("exit code 2"));
    }

    #[test]
    fn a_panic_while_the_command_ran_is_its_failure_and_flakiness_is_carried() {
        let mut crashed = out(0, "");
        crashed.exit_code = None;
        crashed.fault = Some("the guest failed while the command ran: the guest kernel of VM c panicked".into());
        for r in [
            plain(&cell("6.1"), "echo c > /proc/sysrq-trigger", &crashed),
            script(&cell("6.1"), "echo c > /proc/sysrq-trigger", &crashed, 1, &Expectations::new(&[]).unwrap()),
        ] {
            assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
            assert!(r.message.as_deref().unwrap().contains("panicked"), "{r:?}");
            assert!(r.flaky.is_none());
        }
        let mut second = out(0, "");
        second.flaky = Some("first boot failed (exit 6): ...".into());
        let r = plain(&cell("6.1"), "true", &second);
        assert_eq!(
            (r.outcome, r.flaky.as_deref()),
            (Outcome::Pass, Some("first boot failed (exit 6): ..."))
        );
        let r = script(&cell("6.1"), "true", &second, 1, &Expectations::new(&[]).unwrap());
        assert!(r.flaky.is_some(), "{r:?}");
    }
}
