//! A list of commands as one script: `provision`, a matrix's `test.commands` and a pipeline
//! stage's `commands` each run in ONE shell, line after line, stopping at the first line that
//! fails (like `set -e`), with the shell's state (`cd`, `export`, functions) carried from line to
//! line.
//!
//! Each line is run with `eval` in the same `/bin/sh`, so a line is a complete shell command of
//! its own (`cd /flywall`, `make test`, `for f in *.o; do ...; done`). Around each line the
//! wrapper prints a marker, `\x1e orca:<nonce> start|end INDEX [CODE]`, on a copy of stdout and a
//! copy of stderr taken before the first line (so a line's own `exec >file` cannot hide them).
//! [`Splitter`] takes the markers out of the streams as they flow, so the user sees the output
//! unchanged, and turns them into [`Step`]s: each line's time (from the arrival of its markers),
//! exit code and output. A line that ends the shell itself (`exit 3`, a syntax error, `set -e`
//! then a failure) has no end marker: it takes the shell's exit status.

use std::time::{Duration, Instant};

use crate::report::StepResult;

/// How many bytes of each line's output (per stream) a step keeps: the tail, for the report.
const KEEP_BYTES: usize = 64 * 1024;
/// How many lines of a step's output a failure message quotes.
const TAIL_LINES: usize = 20;

/// Commands to run as one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub lines: Vec<String>,
    nonce: String,
}

impl Script {
    pub fn new(lines: &[String]) -> Script {
        // Unique enough that no program prints it by chance: the pid, the time and a counter.
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let nonce = format!(
            "{:x}{:x}{:x}",
            std::process::id(),
            t,
            N.fetch_add(1, Ordering::Relaxed)
        );
        Script {
            lines: lines.to_vec(),
            nonce,
        }
    }

    /// The lines as the user wrote them, one per line: how reports show the script.
    pub fn display(&self) -> String {
        self.lines.join("\n")
    }

    /// The `/bin/sh` program that runs the lines.
    pub fn text(&self) -> String {
        let mut s = String::new();
        s.push_str("exec 8>&2 9>&1\n");
        s.push_str(&format!(
            "__orca_mark() {{ printf '\\036orca:{n} %s\\n' \"$*\" >&9; printf '\\036orca:{n} %s\\n' \"$*\" >&8; }}\n",
            n = self.nonce
        ));
        for (i, line) in self.lines.iter().enumerate() {
            s.push_str(&format!("__orca_mark start {i}\n"));
            s.push_str(&format!("eval {}\n", quote(line)));
            s.push_str(&format!(
                "__orca_rc=$?; __orca_mark end {i} $__orca_rc; [ $__orca_rc -eq 0 ] || exit $__orca_rc\n"
            ));
        }
        s
    }

    /// A splitter for this script's output, whose clock starts now.
    pub fn splitter(&self) -> Splitter {
        Splitter {
            marker: format!("\x1eorca:{} ", self.nonce).into_bytes(),
            lines: self.lines.clone(),
            streams: [Stream::default(), Stream::default()],
            steps: Vec::new(),
        }
    }
}

/// One line of a script, as it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub index: usize,
    pub command: String,
    /// `None` when the shell was killed by a signal during the line.
    pub exit_code: Option<i32>,
    pub duration: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Step {
    /// The step for a report: its output's tail, stderr then stdout.
    pub fn result(&self) -> StepResult {
        StepResult {
            index: self.index,
            command: self.command.clone(),
            exit_code: self.exit_code,
            duration_ms: self.duration.as_millis() as u64,
            output: Some(self.tail(TAIL_LINES * 4)).filter(|t| !t.is_empty()),
        }
    }

    /// The last `n` lines of the step's output, stderr then stdout.
    pub fn tail(&self, n: usize) -> String {
        let mut text = String::new();
        for bytes in [&self.stderr, &self.stdout] {
            let s = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = s.lines().collect();
            for l in &lines[lines.len().saturating_sub(n)..] {
                text.push_str(l);
                text.push('\n');
            }
        }
        text
    }

    /// Why the line failed, naming it: `line 2 of 3 (`make test`) exited with status 2`, then
    /// the tail of its output.
    pub fn failure(&self, of: usize) -> String {
        let how = match self.exit_code {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_string(),
        };
        let mut s = format!("line {} of {of} `{}` {how}", self.index + 1, self.command);
        let tail = self.tail(TAIL_LINES);
        if !tail.trim().is_empty() {
            s.push_str("; its output ended with:\n");
            s.push_str(tail.trim_end());
        }
        s
    }
}

