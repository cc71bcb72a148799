//! The host end of the agent protocol: one stream, many requests at once.
//!
//! A reader thread parses the agent's events and routes each to the request that owns its id.
//! When the stream ends, or the VM is known to be gone ([`Conn::set_down`]), every open request
//! gets [`Incoming::Down`], so nothing waits forever on a guest that is no longer there.
//!
//! The same type talks to a VM's agent directly (through QEMU's socket) and to a long-lived VM's
//! daemon (which forwards to its agent), so `exec`, `cp` and `shell` are written once (`ops`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use serde::de::DeserializeOwned;

use super::protocol::{self, Envelope, Event, Request};

/// What a request's receiver gets.
#[derive(Debug)]
pub enum Incoming {
    Event(Event),
    /// The agent is gone; no more events will come.
    Down,
}

/// The error a request ends with when the agent went away; callers who know more (a `Machine`
/// knows whether the guest panicked) replace it with the cause.
#[derive(Debug)]
pub struct AgentDown;

impl std::fmt::Display for AgentDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the guest agent went away")
    }
}

impl std::error::Error for AgentDown {}

struct Shared {
    routes: Mutex<HashMap<u64, Sender<Incoming>>>,
    down: AtomicBool,
}

impl Shared {
    fn set_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        for (_, tx) in self.routes.lock().unwrap().drain() {
            let _ = tx.send(Incoming::Down);
        }
    }
}

/// A multiplexed connection to an agent.
pub struct Conn {
    writer: Mutex<UnixStream>,
    shared: Arc<Shared>,
    next: AtomicU64,
    /// Events for id 0 (`ready`).
    agent: Mutex<Receiver<Incoming>>,
}

impl Conn {
    /// Starts routing the events that arrive on `stream`.
    pub fn new(stream: UnixStream) -> Result<Conn> {
        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            down: AtomicBool::new(false),
        });
        let (tx, rx) = channel();
        shared.routes.lock().unwrap().insert(0, tx);
        let reader = BufReader::new(stream.try_clone()?);
        let s = shared.clone();
        std::thread::Builder::new()
            .name("agent-reader".into())
            .spawn(move || read_loop(reader, &s))?;
        Ok(Conn {
            writer: Mutex::new(stream),
            shared,
            next: AtomicU64::new(1),
            agent: Mutex::new(rx),
        })
    }

    /// A fresh request id and the receiver of its events.
    pub fn open(&self) -> (u64, Receiver<Incoming>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = channel();
        if self.is_down() {
            let _ = tx.send(Incoming::Down);
        } else {
            self.shared.routes.lock().unwrap().insert(id, tx);
            // The reader may have gone down between the check and the insert.
            if self.is_down() {
                self.shared.set_down();
            }
        }
        (id, rx)
    }

    /// Stops routing events for `id`.
    pub fn close(&self, id: u64) {
        self.shared.routes.lock().unwrap().remove(&id);
    }

    /// Sends a request. A failed write means the agent is gone.
    pub fn send(&self, id: u64, req: &Request) -> Result<()> {
        let line = protocol::encode(id, req);
        let mut w = self.writer.lock().unwrap();
        if w.write_all(&line).is_err() {
            drop(w);
            self.set_down();
            return Err(anyhow::Error::new(AgentDown));
        }
        Ok(())
    }

    /// The agent's own events (id 0), for waiting on `ready`.
    pub fn agent_events(&self) -> std::sync::MutexGuard<'_, Receiver<Incoming>> {
        self.agent.lock().unwrap()
    }

    /// Declares the agent gone (QEMU exited, the guest panicked): wakes every waiter.
    pub fn set_down(&self) {
        self.shared.set_down();
        if let Ok(w) = self.writer.lock() {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Ok(w) = self.writer.lock() {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn read_loop(reader: BufReader<UnixStream>, shared: &Shared) {
    for env in envelopes::<Event>(reader) {
        let routes = shared.routes.lock().unwrap();
        if let Some(tx) = routes.get(&env.id) {
            let _ = tx.send(Incoming::Event(env.body));
        }
    }
    shared.set_down();
}

/// The envelopes read from `reader`, one JSON line each, until the stream ends or fails. Lines
/// that do not decode as `T` are skipped: they are not ours (e.g. noise before the agent started).
pub(super) fn envelopes<T: DeserializeOwned>(mut reader: impl BufRead) -> impl Iterator<Item = Envelope<T>> {
    let mut line = Vec::new();
    std::iter::from_fn(move || {
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            if let Ok(env) = protocol::decode::<T>(&line) {
                return Some(env);
            }
        }
    })
}
