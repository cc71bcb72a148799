//! Host stages: each command runs with `sh -c` in the project root, its output appended to the
//! stage's log, under what is left of the stage's deadline.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Exit, exit_of};
use crate::report::Outcome;

/// How running a stage's commands ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub outcome: Outcome,
    /// Why, for anything but a pass.
    pub message: Option<String>,
    /// For VM stages: the guest's `uname -r` and the acceleration used, once booted.
    pub release: Option<String>,
    pub accel: Option<String>,
    /// For VM stages booted twice: how the first boot failed (see `Machine::flaky`).
    pub flaky: Option<String>,
}

impl Ran {
    pub fn pass() -> Ran {
        Ran {
            outcome: Outcome::Pass,
            message: None,
            release: None,
            accel: None,
            flaky: None,
        }
    }
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Ran {
        Ran {
            outcome,
            message: Some(message.into()),
            release: None,
            accel: None,
            flaky: None,
        }
    }
}

/// Runs `commands` in order on the host; the first failure ends the stage.
pub fn run(commands: &[String], root: &Path, env: &[(String, String)], log: &mut File, deadline: Instant) -> Ran {
    for (i, command) in commands.iter().enumerate() {
        let _ = writeln!(log, "$ {command}");
        let ran = run_one(command, root, env, log, deadline);
        let ran = match ran {
            Ok(Some(0)) => continue,
            // Ctrl-C killed the command's group: say so rather than blame the command.
            Ok(_) if crate::process::interrupted() => {
                Ran::new(Outcome::Error, format!("command {} `{command}` was interrupted", i + 1))
            }
            Ok(code) => Ran::new(
                Outcome::Fail,
                format!(
                    "command {} `{command}` {}",
                    i + 1,
                    code.map_or("was killed by a signal".into(), |c| format!("exited with status {c}"))
                ),
            ),
            Err(e) => {
                let what = match exit_of(&e) {
                    Exit::Timeout => "passed the stage's deadline".to_string(),
                    Exit::Interrupted => "was interrupted".to_string(),
                    _ => format!("could not run: {e:#}"),
                };
                Ran::new(Outcome::Error, format!("command {} `{command}` {what}", i + 1))
            }
        };
        let _ = writeln!(log, "orca: {}", ran.message.as_deref().unwrap_or_default());
        return ran;
    }
    Ran::pass()
}

fn run_one(
    command: &str,
    root: &Path,
    env: &[(String, String)],
    log: &File,
    deadline: Instant,
) -> anyhow::Result<Option<i32>> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(root).stdin(Stdio::null());
    cmd.stdout(log.try_clone()?).stderr(log.try_clone()?);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = crate::process::spawn(&mut cmd, &format!("`{command}`"))?;
    let left = deadline.saturating_duration_since(Instant::now());
    Ok(child.wait_deadline(left)?.code())
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
        assert!(
            ran.message
                .unwrap()
                .contains("command 2 `echo two >&2; exit 4` exited with status 4")
        );
        assert!(
            log.contains("one s\n") && log.contains("two\n") && !log.contains("three\n"),
            "{log}"
        );
    }

    #[test]
    fn the_deadline_is_an_infrastructure_error() {
        let start = Instant::now();
        let (ran, _) = go(&["sleep 30"], 1);
        assert_eq!(ran.outcome, Outcome::Error);
        assert!(ran.message.unwrap().contains("deadline"));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
