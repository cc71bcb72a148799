//! What the suite needs from its host process: errors that carry an exit code and a hint,
//! Ctrl-C handling, subprocesses with a deadline, scratch folders and durations as people read
//! them. The exit codes are orca's (README, "Exit codes"), so a cell reads the same either way.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

/// Exit codes, as orca documents them.
pub const EXIT_TEST_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INFRA: u8 = 3;
pub const EXIT_TIMEOUT: u8 = 124;
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure with a fixed exit code and an optional "how to fix it" hint.
#[derive(Debug)]
pub struct Fail {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn new(code: u8, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Fail {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// A bad argument: exit 2 with a hint.
pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Fail::new(EXIT_USAGE, message).hint(hint).into()
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT, SIGTERM or SIGHUP arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails with exit 130 if a signal arrived; call between steps of long work.
pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        return Err(Fail::new(EXIT_INTERRUPTED, "interrupted").into());
    }
    Ok(())
}

extern "C" fn on_signal(_sig: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // A second signal means "now".
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(EXIT_INTERRUPTED as i32) };
    }
}

/// The first SIGINT/SIGTERM/SIGHUP lets the running test finish and marks the rest not run.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches an atomic and calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The captured result of [`run`].
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` in its own process group with captured output; past `deadline` the group is
/// killed and the error exits 124.
pub fn run(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| Fail::new(EXIT_INFRA, format!("cannot start {what}: {e}")))?;
    let pgid = child.id() as i32;
    let mut out_pipe = child.stdout.take().context("stdout pipe")?;
    let mut err_pipe = child.stderr.take().context("stderr pipe")?;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
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
        let child = &mut child;
        let waiter = s.spawn(move || {
            let st = child.wait();
            let _ = done_tx.send(());
            st
        });
        let timed_out = done_rx.recv_timeout(deadline).is_err();
        if timed_out {
            // SAFETY: kill(2) on the child's own process group.
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
    // Anything the leader left behind in its group goes with it.
    // SAFETY: kill(2) on the group we created; ESRCH when it is empty.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let status = status.with_context(|| format!("waiting for {what}"))?;
    if timed_out {
        return Err(Fail::new(EXIT_TIMEOUT, format!("{what}: did not finish within {}", duration(deadline))).into());
    }
    Ok(Output { status, stdout, stderr })
}

/// Like [`run`], but a non-zero exit is an error that quotes the tail of the command's stderr.
pub fn run_ok(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    let out = run(cmd, what, deadline)?;
    if !out.status.success() {
        let err = out.stderr_str();
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        return Err(Fail::new(EXIT_INFRA, format!("{what} failed ({}):\n{tail}", out.status)).into());
    }
    Ok(out)
}

/// A scratch folder under the system's temporary directory, removed when dropped.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("creating a temporary directory")
}

/// A duration as people read it: `12ms`, `3.4s`, `2m05s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Whether `CI` is on (set, and not empty, `0` or `false`), read the way orca reads it: orca runs
/// every matrix cell with `CI=true`, so a test whose prerequisite is missing fails there instead of
/// skipping.
pub fn ci_enabled() -> bool {
    std::env::var_os("CI").is_some_and(|v| {
        let v = v.to_string_lossy();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}
