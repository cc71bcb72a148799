//! The live view of a matrix run, on stderr: on a terminal one line per cell with its state and
//! elapsed time; elsewhere (CI, pipes) plain lines as cells start and end:
//!
//! ```text
//! orca: cell 6.1/0 started
//! orca: cell 6.1/0 pass (38.2s)
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::report::{CellResult, Outcome};

pub struct Live {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Live {
    /// A view of the cells with these ids, all queued.
    pub fn new(ids: &[&str]) -> Live {
        let width = ids.iter().map(|i| i.chars().count()).max().unwrap_or(0);
        let multi = crate::ui::fancy().then(MultiProgress::new);
        let mut bars = HashMap::new();
        if let Some(m) = &multi {
            for id in ids {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(style("  cell {prefix} {msg}"));
                bar.set_prefix(format!("{id:<width$}"));
                bar.set_message("queued");
                bars.insert(id.to_string(), bar);
            }
        }
        Live {
            multi,
            bars: Mutex::new(bars),
        }
    }

    /// What a cell is doing now: `preparing kernel 6.1`, `booting`, `running`.
    pub fn state(&self, id: &str, state: &str) {
        if let Some(bar) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            bar.set_message(state.to_string());
        }
    }

    /// A cell's clock started (its kernel is ready).
    pub fn started(&self, id: &str) {
        match self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            Some(bar) => {
                bar.set_style(style("{spinner} cell {prefix} {elapsed:>4} {msg}"));
                bar.reset_elapsed();
                bar.set_message("booting");
                bar.enable_steady_tick(Duration::from_millis(120));
            }
            None if self.multi.is_none() => crate::ui::status(format!("cell {id} started")),
            None => {}
        }
    }

    /// A cell ended: ran, came from the cache, or cannot run here.
    pub fn finished(&self, r: &CellResult) {
        let line = if crate::process::interrupted() && !r.cached {
            // After Ctrl-C a cell's end says nothing about it: its guest was killed under it.
            "interrupted".to_string()
        } else {
            describe(r)
        };
        match self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(&r.id) {
            Some(bar) => {
                bar.set_style(style("  cell {prefix} {msg}"));
                bar.finish_with_message(line);
            }
            None => crate::ui::status(format!("cell {} {line}", r.id)),
        }
    }
}

/// `pass (38.2s), 7 xfail`, `pass (cached)`, `n/a: <why>`.
fn describe(r: &CellResult) -> String {
    let mut line = r.outcome.label().to_string();
    if r.cached {
        line += " (cached)";
    } else if r.outcome != Outcome::Unavailable {
        line += &format!(" ({})", crate::ui::duration(Duration::from_millis(r.duration_ms)));
    }
    let xfails = r.tests.iter().filter(|t| t.outcome == Outcome::ExpectedFail).count();
    if xfails > 0 {
        line += &format!(", {xfails} xfail");
    }
    if let Some(m) = &r.message {
        line += &format!(": {m}");
    }
    line
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Drop for Live {
    fn drop(&mut self) {
        for bar in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
