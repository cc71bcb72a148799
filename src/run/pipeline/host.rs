//! Host stages: the stage's commands run as one script ([`Script`]) with `/bin/sh` in the project
//! root: line after line in one shell, stopping at the first failing line, state carried over.
//! The output is appended to the stage's log, under what is left of the stage's deadline. The
//! stage's `results` globs are then expanded in the project root and their JUnit files read.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Exit, exit_of};
use crate::report::{Outcome, StepResult, TestResult};
use crate::run::results::{self, Collected};
use crate::run::script::{self, Script, Step};

/// How running a stage's commands ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub outcome: Outcome,
    /// Why, for anything but a pass.
    pub message: Option<String>,
    /// For VM stages: the guest's `uname -r` and the acceleration used, once booted.
    pub release: Option<String>,
    pub accel: Option<String>,
    /// The script's lines as they ran.
    pub steps: Vec<StepResult>,
    /// For VM stages booted twice: how the first boot failed (see `Machine::flaky`).
    pub flaky: Option<String>,
    /// The test cases of the stage's `results` files.
    pub tests: Vec<TestResult>,
}

impl Ran {
    pub fn pass() -> Ran {
        Ran {
            outcome: Outcome::Pass,
            message: None,
            release: None,
            accel: None,
            steps: Vec::new(),
            flaky: None,
            tests: Vec::new(),
        }
    }
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Ran {
        Ran {
            message: Some(message.into()),
            flaky: None,
            ..Ran::pass()
        }
        .with_outcome(outcome)
    }
    fn with_outcome(mut self, outcome: Outcome) -> Ran {
        self.outcome = outcome;
        self
    }

    /// How a script of `lines` lines ended, from its steps and the shell's exit code: a pass, or
    /// the first failing line named with the tail of its output.
    pub fn of_script(steps: &[Step], lines: usize, code: Option<i32>) -> Ran {
        let mut ran = match script::failed(steps) {
            None if code == Some(0) => Ran::pass(),
            None => Ran::new(
                Outcome::Fail,
                format!(
                    "the script {}",
                    code.map_or("was killed by a signal".into(), |c| format!("exited with status {c}"))
                ),
            ),
            Some(f) => Ran::new(Outcome::Fail, f.failure(lines)),
        };
        ran.steps = steps.iter().map(Step::result).collect();
        ran
    }

    /// Takes in the stage's result files (see [`results::stage`]): their test cases become the
    /// stage's tests, and its outcome the worst of theirs and the script's.
    pub fn with_results(mut self, collected: Result<Collected, String>) -> Ran {
        let (outcome, message, tests) = results::stage(self.outcome, self.message.take(), collected);
        (self.outcome, self.message, self.tests) = (outcome, message, tests);
        self
    }
}

/// Runs `commands` as one script on the host; the first failing line ends the stage. Then the
/// JUnit files the `results` globs match in `root` are read into the stage's tests.
pub fn run(
    commands: &[String],
    results: &[String],
    root: &Path,
    env: &[(String, String)],
    log: &mut File,
    deadline: Instant,
) -> Ran {
    let script = Script::new(commands);
    let ran = match run_script(&script, root, env, log, deadline) {
        Ok((steps, code)) if crate::process::interrupted() && code != Some(0) => {
            let mut r = Ran::new(Outcome::Error, "the stage's script was interrupted");
            r.steps = steps.iter().map(Step::result).collect();
            r
        }
        Ok((steps, code)) if results.is_empty() => Ran::of_script(&steps, commands.len(), code),
        Ok((steps, code)) => {
            Ran::of_script(&steps, commands.len(), code).with_results(results::collect_host(root, results))
        }
        Err(e) => {
            let what = match exit_of(&e) {
                Exit::Timeout => "passed the stage's deadline".to_string(),
                Exit::Interrupted => "was interrupted".to_string(),
                _ => format!("could not run: {e:#}"),
            };
            Ran::new(Outcome::Error, format!("the stage's script {what}"))
        }
    };
    if let Some(m) = &ran.message {
        let _ = writeln!(log, "orca: {m}");
    }
    ran
}

