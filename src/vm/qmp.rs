//! QMP, QEMU's control protocol (through the `qapi` crate's types): the handshake, a thread that
//! watches the events orca cares about (`SHUTDOWN`, `GUEST_PANICKED`), and `quit`.
//!
//! The synchronous API over a Unix socket is enough: one thread reads, any thread writes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use qapi::qmp;

/// What QMP has told us about the guest so far.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// `GUEST_PANICKED` arrived (pvpanic).
    pub panicked: bool,
    /// `SHUTDOWN` arrived: whether the guest asked for it, and QEMU's reason
    /// (`guest-shutdown`, `guest-reset`, `guest-panic`, `host-qmp-quit`, `host-signal`, ...).
    pub shutdown: Option<(bool, String)>,
    /// The socket closed: QEMU is gone or going.
    pub closed: bool,
}

/// A QMP connection with its event thread.
pub struct Qmp {
    writer: Mutex<UnixStream>,
    seen: Arc<Mutex<Seen>>,
}

impl Qmp {
    /// Does the handshake (bounded by `deadline`) and starts watching events. `on_change` runs in
    /// the event thread after each event that matters and when the socket closes.
    pub fn start(stream: UnixStream, deadline: Duration, on_change: impl Fn(&Seen) + Send + 'static) -> Result<Qmp> {
        stream.set_read_timeout(Some(deadline))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line).context("reading QMP's greeting")?;
        let _greeting: qmp::QapiCapabilities =
            serde_json::from_str(&line).with_context(|| format!("QMP greeting: {}", line.trim()))?;
        let mut writer = stream.try_clone()?;
        write_command(&mut writer, &qmp::qmp_capabilities { enable: None })?;
        loop {
            line.clear();
            if reader
                .read_line(&mut line)
                .context("reading QMP's answer to qmp_capabilities")?
                == 0
            {
                anyhow::bail!("QMP closed during the handshake");
            }
            if let Ok(qmp::QmpMessage::Response(r)) = serde_json::from_str::<qmp::QmpMessage<qapi::Any>>(&line) {
                r.result().map_err(|e| anyhow::anyhow!("qmp_capabilities: {e:?}"))?;
                break;
            }
        }
        stream.set_read_timeout(None)?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        std::thread::Builder::new()
            .name("qmp".into())
            .spawn(move || watch(reader, &s, on_change))?;
        Ok(Qmp {
            writer: Mutex::new(writer),
            seen,
        })
    }

    /// A snapshot of the events seen so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Asks QEMU to exit now. Errors are ignored: QEMU may already be gone.
    pub fn quit(&self) {
        if let Ok(mut w) = self.writer.lock() {
            let _ = write_command(&mut *w, &qmp::quit {});
        }
    }
}

fn write_command<C: qapi::Command>(w: &mut impl Write, c: &C) -> Result<()> {
    let mut line = serde_json::to_vec(&qapi::Execute::<&C>::from(c))?;
    line.push(b'\n');
    w.write_all(&line)?;
    Ok(())
}

fn watch(mut reader: BufReader<UnixStream>, seen: &Mutex<Seen>, on_change: impl Fn(&Seen)) {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // Events this version of the schema does not know fail to parse; they do not matter here.
        let Ok(qmp::QmpMessage::Event(ev)) = serde_json::from_str::<qmp::QmpMessage<qapi::Any>>(&line) else {
            continue;
        };
        let snapshot = {
            let mut s = seen.lock().unwrap();
            match ev {
                qmp::Event::GUEST_PANICKED { .. } => s.panicked = true,
                qmp::Event::SHUTDOWN { data, .. } => {
                    let reason = serde_json::to_value(data.reason)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    s.shutdown = Some((data.guest, reason));
                }
                _ => continue,
            }
            s.clone()
        };
        on_change(&snapshot);
    }
    let snapshot = {
        let mut s = seen.lock().unwrap();
        s.closed = true;
        s.clone()
    };
    on_change(&snapshot);
}
