//! The terminal summary of a pipeline run: one line per stage, then a totals line.
//!
//! ```text
//! STAGE         RESULT  TIME   NOTE
//! build         cached  1.2s   cached from run 1764419700-4711
//! unit          FAIL    0.3s   command 1 `cargo test --lib` exited with status 101
//! integration   skip    -      dependency unit failed
//! ```
//!
//! A stage with `results` lists its test cases below its line, indented.

use std::fmt::Write;
use std::time::Duration;

use crate::report::{Outcome, Report};

pub fn render(report: &Report) -> String {
    let width = report
        .cells
        .iter()
        .flat_map(|c| std::iter::once(c.id.len()).chain(c.tests.iter().map(|t| t.name.len() + 2)))
        .max()
        .unwrap_or(5)
        .max(5)
        + 2;
    let mut out = format!("{:width$}{:8}{:8}NOTE\n", "STAGE", "RESULT", "TIME");
    for c in &report.cells {
        let result = if c.cached { "cached" } else { c.outcome.label() };
        let time = match c.outcome {
            Outcome::Skip | Outcome::Unavailable => "-".to_string(),
            _ => crate::ui::duration(Duration::from_millis(c.duration_ms)),
        };
        let note = match (&c.message, &c.kernel) {
            (Some(m), _) => m.lines().next().unwrap_or_default().to_string(),
            (None, Some(k)) => format!("kernel {k}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "{:width$}{result:8}{time:8}{note}", c.id);
        for t in &c.tests {
            let name = format!("  {}", t.name);
            let time = crate::ui::duration(Duration::from_millis(t.duration_ms));
            let note = t.message.as_deref().and_then(|m| m.lines().next()).unwrap_or_default();
            let _ = writeln!(out, "{name:width$}{:8}{time:8}{note}", t.outcome.label());
        }
    }
    let count = |o: Outcome| report.cells.iter().filter(|c| c.outcome == o).count();
    let cached = report.cells.iter().filter(|c| c.cached).count();
    let _ = writeln!(
        out,
        "\n{}: {} passed ({cached} cached), {} failed, {} errors, {} skipped in {}",
        report.kind,
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Error),
        count(Outcome::Skip) + count(Outcome::Unavailable),
        crate::ui::duration(Duration::from_millis(report.wall_ms)),
    );
    out
}
