//! What the host asks of a guest, over a [`Conn`]: run a command, copy files, open a shell.
//!
//! Each function owns one request id from start to end. Waiting is bounded: by the caller's
//! deadline (the command is killed in the guest and the call fails with `Exit::Timeout`), by
//! Ctrl-C (`Exit::Interrupted`), and by the agent going away ([`AgentDown`] in the error chain,
//! which a `Machine` replaces with the cause).

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::conn::{AgentDown, Conn, Incoming};
use super::protocol::{Bytes, Event, ExecRequest, ExecResult, Request, ShellRequest, Stream};
use super::transfer;
use crate::error::Exit;
use crate::fail;

/// Waits for the next event of a request.
fn next(rx: &Receiver<Incoming>, deadline: Option<Instant>) -> Result<Option<Event>> {
    loop {
        if crate::process::interrupted() {
            return Err(fail!(Exit::Interrupted, "interrupted"));
        }
        let wait = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
            None => Duration::from_millis(100),
        };
        match rx.recv_timeout(wait) {
            Ok(Incoming::Event(e)) => return Ok(Some(e)),
            Ok(Incoming::Down) | Err(RecvTimeoutError::Disconnected) => return Err(anyhow::Error::new(AgentDown)),
            Err(RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
        }
    }
}

/// Closes a request's route however the call ends.
struct Open<'a> {
    conn: &'a Conn,
    id: u64,
    rx: Receiver<Incoming>,
}

impl<'a> Open<'a> {
    fn new(conn: &'a Conn) -> Open<'a> {
        let (id, rx) = conn.open();
        Open { conn, id, rx }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.conn.close(self.id);
    }
}

/// Runs a command; its output goes to `sink` as it arrives, each stream in order. The result is
/// the command's own exit; a command that cannot start (no such program, bad cwd) is an error.
/// At `deadline` the command's process group is killed and the call fails with `Exit::Timeout`.
pub fn exec(
    conn: &Conn,
    req: &ExecRequest,
    sink: &mut dyn FnMut(Stream, &[u8]),
    deadline: Option<Instant>,
) -> Result<ExecResult> {
    run_exec(Open::new(conn), req, sink, deadline, || {})
}

/// [`exec`], feeding `stdin` to the command (then end-of-file). The feeding thread is detached:
/// a stdin that never ends does not hold the result back.
pub fn exec_with_stdin(
    conn: &std::sync::Arc<Conn>,
    req: &ExecRequest,
    sink: &mut dyn FnMut(Stream, &[u8]),
    deadline: Option<Instant>,
    mut stdin: Box<dyn std::io::Read + Send>,
) -> Result<ExecResult> {
    let o = Open::new(conn);
    let req = ExecRequest {
        stdin: true,
        ..req.clone()
    };
    let (id, c) = (o.id, conn.clone());
    run_exec(o, &req, sink, deadline, move || {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if c.send(
                            id,
                            &Request::Stdin {
                                data: Bytes(buf[..n].to_vec()),
                            },
                        )
                        .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = c.send(id, &Request::Eof);
        });
    })
}

fn run_exec(
    o: Open<'_>,
    req: &ExecRequest,
    sink: &mut dyn FnMut(Stream, &[u8]),
    deadline: Option<Instant>,
    started: impl FnOnce(),
) -> Result<ExecResult> {
    let conn = o.conn;
    let budget = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    conn.send(o.id, &Request::Exec(req.clone()))?;
    started();
    loop {
        match next(&o.rx, deadline) {
            Ok(Some(Event::Stdout { data })) => sink(Stream::Stdout, &data.0),
            Ok(Some(Event::Stderr { data })) => sink(Stream::Stderr, &data.0),
            Ok(Some(Event::Exit { code, signal })) => return Ok(ExecResult { code, signal }),
            Ok(Some(Event::Error { message })) => {
                return Err(fail!(
                    Exit::Infra,
                    "cannot run `{}` in the guest: {message}",
                    req.display()
                ));
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let _ = conn.send(o.id, &Request::Kill);
                let within = budget
                    .map(|b| format!(" within {}", crate::ui::duration(b)))
                    .unwrap_or_default();
                return Err(fail!(
                    Exit::Timeout,
                    "`{}` did not finish{within}; killed it",
                    req.display()
                ));
            }
            Err(e) => {
                if crate::process::interrupted() {
                    let _ = conn.send(o.id, &Request::Kill);
                }
                return Err(e);
            }
        }
    }
}

