//! The live view of a pipeline run: a spinner per running stage on a terminal, plain
//! `orca: stage ...` lines elsewhere (CI, pipes). Always on stderr.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::report::{CellResult, Outcome};

pub struct View {
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
}

impl View {
    pub fn new() -> View {
        View {
            multi: crate::ui::fancy().then(MultiProgress::new),
            bars: HashMap::new(),
        }
    }

    /// A stage started; `place` says where it runs (`host`, `vm ebpf-test, kernel 6.12`).
    pub fn started(&mut self, stage: &str, place: &str) {
        match &self.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{stage} ({place})"));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars.insert(stage.to_string(), bar);
            }
            None => crate::ui::status(format!("stage {stage} started ({place})")),
        }
    }

    /// A stage ended: ran, was taken from the cache, or was skipped.
    pub fn finished(&mut self, r: &CellResult) {
        let how = if r.cached {
            "cached".to_string()
        } else {
            r.outcome.label().to_string()
        };
        let mut line = format!("stage {} {how}", r.id);
        if r.outcome != Outcome::Skip && !r.cached {
            line += &format!(" ({})", crate::ui::duration(Duration::from_millis(r.duration_ms)));
        }
        if let Some(m) = r.message.as_deref().filter(|_| r.outcome != Outcome::Pass) {
            line += &format!(": {m}");
        }
        if let Some(bar) = self.bars.remove(&r.id) {
            bar.finish_and_clear();
            if let Some(m) = &self.multi {
                m.remove(&bar);
            }
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(format!("orca: {line}"));
            }
            None => crate::ui::status(line),
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        for bar in self.bars.values() {
            bar.finish_and_clear();
        }
    }
}
