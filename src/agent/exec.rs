//! `exec`: run a command in its own process group, stream stdout and stderr as they come (each
//! in order, separately), report its exact exit.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::sync::mpsc::Receiver;

use super::{Jobs, Out};
use crate::vm::protocol::{Bytes, Event, ExecRequest};

pub(crate) fn run(id: u64, req: ExecRequest, stdin: Receiver<Vec<u8>>, out: &Out, jobs: &Jobs) {
    let _unregister = super::Unregister(jobs, id);
    let mut cmd = match &req.shell {
        Some(s) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(s);
            c
        }
        None => {
            let Some((prog, args)) = req.argv.split_first() else {
                out.send(
                    id,
                    &Event::Error {
                        message: "empty command".into(),
                    },
                );
                return;
            };
            let mut c = Command::new(prog);
            c.args(args);
            c
        }
    };
    let cwd = req.cwd.clone().unwrap_or_else(|| "/".into());
    if !std::path::Path::new(&cwd).is_dir() {
        out.send(
            id,
            &Event::Error {
                message: format!("working directory {cwd} does not exist in the guest"),
            },
        );
        return;
    }
    cmd.current_dir(&cwd)
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    cmd.stdin(if req.stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            // As a shell would: a message on stderr and 127 (not found) or 126 (cannot run).
            let what = req.argv.first().map(String::as_str).unwrap_or("/bin/sh");
            out.send(
                id,
                &Event::Stderr {
                    data: Bytes(format!("orca: {what}: {e}\n").into_bytes()),
                },
            );
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            out.send(
                id,
                &Event::Exit {
                    code: Some(code),
                    signal: None,
                },
            );
            return;
        }
    };
    if let Some(pipe) = child.stdin.take() {
        super::stdin_writer(File::from(std::os::fd::OwnedFd::from(pipe)), stdin);
    }
    super::started(jobs, id, child.id() as i32, None);
    let readers: Vec<_> = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    .filter_map(|(i, p)| p.map(|p| (i, p)))
    .map(|(i, mut pipe)| {
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let data = Bytes(buf[..n].to_vec());
                        out.send(
                            id,
                            &if i == 0 {
                                Event::Stdout { data }
                            } else {
                                Event::Stderr { data }
                            },
                        );
                    }
                }
            }
        })
    })
    .collect();
    let status = child.wait();
    settle(readers);
    send_end(out, id, status, "the command");
}

/// Gives the output pumps up to 200 ms to drain after the job exited, so that output written
/// before the exit arrives before `exit`, while a background process that keeps the pipes (or
/// the pty) open does not hold the result back for more than a moment.
pub(super) fn settle(pumps: Vec<JoinHandle<()>>) {
    let grace = Instant::now() + Duration::from_millis(200);
    for p in pumps {
        while !p.is_finished() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(2));
        }
        if p.is_finished() {
            let _ = p.join();
        }
    }
}

/// Sends the end of job `id`: its exit code or signal, or an error when waiting for `what`
/// failed.
pub(super) fn send_end(out: &Out, id: u64, status: std::io::Result<ExitStatus>, what: &str) {
    match status {
        Ok(st) => out.send(
            id,
            &Event::Exit {
                code: st.code(),
                signal: st.signal(),
            },
        ),
        Err(e) => out.send(
            id,
            &Event::Error {
                message: format!("waiting for {what}: {e}"),
            },
        ),
    }
}