/// Copies the host's `src` (file, directory or symlink) to the absolute guest path `dest`.
pub fn copy_in(conn: &Conn, src: &Path, dest: &str, deadline: Option<Instant>) -> Result<()> {
    let dest = transfer::guest_path(dest)?;
    let o = Open::new(conn);
    conn.send(o.id, &Request::Put { path: dest.clone() })?;
    let mut chunker = transfer::Chunker::new(|c: &[u8]| {
        conn.send(
            o.id,
            &Request::Chunk {
                data: Bytes(c.to_vec()),
            },
        )
        .map_err(std::io::Error::other)
    });
    transfer::pack(src, &mut chunker)?;
    let (size, sha256) = chunker.finish()?;
    conn.send(o.id, &Request::End { size, sha256 })?;
    loop {
        match next(&o.rx, deadline)? {
            Some(Event::Done) => return Ok(()),
            Some(Event::Error { message }) => {
                return Err(fail!(
                    Exit::Infra,
                    "copying {} to the guest's {dest}: {message}",
                    src.display()
                ));
            }
            Some(_) => {}
            None => {
                return Err(fail!(
                    Exit::Timeout,
                    "copying {} to the guest's {dest} did not finish in time",
                    src.display()
                ));
            }
        }
    }
}

/// Copies the guest's `src` (absolute) to the host path `dest`, which it replaces.
pub fn copy_out(conn: &Conn, src: &str, dest: &Path, deadline: Option<Instant>) -> Result<()> {
    let src = transfer::guest_path(src)?;
    let o = Open::new(conn);
    conn.send(o.id, &Request::Get { path: src.clone() })?;
    let mut recv = transfer::Receiver::new(dest)?;
    loop {
        match next(&o.rx, deadline)? {
            Some(Event::Chunk { data }) => recv.chunk(&data.0)?,
            Some(Event::End { size, sha256 }) => return recv.finish(size, &sha256, dest),
            Some(Event::Error { message }) => {
                return Err(fail!(Exit::Infra, "copying the guest's {src}: {message}"));
            }
            Some(_) => {}
            None => return Err(fail!(Exit::Timeout, "copying the guest's {src} did not finish in time")),
        }
    }
}

/// An interactive shell on the host's terminal (see `term`). Returns the shell's exit.
pub fn shell(conn: &Conn, req: ShellRequest) -> Result<ExecResult> {
    use std::io::{Read, Write};
    let o = Open::new(conn);
    let raw = super::term::RawMode::enter()?;
    conn.send(o.id, &Request::Shell(req))?;
    let id = o.id;
    // stdin → guest. The thread may stay blocked in read() after the shell ends; it holds
    // nothing that needs cleaning up, and the process exits soon after.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut buf = [0u8; 4096];
            let mut last = super::term::size();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if !super::term::stdin_ready(Duration::from_millis(100)) {
                    let now = super::term::size();
                    if now != last {
                        last = now;
                        if let Some((rows, cols)) = now {
                            let _ = conn.send(id, &Request::Resize { rows, cols });
                        }
                    }
                    continue;
                }
                match std::io::stdin().lock().read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = conn.send(id, &Request::Eof);
                        break;
                    }
                    Ok(n) => {
                        if conn
                            .send(
                                id,
                                &Request::Stdin {
                                    data: Bytes(buf[..n].to_vec()),
                                },
                            )
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        let result = loop {
            match next(&o.rx, None) {
                Ok(Some(Event::Stdout { data })) | Ok(Some(Event::Stderr { data })) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&data.0);
                    let _ = out.flush();
                }
                Ok(Some(Event::Exit { code, signal })) => break Ok(ExecResult { code, signal }),
                Ok(Some(Event::Error { message })) => break Err(fail!(Exit::Infra, "cannot open a shell: {message}")),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(raw);
        result
    })
}
