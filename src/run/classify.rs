//! Turning what a cell's command did into a result.
//!
//! Every command is an ordinary command: it passes or fails by its exit code; one killed by a
//! signal is an infrastructure error, never a test failure.

use std::time::Duration;

use crate::plan;
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
    }
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
            command: "make test".into(),
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
        }
    }

    #[test]
    fn plain_commands_pass_or_fail_by_exit_code() {
        assert_eq!(plain(&cell("6.1"), "true", &out(0, "")).outcome, Outcome::Pass);
        let r = plain(&cell("6.1"), "false", &out(2, "oops"));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.message.unwrap().contains("exit code 2"));
        let mut killed = out(0, "");
        killed.exit_code = None;
        killed.signal = Some(9);
        let r = plain(&cell("6.1"), "sleep 9", &killed);
        assert_eq!(r.outcome, Outcome::Error);
        assert!(r.message.as_deref().unwrap().contains("killed by signal 9"), "{r:?}");
    }
}
