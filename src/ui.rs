//! Terminal output: progress bars on a terminal, plain lines elsewhere (CI, pipes).
//!
//! Everything user-facing that is not a report goes through here, on stderr, so that stdout stays
//! clean for `--json` and for the output of commands run in guests.

use std::io::IsTerminal;
use std::time::Duration;

/// True when progress may be drawn: stderr is a terminal and `CI` is not set.
pub fn fancy() -> bool {
    std::io::stderr().is_terminal() && !crate::ci::enabled()
}

/// A status line on stderr: `orca: <msg>`.
pub fn status(msg: impl AsRef<str>) {
    eprintln!("orca: {}", msg.as_ref());
}

/// A warning on stderr.
pub fn warn(msg: impl AsRef<str>) {
    eprintln!("orca: warning: {}", msg.as_ref());
}

/// A spinner for one long step; plain start/finish lines when not on a terminal.
pub struct Step {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    start: std::time::Instant,
}

impl Step {
    pub fn start(label: impl Into<String>) -> Step {
        let label = label.into();
        let bar = if fancy() {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.set_message(label.clone());
            b.enable_steady_tick(Duration::from_millis(120));
            Some(b)
        } else {
            status(format!("{label} ..."));
            None
        };
        Step { bar, label, start: std::time::Instant::now() }
    }

    pub fn set(&self, msg: impl AsRef<str>) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{}: {}", self.label, msg.as_ref()));
        }
    }

    /// A warning printed above the spinner (or as a plain line).
    pub fn warn(&self, msg: impl AsRef<str>) {
        match &self.bar {
            Some(b) => b.suspend(|| warn(msg)),
            None => warn(msg),
        }
    }

    /// A handle that sets the step's message from another thread (no-op without a bar).
    pub fn setter(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let bar = self.bar.clone();
        let label = self.label.clone();
        move |msg: &str| {
            if let Some(b) = &bar {
                b.set_message(format!("{label}: {msg}"));
            }
        }
    }

    pub fn done(self, outcome: impl AsRef<str>) {
        let line = format!("{} {} ({})", self.label, outcome.as_ref(), duration(self.start.elapsed()));
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        status(line);
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A duration as people write it: `850ms`, `4.2s`, `3m05s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A byte count as people write it: `512 B`, `3.4 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(850)), "850ms");
        assert_eq!(duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    }
}
