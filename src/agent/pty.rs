//! `shell`: an interactive shell on a pseudo-terminal, so line editing, job control and
//! full-screen programs work as on a real terminal.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use std::sync::mpsc::Receiver;

use super::{Jobs, Out};
use crate::vm::protocol::{Bytes, Event, ShellRequest};

pub(crate) fn resize(master: i32, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize; the kernel signals the foreground group.
    unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
}

pub(crate) fn run(id: u64, req: ShellRequest, stdin: Receiver<Vec<u8>>, out: &Out, jobs: &Jobs) {
    let unregister = super::Unregister(jobs, id);
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty fills two descriptors.
    if unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    } != 0
    {
        out.send(
            id,
            &Event::Error {
                message: format!("openpty: {}", std::io::Error::last_os_error()),
            },
        );
        return;
    }
    // SAFETY: both descriptors are fresh and owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    resize(master.as_raw_fd(), req.rows.max(1), req.cols.max(1));
    let shell = if std::path::Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let mut cmd = Command::new(shell);
    let cwd = req
        .cwd
        .clone()
        .filter(|c| std::path::Path::new(c).is_dir())
        .unwrap_or_else(|| "/root".into());
    cmd.current_dir(if std::path::Path::new(&cwd).is_dir() {
        cwd
    } else {
        "/".into()
    })
    .env("TERM", req.term.clone().unwrap_or_else(|| "linux".into()))
    .envs(req.env.iter().map(|(k, v)| (k, v)));
    let (Ok(i), Ok(o), Ok(e)) = (slave.try_clone(), slave.try_clone(), slave.try_clone()) else {
        out.send(
            id,
            &Event::Error {
                message: "cannot duplicate the pty".into(),
            },
        );
        return;
    };
    cmd.stdin(Stdio::from(i)).stdout(Stdio::from(o)).stderr(Stdio::from(e));
    // SAFETY: setsid and TIOCSCTTY are async-signal-safe; they make the pty the controlling tty.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            out.send(
                id,
                &Event::Error {
                    message: format!("starting {shell}: {e}"),
                },
            );
            return;
        }
    };
    drop(slave);
    drop(cmd);
    let (Ok(reader), Ok(writer)) = (master.try_clone(), master.try_clone()) else {
        let _ = child.kill();
        out.send(
            id,
            &Event::Error {
                message: "cannot duplicate the pty".into(),
            },
        );
        return;
    };
    super::stdin_writer(File::from(writer), stdin);
    super::started(jobs, id, child.id() as i32, Some(master.as_raw_fd()));
    let out2 = out.clone();
    let pump = std::thread::spawn(move || {
        let mut f = File::from(reader);
        let mut buf = vec![0u8; 16 * 1024];
        // EIO once the last process holding the slave has gone.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out2.send(
                id,
                &Event::Stdout {
                    data: Bytes(buf[..n].to_vec()),
                },
            );
        }
    });
    let status = child.wait();
    // A background job may keep the pty open; it does not hold the exit back for long.
    super::exec::settle(vec![pump]);
    // Unregistered before the master closes: a late `resize` must not hit a reused descriptor.
    drop(unregister);
    drop(master);
    super::exec::send_end(out, id, status, "the shell");
}