#[derive(Default)]
struct Stream {
    /// Bytes held back: they may be the start of a marker not yet complete.
    held: Vec<u8>,
    /// The line whose output this stream is carrying.
    current: Option<usize>,
}

struct Open {
    index: usize,
    start: Instant,
    end: Option<(Instant, i32)>,
    out: [Vec<u8>; 2],
}

/// Takes a script's markers out of its output streams and records its steps.
pub struct Splitter {
    marker: Vec<u8>,
    lines: Vec<String>,
    streams: [Stream; 2],
    steps: Vec<Open>,
}

/// Which stream bytes came on.
pub const STDOUT: usize = 0;
pub const STDERR: usize = 1;

impl Splitter {
    /// Feeds bytes that arrived on `stream` at `now`; returns what to pass on (the bytes without
    /// the markers).
    pub fn feed(&mut self, stream: usize, bytes: &[u8], now: Instant) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.streams[stream].held);
        buf.extend_from_slice(bytes);
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        while i < buf.len() {
            let Some(rel) = buf[i..].iter().position(|b| *b == 0x1e) else {
                self.text(stream, &buf[i..], &mut out);
                break;
            };
            let at = i + rel;
            self.text(stream, &buf[i..at], &mut out);
            let rest = &buf[at..];
            let n = rest.len().min(self.marker.len());
            if rest[..n] != self.marker[..n] {
                // Not ours: an ordinary byte.
                self.text(stream, &buf[at..at + 1], &mut out);
                i = at + 1;
                continue;
            }
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                // Possibly a marker, not complete yet.
                self.streams[stream].held = rest.to_vec();
                return out;
            };
            if n < self.marker.len() {
                self.text(stream, &buf[at..at + 1], &mut out);
                i = at + 1;
                continue;
            }
            let body = String::from_utf8_lossy(&rest[self.marker.len()..nl]).into_owned();
            self.event(stream, &body, now);
            i = at + nl + 1;
        }
        out
    }

    fn text(&mut self, stream: usize, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        out.extend_from_slice(bytes);
        if let Some(cur) = self.streams[stream].current
            && let Some(step) = self.steps.iter_mut().find(|s| s.index == cur)
        {
            let keep = &mut step.out[stream];
            keep.extend_from_slice(bytes);
            if keep.len() > 2 * KEEP_BYTES {
                keep.drain(..keep.len() - KEEP_BYTES);
            }
        }
    }

    fn event(&mut self, stream: usize, body: &str, now: Instant) {
        let mut words = body.split_whitespace();
        let (Some(kind), Some(Ok(index))) = (words.next(), words.next().map(str::parse::<usize>)) else {
            return;
        };
        match kind {
            "start" => {
                self.streams[stream].current = Some(index);
                if !self.steps.iter().any(|s| s.index == index) {
                    self.steps.push(Open {
                        index,
                        start: now,
                        end: None,
                        out: [Vec::new(), Vec::new()],
                    });
                }
            }
            "end" => {
                self.streams[stream].current = None;
                let code = words.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
                if let Some(s) = self.steps.iter_mut().find(|s| s.index == index)
                    && s.end.is_none()
                {
                    s.end = Some((now, code));
                }
            }
            _ => {}
        }
    }

    /// The bytes still held back (an incomplete marker that never completed), for each stream.
    pub fn flush(&mut self, stream: usize) -> Vec<u8> {
        let held = std::mem::take(&mut self.streams[stream].held);
        let mut out = Vec::new();
        self.text(stream, &held, &mut out);
        out
    }

    /// The steps that ran. A line that started but never ended ended the shell: it takes the
    /// shell's `exit_code` (`None`: killed by a signal).
    pub fn finish(mut self, exit_code: Option<i32>, now: Instant) -> Vec<Step> {
        for s in 0..2 {
            let _ = self.flush(s);
        }
        let lines = self.lines;
        let mut steps: Vec<Step> = self
            .steps
            .into_iter()
            .map(|o| {
                let (end, code) = match o.end {
                    Some((t, c)) => (t, Some(c)),
                    None => (now, exit_code),
                };
                let [stdout, stderr] = o.out;
                Step {
                    index: o.index,
                    command: lines.get(o.index).cloned().unwrap_or_default(),
                    exit_code: code,
                    duration: end.saturating_duration_since(o.start),
                    stdout,
                    stderr,
                }
            })
            .collect();
        steps.sort_by_key(|s| s.index);
        steps
    }
}

