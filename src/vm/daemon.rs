//! The process that keeps a long-lived VM (`orca start`): it owns the `Machine`, serves the
//! control socket in the VM's registry directory, and ends the VM at its TTL, on `orca stop`, on
//! SIGTERM, or when the guest dies, removing its registry entry on the way out.
//!
//! Clients (`orca exec`, `cp`, `shell`, `stop`) speak the agent protocol to the control socket.
//! Each client's request ids are mapped to fresh ids on the agent connection and back, so clients
//! never see each other's traffic. A client that disconnects has its running commands killed.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::conn::{Conn, Incoming, envelopes};
use super::protocol::{self, Event, Request};
use super::{Machine, state};

/// Why the daemon stopped serving.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Stopped,
    Expired,
    Interrupted,
    /// The guest went away on its own; the failure says why.
    Died,
}

/// Serves `m` on the control socket in `dir` until a stop, the TTL, a signal or the guest's end.
/// `listening` runs once the socket accepts clients (to publish the VM as running).
pub fn serve(
    m: &mut Machine,
    dir: &Path,
    expires: Instant,
    listening: impl FnOnce(&mut Machine) -> Result<()>,
) -> Result<(End, Option<anyhow::Error>)> {
    let sock = state::control_socket(dir);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock)?;
    listener.set_nonblocking(true)?;
    listening(m)?;
    let stop = Arc::new(AtomicBool::new(false));
    let conn = m.conn().clone();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                let (conn, stop) = (conn.clone(), stop.clone());
                std::thread::spawn(move || client(s, &conn, &stop));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if stop.load(Ordering::SeqCst) {
            return Ok((End::Stopped, None));
        }
        if crate::process::interrupted() {
            return Ok((End::Interrupted, None));
        }
        if Instant::now() >= expires {
            return Ok((End::Expired, None));
        }
        if conn.is_down() || !m.alive() {
            return Ok((End::Died, Some(m.fault())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One client: forwards its requests to the agent with remapped ids, and the agent's events back.
fn client(stream: UnixStream, conn: &Arc<Conn>, stop: &AtomicBool) {
    let Ok(w) = stream.try_clone() else { return };
    let writer = Arc::new(Mutex::new(w));
    let mut ids: HashMap<u64, u64> = HashMap::new();
    for env in envelopes::<Request>(BufReader::new(stream)) {
        let starts = matches!(
            env.body,
            Request::Exec(_) | Request::Shell(_) | Request::Put { .. } | Request::Get { .. }
        );
        if matches!(env.body, Request::Shutdown) {
            stop.store(true, Ordering::SeqCst);
            let _ = writer
                .lock()
                .unwrap()
                .write_all(&protocol::encode(env.id, &Event::Done));
            continue;
        }
        let gid = if starts {
            let (gid, rx) = conn.open();
            ids.insert(env.id, gid);
            let (w, cid, c) = (writer.clone(), env.id, conn.clone());
            std::thread::spawn(move || forward(rx, &w, cid, gid, &c));
            gid
        } else {
            match ids.get(&env.id) {
                Some(g) => *g,
                None => continue,
            }
        };
        if conn.send(gid, &env.body).is_err() {
            break;
        }
    }
    // The client is gone: whatever it still runs in the guest is killed.
    for gid in ids.values() {
        let _ = conn.send(*gid, &Request::Kill);
        conn.close(*gid);
    }
}

fn forward(rx: std::sync::mpsc::Receiver<Incoming>, w: &Mutex<UnixStream>, cid: u64, gid: u64, conn: &Conn) {
    for inc in rx {
        match inc {
            Incoming::Event(ev) => {
                let last = matches!(
                    ev,
                    Event::Exit { .. } | Event::Error { .. } | Event::Done | Event::End { .. }
                );
                if w.lock().unwrap().write_all(&protocol::encode(cid, &ev)).is_err() || last {
                    conn.close(gid);
                    return;
                }
            }
            Incoming::Down => {
                // Tell the client by closing its connection.
                let _ = w.lock().unwrap().shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}