/// Runs the script, its output (markers taken out) into `log`; its steps and exit code.
fn run_script(
    script: &Script,
    root: &Path,
    env: &[(String, String)],
    log: &mut File,
    deadline: Instant,
) -> anyhow::Result<(Vec<Step>, Option<i32>)> {
    for (i, l) in script.lines.iter().enumerate() {
        let _ = writeln!(log, "$ [{}] {l}", i + 1);
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script.text()).current_dir(root).stdin(Stdio::null());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = crate::process::spawn(&mut cmd, "the stage's script")?;
    let stdout = child.inner().stdout.take();
    let stderr = child.inner().stderr.take();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>, Instant)>();
    let mut splitter = script.splitter();
    let status = std::thread::scope(|scope| {
        for (n, pipe) in [
            (script::STDOUT, stdout.map(|p| Box::new(p) as Box<dyn Read + Send>)),
            (script::STDERR, stderr.map(|p| Box::new(p) as Box<dyn Read + Send>)),
        ] {
            let Some(mut pipe) = pipe else { continue };
            let tx = tx.clone();
            scope.spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(k) = pipe.read(&mut buf) {
                    if k == 0 || tx.send((n, buf[..k].to_vec(), Instant::now())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let splitter = &mut splitter;
        let log = &mut *log;
        let pump = scope.spawn(move || {
            for (n, bytes, at) in rx {
                let _ = log.write_all(&splitter.feed(n, &bytes, at));
            }
            for n in [script::STDOUT, script::STDERR] {
                let _ = log.write_all(&splitter.flush(n));
            }
        });
        let left = deadline.saturating_duration_since(Instant::now());
        let status = child.wait_deadline(left);
        // The group is gone; the pipes close and the pump drains what is left.
        let _ = pump.join();
        status
    })?;
    Ok((splitter.finish(status.code(), Instant::now()), status.code()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn go(commands: &[&str], secs: u64) -> (Ran, String) {
        let d = tempfile::tempdir().unwrap();
        let log_path = d.path().join("log");
        let mut log = File::create(&log_path).unwrap();
        let cmds: Vec<String> = commands.iter().map(|c| c.to_string()).collect();
        let env = vec![("ORCA_STAGE".to_string(), "s".to_string())];
        let ran = run(
            &cmds,
            &[],
            d.path(),
            &env,
            &mut log,
            Instant::now() + Duration::from_secs(secs),
        );
        (ran, std::fs::read_to_string(log_path).unwrap())
    }

    #[test]
    fn commands_run_in_order_and_the_first_failure_stops_the_stage() {
        let (ran, log) = go(&["echo one $ORCA_STAGE", "echo two >&2; exit 4", "echo three"], 30);
        assert_eq!(ran.outcome, Outcome::Fail);
        let msg = ran.message.unwrap();
        assert!(
            msg.starts_with("line 2 of 3 `echo two >&2; exit 4` exited with status 4"),
            "{msg}"
        );
        assert_eq!(ran.steps.len(), 2);
        assert!(
            log.contains("\none s\n") && log.contains("\ntwo\n") && !log.contains("\nthree\n"),
            "{log}"
        );
    }

    #[test]
    fn the_commands_are_one_script_whose_state_carries_over() {
        let (ran, log) = go(&["cd /tmp", "export X=1", "echo in $(pwd) X=$X"], 30);
        assert_eq!(ran.outcome, Outcome::Pass, "{ran:?}");
        assert!(log.contains("in /tmp X=1\n"), "{log}");
        assert!(!log.contains('\x1e'), "markers stay out of the log: {log:?}");
        assert_eq!(ran.steps.len(), 3);
        assert_eq!(ran.steps[2].output.as_deref(), Some("in /tmp X=1\n"));
    }

    #[test]
    fn the_deadline_is_an_infrastructure_error() {
        let start = Instant::now();
        let (ran, _) = go(&["sleep 120"], 1);
        assert_eq!(ran.outcome, Outcome::Error);
        assert!(ran.message.unwrap().contains("deadline"));
        // orca's own 1 s deadline, checked against the command's 120 s, not the machine's speed:
        // orca killed the command instead of waiting for it.
        assert!(start.elapsed() < Duration::from_secs(120), "{:?}", start.elapsed());
    }
}