/// The first step that failed, if one did.
pub fn failed(steps: &[Step]) -> Option<&Step> {
    steps.iter().find(|s| s.exit_code != Some(0))
}

/// `s` in single quotes for `/bin/sh`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs the script with the real `/bin/sh`, feeding its output through the splitter in small
    /// chunks so that markers are cut across reads.
    fn run(lines: &[&str]) -> (Option<i32>, String, String, Vec<Step>) {
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let script = Script::new(&lines);
        let mut sp = script.splitter();
        let out = Command::new("/bin/sh").arg("-c").arg(script.text()).output().unwrap();
        let now = Instant::now();
        let (mut so, mut se) = (Vec::new(), Vec::new());
        for chunk in out.stdout.chunks(3) {
            so.extend(sp.feed(STDOUT, chunk, now));
        }
        for chunk in out.stderr.chunks(5) {
            se.extend(sp.feed(STDERR, chunk, now));
        }
        so.extend(sp.flush(STDOUT));
        se.extend(sp.flush(STDERR));
        let steps = sp.finish(out.status.code(), now);
        (
            out.status.code(),
            String::from_utf8(so).unwrap(),
            String::from_utf8(se).unwrap(),
            steps,
        )
    }

    #[test]
    fn state_carries_from_line_to_line() {
        let (code, out, err, steps) = run(&[
            "cd /tmp",
            "pwd",
            "export X=1",
            "greet() { echo hello $1; }",
            "echo X=$X; greet you",
            "echo to-stderr >&2",
        ]);
        assert_eq!(code, Some(0));
        assert_eq!(out, "/tmp\nX=1\nhello you\n");
        assert_eq!(err, "to-stderr\n");
        assert_eq!(steps.len(), 6);
        assert!(steps.iter().all(|s| s.exit_code == Some(0)));
        assert_eq!(steps[1].stdout, b"/tmp\n");
        assert_eq!(steps[4].stdout, b"X=1\nhello you\n");
        assert_eq!(steps[5].stderr, b"to-stderr\n");
    }

    #[test]
    fn the_first_failing_line_stops_the_script_and_is_named() {
        let (code, out, _, steps) = run(&["echo one", "echo broken >&2; false", "echo three"]);
        assert_eq!(code, Some(1));
        assert_eq!(out, "one\n");
        assert_eq!(steps.len(), 2, "the third line never ran");
        let f = failed(&steps).unwrap();
        assert_eq!(f.index, 1);
        let msg = f.failure(3);
        assert!(msg.starts_with("line 2 of 3 `echo broken >&2; false` exited with status 1"), "{msg}");
        assert!(msg.contains("broken"), "{msg}");
    }

    #[test]
    fn a_line_that_ends_the_shell_takes_its_exit_status() {
        let (code, _, _, steps) = run(&["true", "exit 7", "echo never"]);
        assert_eq!(code, Some(7));
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1].exit_code, Some(7));
        // A syntax error ends a non-interactive shell: the line is still the one named.
        let (code, _, err, steps) = run(&["echo ok", "if then", "echo never"]);
        assert_ne!(code, Some(0));
        assert_eq!(failed(&steps).unwrap().index, 1, "{err}");
    }

    #[test]
    fn quotes_and_redirections_in_a_line_are_kept() {
        let (code, out, _, _) = run(&["printf '%s\\n' \"it's\" 'a \"b\"'", "exec >/dev/null", "echo hidden"]);
        assert_eq!(code, Some(0));
        assert_eq!(out, "it's\na \"b\"\n");
    }

    #[test]
    fn bytes_that_only_look_like_a_marker_pass_through() {
        let script = Script::new(&["x".to_string()]);
        let mut sp = script.splitter();
        let now = Instant::now();
        let mut got = sp.feed(STDOUT, b"a\x1eb\n\x1eorc", now);
        got.extend(sp.feed(STDOUT, b"x\n", now));
        got.extend(sp.flush(STDOUT));
        assert_eq!(got, b"a\x1eb\n\x1eorcx\n");
    }
}
