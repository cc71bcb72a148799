//! Subprocesses with deadlines, and cleanup on every exit path.
//!
//! Every child orca starts goes through [`spawn`]: it gets its own process group, dies with orca
//! (`PR_SET_PDEATHSIG`), and is registered so that a Ctrl-C or SIGTERM kills its whole group from
//! the signal handler. A [`Child`] kills its group when dropped, so an early return or a panic
//! unwinding through a caller leaves nothing running.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub use crate::error::interrupted;
use crate::error::{Exit, INTERRUPTED};
use crate::fail;

/// Process groups to kill on a signal. A fixed array of atomics, because the signal handler may
/// touch nothing that allocates or locks.
const SLOTS: usize = 256;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

/// Fails with `Exit::Interrupted` if a signal arrived; call between steps of long work.
pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        return Err(fail!(Exit::Interrupted, "interrupted"));
    }
    Ok(())
}

extern "C" fn on_signal(sig: libc::c_int) {
    let again = INTERRUPTED.swap(true, Ordering::SeqCst);
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    if again || sig == libc::SIGHUP {
        // A second Ctrl-C means "now": children are gone, so leave at once.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handlers for SIGINT, SIGTERM and SIGHUP. Called once from `main`.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches atomics and calls async-signal-safe functions.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn register(pgid: i32) {
    for slot in &GROUPS {
        if slot
            .compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

fn unregister(pgid: i32) {
    for slot in &GROUPS {
        if slot
            .compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

/// A running child in its own process group. Dropping it kills the group.
pub struct Child {
    inner: std::process::Child,
    pgid: i32,
    what: String,
    done: bool,
}

/// Starts `cmd` in a new process group that dies with orca. `what` names it in messages.
pub fn spawn(cmd: &mut Command, what: &str) -> Result<Child> {
    check_interrupted()?;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            // Linux only: elsewhere the signal handler and `Drop` are the only cleanup.
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let inner = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            fail!(Exit::Infra, "{what}: `{program}` is not installed or not on PATH")
        } else {
            anyhow::Error::new(e).context(format!("{what}: starting `{program}`"))
        }
    })?;
    let pgid = inner.id() as i32;
    register(pgid);
    if interrupted() {
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    Ok(Child {
        inner,
        pgid,
        what: what.to_string(),
        done: false,
    })
}

impl Child {
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    pub fn inner(&mut self) -> &mut std::process::Child {
        &mut self.inner
    }

    /// Kills the whole process group and reaps the leader.
    pub fn kill(&mut self) {
        if !self.done {
            unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
            let _ = self.inner.wait();
            self.finish();
        }
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            // The leader is gone; make sure nothing it left in its group lives on.
            unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
            unregister(self.pgid);
        }
    }

    /// Non-blocking: the exit status if the child has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        let st = self.inner.try_wait()?;
        if st.is_some() {
            self.finish();
        }
        Ok(st)
    }

    /// Waits until the child exits or `deadline` passes; on timeout the group is killed and a
    /// `Exit::Timeout` failure is returned.
    pub fn wait_deadline(&mut self, deadline: Duration) -> Result<ExitStatus> {
        let start = Instant::now();
        let mut nap = Duration::from_millis(2);
        loop {
            if let Some(st) = self.try_wait()? {
                return Ok(st);
            }
            if interrupted() {
                self.kill();
                return Err(fail!(Exit::Interrupted, "{}: interrupted", self.what));
            }
            if start.elapsed() >= deadline {
                self.kill();
                return Err(fail!(
                    Exit::Timeout,
                    "{}: did not finish within {}",
                    self.what,
                    crate::ui::duration(deadline)
                ));
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
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

/// Runs `cmd` to completion with captured output. Past `deadline` its process group is killed
/// and the error is `Exit::Timeout`; on Ctrl-C it is `Exit::Interrupted`.
///
/// A thread blocks in wait(2) and the deadline is a timed channel receive, so a finished child is
/// noticed at once (polling would add ~10-25 ms to every short command, such as each clang).
pub fn run(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(cmd, what)?;
    let pgid = child.pgid;
    let mut out_pipe = child.inner.stdout.take().context("stdout pipe")?;
    let mut err_pipe = child.inner.stderr.take().context("stderr pipe")?;
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
        let inner = &mut child.inner;
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
    child.finish();
    let status = status.with_context(|| format!("waiting for {what}"))?;
    check_interrupted().map_err(|_| fail!(Exit::Interrupted, "{what}: interrupted"))?;
    if timed_out {
        return Err(fail!(
            Exit::Timeout,
            "{what}: did not finish within {}",
            crate::ui::duration(deadline)
        ));
    }
    Ok(Output { status, stdout, stderr })
}

/// Like [`run`], but a non-zero exit is an error that quotes the command's stderr.
pub fn run_ok(cmd: &mut Command, what: &str, deadline: Duration) -> Result<Output> {
    let out = run(cmd, what, deadline)?;
    if !out.status.success() {
        let err = out.stderr_str();
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(fail!(
            Exit::Infra,
            "{what} failed ({}):\n{}",
            out.status,
            tail.join("\n")
        ));
    }
    Ok(out)
}

/// The first executable file named `name` in the directories of `PATH`.
pub fn on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// Whether `p` is a file someone may execute.
pub fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_kills_the_whole_group() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; wait"]);
        let mut child = spawn(&mut cmd, "sleeper").unwrap();
        let pgid = child.id() as i32;
        let err = child.wait_deadline(Duration::from_millis(200)).unwrap_err();
        assert_eq!(crate::error::exit_of(&err), Exit::Timeout);
        // No live member of the group survives (zombies awaiting their reaper do not count).
        std::thread::sleep(Duration::from_millis(100));
        let live: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 3 && f[2] == pgid.to_string() && f[0] != "Z"
            })
            .collect();
        assert!(live.is_empty(), "process group {pgid} still has live members: {live:?}");
    }

    #[test]
    fn run_captures_both_streams_and_status() {
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
    fn quick_children_succeed_one_after_another() {
        // How fast a child is noticed is the machine's business (benches/), not a unit test's.
        for _ in 0..10 {
            let out = run(&mut Command::new("true"), "true", Duration::from_secs(60)).unwrap();
            assert!(out.status.success());
        }
    }

    #[test]
    fn run_kills_the_group_at_the_deadline_even_when_a_grandchild_holds_the_pipes() {
        let t = Instant::now();
        let err = run(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            "sleeper",
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(crate::error::exit_of(&err), Exit::Timeout);
        // Against the grandchild's 30 s, not the machine's speed: orca did not wait for it.
        assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = run(&mut Command::new("orca-no-such-tool"), "probe", Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("not installed"), "{err}");
    }
}
