//! The guest agent: orca itself, started by the initramfs's init as the guest's PID 1 once the
//! root and the shares are mounted (`orca agent`, hidden).
//!
//! It speaks the protocol of `vm::protocol` over the virtio-serial port `org.orca.agent`: it says
//! `ready`, then serves requests, several at once (each `exec`, `shell` and `get` in its own
//! thread). As PID 1 it forks once: the parent only reaps orphans and powers the guest off if the
//! agent ever dies, so a crash shows up on the host as a clean "powered off" with the console's
//! last words, never as a hang.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::vm::protocol::{self, Event, PORT_NAME, Request};

mod exec;
mod files;
mod pty;

/// Writes whole lines to the port from any thread.
#[derive(Clone)]
pub(crate) struct Out(Arc<Mutex<File>>);

impl Out {
    pub(crate) fn send(&self, id: u64, ev: &Event) {
        let line = protocol::encode(id, ev);
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(&line);
        }
    }
}

/// A request's handles, for `stdin`, `eof`, `resize` and `kill`. Registered as soon as the
/// request arrives, before its process exists, so that nothing sent right after it is lost.
pub(crate) struct Job {
    /// The process group to kill; 0 until the process has started.
    pub pgid: i32,
    /// A `kill` that came before the process started.
    pub killed: bool,
    /// Where `stdin` bytes go (queued until the process starts); `None` once closed.
    pub stdin: Option<Sender<Vec<u8>>>,
    /// The pty master, for window size changes.
    pub pty: Option<i32>,
}

pub(crate) type Jobs = Arc<Mutex<HashMap<u64, Job>>>;

/// Registers a request that will start a process; returns the receiving end of its stdin queue.
fn register(jobs: &Jobs, id: u64) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    jobs.lock().unwrap().insert(
        id,
        Job {
            pgid: 0,
            killed: false,
            stdin: Some(tx),
            pty: None,
        },
    );
    rx
}

/// Records that request `id` runs as process group `pgid` (and its pty), killing it at once if
/// a `kill` came first.
pub(crate) fn started(jobs: &Jobs, id: u64, pgid: i32, pty: Option<i32>) {
    let mut j = jobs.lock().unwrap();
    if let Some(job) = j.get_mut(&id) {
        job.pgid = pgid;
        job.pty = pty;
        if job.killed {
            // SAFETY: kill(2) on the process group this agent just started.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// Unregisters request `id` however its thread ends.
pub(crate) struct Unregister<'a>(pub &'a Jobs, pub u64);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap().remove(&self.1);
    }
}

/// A thread that writes the queued stdin bytes to `f` (a child's stdin pipe or pty), so that a
/// child that does not read never blocks the port. The queue's end closes `f`.
pub(crate) fn stdin_writer(mut f: File, rx: Receiver<Vec<u8>>) {
    std::thread::spawn(move || {
        for data in rx {
            if f.write_all(&data).is_err() {
                break;
            }
        }
    });
}

pub fn main(port: PathBuf) -> Result<u8> {
    // SAFETY: getpid has no preconditions.
    if unsafe { libc::getpid() } == 1 {
        loopback_up();
        become_reaper();
    }
    let path = find_port(&port)?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let out = Out(Arc::new(Mutex::new(f.try_clone()?)));
    out.send(
        0,
        &Event::Ready {
            version: env!("CARGO_PKG_VERSION").into(),
            release: release(),
        },
    );
    serve(BufReader::new(f), out)
}

