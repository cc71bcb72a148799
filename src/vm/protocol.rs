//! The agent's wire format, shared by the host (`vm::conn`) and the guest (`agent`).
//!
//! One JSON object per line over the virtio-serial port `org.orca.agent`. Every message carries
//! the `id` of the request it belongs to, so several requests can run at once; id 0 is the
//! agent's own (`ready`). Requests have an `op`, events an `ev`. Bytes travel as base64.
//!
//! A conversation, host → guest then guest → host:
//! - `exec` → `stdout`/`stderr` chunks as they come → `exit` (or `error` if it could not start);
//!   `stdin`/`eof` feed the command when it asked for stdin; `kill` ends its process group.
//! - `shell` (a pty) → `stdout` chunks → `exit`; `stdin` and `resize` go the other way.
//! - `put` → `chunk`… → `end` (sha256 of the stream) → `done` or `error`. The stream is a tar
//!   archive whose single top-level entry is named [`TOP`]; it lands at the request's path.
//! - `get` → `chunk`… → `end`, the same tar stream the other way.
//! - `shutdown` → the agent syncs and powers the guest off.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The virtio-serial port name the agent serves on.
pub const PORT_NAME: &str = "org.orca.agent";

/// The name of the one top-level entry of a transfer's tar stream.
pub const TOP: &str = "orca-item";

/// Transfer chunk size (before base64): large enough to amortise JSON framing, small enough to
/// keep a line short.
pub const CHUNK: usize = 48 * 1024;

/// A message with the id of the request it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    pub id: u64,
    #[serde(flatten)]
    pub body: T,
}

/// Host → guest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Run a command.
    Exec(ExecRequest),
    /// An interactive shell on a pty.
    Shell(ShellRequest),
    /// Bytes for the stdin of request `id` (an `exec` with `stdin: true`, or a `shell`).
    Stdin { data: Bytes },
    /// End of stdin for request `id`.
    Eof,
    /// The terminal of shell `id` changed size.
    Resize { rows: u16, cols: u16 },
    /// Kill the process group of request `id`.
    Kill,
    /// Receive a tar stream (see the module docs) and place its entry at `path` (absolute).
    Put { path: String },
    /// Copy `path` (absolute; a file, directory or symlink) to the host as a tar stream.
    Get { path: String },
    /// One piece of a `put` stream.
    Chunk { data: Bytes },
    /// The end of a `put` stream: its length and sha256, checked before anything is written.
    End { size: u64, sha256: String },
    /// Sync the filesystems and power off.
    Shutdown,
}

/// How to run a command in the guest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecRequest {
    /// The program and its arguments. Ignored when `shell` is set.
    #[serde(default)]
    pub argv: Vec<String>,
    /// A shell command line, run as `/bin/sh -c SHELL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Environment on top of the agent's own (PATH, HOME=/root, TERM=linux).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Working directory; default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Whether `stdin` messages feed the command; otherwise its stdin is /dev/null.
    #[serde(default)]
    pub stdin: bool,
}

impl ExecRequest {
    /// A command given as a shell string.
    pub fn shell(cmd: impl Into<String>) -> ExecRequest {
        ExecRequest {
            shell: Some(cmd.into()),
            ..Default::default()
        }
    }

    /// A command given as arguments.
    pub fn argv<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> ExecRequest {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The command as people would type it, for messages.
    pub fn display(&self) -> String {
        match &self.shell {
            Some(s) => s.clone(),
            None => self.argv.join(" "),
        }
    }
}

/// An interactive shell.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ShellRequest {
    /// `$TERM` for the shell. Default `linux`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    pub rows: u16,
    pub cols: u16,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// Guest → host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    /// The agent is up (id 0). Boot is over.
    Ready {
        version: String,
        release: String,
    },
    /// Output of a command (a shell's pty output comes as `stdout`).
    Stdout {
        data: Bytes,
    },
    Stderr {
        data: Bytes,
    },
    /// The command ended: `code` when it exited, `signal` when a signal killed it.
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The request failed before or instead of running (bad path, no such program, ...).
    Error {
        message: String,
    },
    /// One piece of a `get` stream.
    Chunk {
        data: Bytes,
    },
    /// The end of a `get` stream.
    End {
        size: u64,
        sha256: String,
    },
    /// A `put` was verified and written.
    Done,
}

/// Bytes, as base64 on the wire.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// One message as a line, newline included.
pub fn encode<T: Serialize>(id: u64, body: &T) -> Vec<u8> {
    #[derive(Serialize)]
    struct Ref<'a, T> {
        id: u64,
        #[serde(flatten)]
        body: &'a T,
    }
    let mut line = serde_json::to_vec(&Ref { id, body }).expect("protocol messages always serialize");
    line.push(b'\n');
    line
}

/// Parses one line.
pub fn decode<'a, T: Deserialize<'a>>(line: &'a [u8]) -> serde_json::Result<Envelope<T>> {
    serde_json::from_slice(line)
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExecResult {
    /// The exit code a shell would report: the code, or 128 + the signal.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for ExecResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "killed by signal {s}"),
            (None, None) => write!(f, "unknown status"),
        }
    }
}

/// Which output stream bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_their_id() {
        let reqs = [
            Request::Exec(ExecRequest {
                env: vec![("A".into(), "b".into())],
                ..ExecRequest::shell("exit 7")
            }),
            Request::Stdin {
                data: Bytes(vec![0, 255, b'\n']),
            },
            Request::Resize { rows: 24, cols: 80 },
            Request::End {
                size: 3,
                sha256: "ab".into(),
            },
            Request::Shutdown,
        ];
        for (i, r) in reqs.iter().enumerate() {
            let line = encode(i as u64 + 1, r);
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line: {line:?}");
            let back: Envelope<Request> = decode(&line).unwrap();
            assert_eq!(back.id, i as u64 + 1);
            assert_eq!(&back.body, r);
        }
    }

    #[test]
    fn events_are_tagged_and_bytes_are_base64() {
        let line = encode(
            5,
            &Event::Stdout {
                data: Bytes(b"hi\n".to_vec()),
            },
        );
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"id\":5,\"ev\":\"stdout\",\"data\":\"aGkK\"}\n"
        );
        let e: Envelope<Event> = decode(b"{\"id\":2,\"ev\":\"exit\",\"code\":null,\"signal\":9}").unwrap();
        assert_eq!(
            e.body,
            Event::Exit {
                code: None,
                signal: Some(9)
            }
        );
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(
            ExecResult {
                code: Some(7),
                signal: None
            }
            .exit_code(),
            7
        );
        assert_eq!(
            ExecResult {
                code: None,
                signal: Some(9)
            }
            .exit_code(),
            137
        );
    }
}
