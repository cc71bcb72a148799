//! Running clang: `process::spawn` (own process group, dies with orca, killed on Ctrl-C) with a
//! blocking wait instead of `process::run`'s polling.
//!
//! `process::run` checks a child with naps that grow to 50 ms, so a finished clang is noticed
//! ~10-25 ms late on average, several percent of a small program's compile. Here a thread blocks
//! in wait(2) and the deadline is a timed channel receive.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::Exit;
use crate::fail;
use crate::process::{self, Output};

/// Runs `cmd` to completion with captured output. Past `deadline` its process group is killed
/// and the error is `Exit::Timeout`; on Ctrl-C it is `Exit::Interrupted`.
pub fn run(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = process::spawn(cmd, what)?;
    let pgid = child.id() as i32;
    let mut out_pipe = child.inner().stdout.take().context("stdout pipe")?;
    let mut err_pipe = child.inner().stderr.take().context("stderr pipe")?;
    let (done_tx, done_rx) = mpsc::channel();
    let (status, stdout, stderr, timed_out) = std::thread::scope(|s| {
        let out_t = s.spawn(move || {
            let mut v = Vec::new();
            let _ = out_pipe.read_to_end(&mut v);
            v
        });
        let err_t = s.spawn(move || {
            let mut v = Vec::new();
            let _ = err_pipe.read_to_end(&mut v);
            v
        });
        let inner = child.inner();
        let waiter = s.spawn(move || {
            let st = inner.wait();
            let _ = done_tx.send(());
            st
        });
        let timed_out = done_rx.recv_timeout(deadline).is_err();
        if timed_out {
            // SAFETY: kill(2) on the child's own process group, which is still ours to reap.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        let status = waiter
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("waiter panicked")));
        (
            status,
            out_t.join().unwrap_or_default(),
            err_t.join().unwrap_or_default(),
            timed_out,
        )
    });
    // Reaped already; this records it and kills anything the leader left in its group.
    let _ = child.try_wait();
    let status = status.with_context(|| format!("waiting for {what}"))?;
    if process::interrupted() {
        return Err(fail!(Exit::Interrupted, "{what}: interrupted"));
    }
    if timed_out {
        return Err(fail!(
            Exit::Timeout,
            "{what}: did not finish within {}",
            crate::ui::duration(deadline)
        ));
    }
    Ok(Output { status, stdout, stderr })
}

/// Like [`run`], but a non-zero exit is an `Exit::Infra` error quoting the command's stderr.
pub fn run_ok(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    let out = run(cmd, what, deadline)?;
    if !out.status.success() {
        return Err(fail!(
            Exit::Infra,
            "{what} failed ({}):\n{}",
            out.status,
            out.stderr_str().trim_end()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            "sh",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(out.stderr_str(), "err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn the_deadline_kills_the_group() {
        let t = std::time::Instant::now();
        let err = run(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            "sleeper",
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(crate::error::exit_of(&err), Exit::Timeout);
        // The grandchild held the pipes open; it died with the group, or this would take 30 s.
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_quick_child_is_noticed_at_once() {
        let t = std::time::Instant::now();
        for _ in 0..10 {
            run(&mut Command::new("true"), "true", Duration::from_secs(10)).unwrap();
        }
        assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
    }
}