fn serve(mut port: BufReader<File>, out: Out) -> Result<u8> {
    let jobs: Jobs = Arc::new(Mutex::new(HashMap::new()));
    let mut puts: HashMap<u64, files::Put> = HashMap::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match port.read_until(b'\n', &mut line) {
            // No host on the other end (yet, or any more): wait for one.
            Ok(0) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the agent port"),
        }
        let Ok(env) = protocol::decode::<Request>(&line) else {
            eprintln!("orca agent: ignoring a line that is not a request");
            continue;
        };
        let id = env.id;
        match env.body {
            Request::Exec(req) => {
                let (out, jobs, rx) = (out.clone(), jobs.clone(), register(&jobs, id));
                std::thread::spawn(move || exec::run(id, req, rx, &out, &jobs));
            }
            Request::Shell(req) => {
                let (out, jobs, rx) = (out.clone(), jobs.clone(), register(&jobs, id));
                std::thread::spawn(move || pty::run(id, req, rx, &out, &jobs));
            }
            Request::Stdin { data } => {
                let mut j = jobs.lock().unwrap();
                if let Some(tx) = j.get_mut(&id).and_then(|j| j.stdin.as_ref()) {
                    let _ = tx.send(data.0);
                }
            }
            Request::Eof => {
                if let Some(j) = jobs.lock().unwrap().get_mut(&id) {
                    if j.pty.is_some() {
                        // A terminal's end of input is ^D, not a closed descriptor.
                        if let Some(tx) = &j.stdin {
                            let _ = tx.send(vec![4]);
                        }
                    } else {
                        j.stdin = None;
                    }
                }
            }
            Request::Resize { rows, cols } => {
                if let Some(fd) = jobs.lock().unwrap().get(&id).and_then(|j| j.pty) {
                    pty::resize(fd, rows, cols);
                }
            }
            Request::Kill => {
                if let Some(j) = jobs.lock().unwrap().get_mut(&id) {
                    j.killed = true;
                    if j.pgid > 0 {
                        // SAFETY: kill(2) on a process group this agent started.
                        unsafe { libc::kill(-j.pgid, libc::SIGKILL) };
                    }
                }
            }
            Request::Put { path } => match files::Put::start(&path) {
                Ok(p) => {
                    puts.insert(id, p);
                }
                Err(e) => out.send(
                    id,
                    &Event::Error {
                        message: format!("{e:#}"),
                    },
                ),
            },
            Request::Chunk { data } => {
                if let Some(p) = puts.get_mut(&id) {
                    p.chunk(&data.0);
                }
            }
            Request::End { size, sha256 } => {
                if let Some(p) = puts.remove(&id) {
                    match p.finish(size, &sha256) {
                        Ok(()) => out.send(id, &Event::Done),
                        Err(e) => out.send(
                            id,
                            &Event::Error {
                                message: format!("{e:#}"),
                            },
                        ),
                    }
                }
            }
            Request::Get { path } => {
                let out = out.clone();
                std::thread::spawn(move || files::get(id, &path, &out));
            }
            Request::Shutdown => power_off(),
        }
    }
}

/// The port by its path, or (without udev's symlinks) by its name in sysfs. Waits a little for
/// the device to appear.
fn find_port(want: &Path) -> Result<PathBuf> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if want.exists() {
            return Ok(want.to_path_buf());
        }
        if let Ok(rd) = std::fs::read_dir("/sys/class/virtio-ports") {
            for e in rd.flatten() {
                if std::fs::read_to_string(e.path().join("name"))
                    .map(|n| n.trim() == PORT_NAME)
                    .unwrap_or(false)
                {
                    let dev = Path::new("/dev").join(e.file_name());
                    if dev.exists() {
                        return Ok(dev);
                    }
                }
            }
        }
        if Instant::now() >= until {
            anyhow::bail!(
                "no virtio-serial port named {PORT_NAME} (looked for {})",
                want.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn release() -> String {
    // SAFETY: uname fills the struct.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return String::new();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Brings up the loopback interface, as PID 1 of a guest: one ioctl here, where init would fork
/// an `ip` for it (~15 ms under TCG). Best effort, like `ip link set lo up` was.
fn loopback_up() {
    // SAFETY: a socket, and SIOCGIFFLAGS/SIOCSIFFLAGS on a zeroed ifreq that names "lo".
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return;
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, c) in ifr.ifr_name.iter_mut().zip(b"lo") {
            *d = *c as libc::c_char;
        }
        if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) == 0 {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr);
        }
        libc::close(s);
    }
}

/// Syncs and powers the guest off. Does not return.
pub(crate) fn power_off() -> ! {
    // SAFETY: sync and reboot have no memory-safety preconditions.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    std::process::exit(0)
}

/// As PID 1: fork; the parent reaps every orphan and powers off when the agent (the child)
/// ends. Called before any thread exists.
fn become_reaper() {
    // SAFETY: single-threaded at this point; the child continues as the agent.
    let child = unsafe { libc::fork() };
    if child <= 0 {
        return; // the agent (or fork failed: serve without a reaper)
    }
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == child {
            eprintln!("orca agent: exited (status {status:#x}); powering off");
            power_off();
        }
        if pid < 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
