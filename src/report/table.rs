//! The terminal summary of a matrix run: tests down, kernels across, then each cell's outcome,
//! time and whether it came from the cache; below the table, why anything did not pass.
//!
//! ```text
//! TEST                          5.10    6.1     6.12    7.2
//! cgroup_count/connect4        xfail   pass    pass    n/a
//! xdp_drop/ipv4_blocked    pass    pass    pass    n/a
//!
//! cell                          pass    pass    pass    n/a
//! time                          41.2s   38.2s   35.0s   -
//! cached                        no      yes     no      -
//! ```

use std::fmt::Write;
use std::time::Duration;

use super::model::{CellResult, Outcome, Report, TestResult};

/// How many lines of a verifier log or output the summary quotes; the JUnit and JSON keep all.
const QUOTED_LINES: usize = 15;

/// Each cell's column heading: its kernel, or its id where a kernel has several cells.
pub fn column_labels(report: &Report) -> Vec<String> {
    let kernels: Vec<Option<&str>> = report.cells.iter().map(|c| c.kernel.as_deref()).collect();
    report
        .cells
        .iter()
        .map(|c| match c.kernel.as_deref() {
            Some(k) if kernels.iter().filter(|o| **o == Some(k)).count() == 1 => k.to_string(),
            _ => c.id.clone(),
        })
        .collect()
}

/// The test names of every cell, in the order they first appear.
fn test_names(report: &Report) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for t in report.cells.iter().flat_map(|c| &c.tests) {
        if !names.contains(&t.name.as_str()) {
            names.push(&t.name);
        }
    }
    names
}

/// What the table shows for `test` in `cell`.
fn mark(cell: &CellResult, test: &str) -> &'static str {
    match cell.tests.iter().find(|t| t.name == test) {
        Some(t) => t.outcome.label(),
        // A cell that reported nothing (unavailable, crashed) shows why in every row.
        None if cell.tests.is_empty() => cell.outcome.label(),
        None => "-",
    }
}

/// The whole summary: table, details and a totals line.
pub fn render(report: &Report) -> String {
    let labels = column_labels(report);
    let names = test_names(report);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["TEST".to_string()];
    header.extend(labels.iter().cloned());
    rows.push(header);
    for name in &names {
        let mut row = vec![name.to_string()];
        row.extend(report.cells.iter().map(|c| mark(c, name).to_string()));
        rows.push(row);
    }
    let footer_at = rows.len();
    let ran = |c: &CellResult| !matches!(c.outcome, Outcome::Unavailable) && (c.duration_ms > 0 || c.cached);
    rows.push(
        std::iter::once("cell".to_string())
            .chain(report.cells.iter().map(|c| c.outcome.label().to_string()))
            .collect(),
    );
    rows.push(
        std::iter::once("time".to_string())
            .chain(report.cells.iter().map(|c| {
                if ran(c) {
                    crate::ui::duration(Duration::from_millis(c.duration_ms))
                } else {
                    "-".into()
                }
            }))
            .collect(),
    );
    rows.push(
        std::iter::once("cached".to_string())
            .chain(report.cells.iter().map(|c| match (ran(c), c.cached) {
                (false, _) => "-".to_string(),
                (true, true) => "yes".to_string(),
                (true, false) => "no".to_string(),
            }))
            .collect(),
    );

    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        if n == footer_at && !names.is_empty() {
            out.push('\n');
        }
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let details = details(report, &labels);
    if !details.is_empty() {
        out.push('\n');
        out.push_str(&details);
    }
    out.push('\n');
    out.push_str(&totals(report));
    out.push('\n');
    out
}

/// Why each cell or test did not simply pass.
fn details(report: &Report, labels: &[String]) -> String {
    let mut out = String::new();
    for (c, label) in report.cells.iter().zip(labels) {
        // A failing cell's tests say why below; the cell's own line is for its own troubles.
        let explained = c.outcome == Outcome::Pass || (c.outcome.is_failure() && !c.tests.is_empty());
        if !explained || c.message.is_some() {
            let _ = writeln!(
                out,
                "{label}: {}{}",
                c.outcome.label(),
                c.message.as_deref().map(|m| format!(" — {m}")).unwrap_or_default()
            );
            if matches!(c.outcome, Outcome::Error | Outcome::Fail) && c.tests.iter().all(|t| !t.outcome.is_failure()) {
                quote(&mut out, c.output.as_deref());
            }
        }
        // A cell that ran on a second boot: never hidden, with the first boot's console tail.
        if let Some(f) = &c.flaky {
            let (first, rest) = f.split_once('\n').unwrap_or((f, ""));
            let _ = writeln!(out, "{label}: flaky — ran on a second boot; {first}");
            quote(&mut out, Some(rest));
        }
        // Tests that did not pass, one line per outcome and reason (a program that does not load
        // fails all of its tests alike); the first failure's log is quoted.
        let mut groups: Vec<(Outcome, &str, Vec<&TestResult>)> = Vec::new();
        for t in c
            .tests
            .iter()
            .filter(|t| !matches!(t.outcome, Outcome::Pass | Outcome::Skip))
        {
            let why = match t.outcome {
                Outcome::ExpectedFail => t.expectation.as_deref(),
                _ => t.message.as_deref(),
            };
            let why = why.unwrap_or("");
            match groups.iter_mut().find(|(o, w, _)| *o == t.outcome && *w == why) {
                Some((_, _, tests)) => tests.push(t),
                None => groups.push((t.outcome, why, vec![t])),
            }
        }
        for (outcome, why, tests) in groups {
            let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
            let which = if names.len() <= 3 {
                names.join(", ")
            } else {
                format!("{} tests ({}, ...)", names.len(), names[0])
            };
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" — {why}")
            };
            let _ = writeln!(out, "{label} {which}: {}{why}", outcome.label());
            if outcome == Outcome::Fail {
                quote(&mut out, tests.iter().find_map(|t| t.log.as_deref()));
            }
        }
    }
    out
}

/// The last lines of a log, indented.
fn quote(out: &mut String, text: Option<&str>) {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(QUOTED_LINES);
    if skip > 0 {
        let _ = writeln!(out, "    ... ({skip} more lines in the JUnit/JSON report)");
    }
    for l in &lines[skip..] {
        let _ = writeln!(out, "    {l}");
    }
}

/// `4 cells (1 cached, 1 n/a) · 30 pass, 1 xfail · wall 1m32s`.
fn totals(report: &Report) -> String {
    let cached = report.cells.iter().filter(|c| c.cached).count();
    let mut cell_notes = vec![];
    if cached > 0 {
        cell_notes.push(format!("{cached} cached"));
    }
    let flaky = report.cells.iter().filter(|c| c.flaky.is_some()).count();
    if flaky > 0 {
        cell_notes.push(format!("{flaky} flaky"));
    }
    for o in [Outcome::Unavailable, Outcome::Error] {
        let n = report.cells.iter().filter(|c| c.outcome == o).count();
        if n > 0 {
            cell_notes.push(format!("{n} {}", o.label()));
        }
    }
    let mut s = format!(
        "{} cell{}",
        report.cells.len(),
        if report.cells.len() == 1 { "" } else { "s" }
    );
    if !cell_notes.is_empty() {
        let _ = write!(s, " ({})", cell_notes.join(", "));
    }
    let order = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::ExpectedFail,
        Outcome::UnexpectedPass,
        Outcome::Skip,
        Outcome::Error,
    ];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|o| {
            let n = report
                .cells
                .iter()
                .flat_map(|c| &c.tests)
                .filter(|t| t.outcome == *o)
                .count();
            (n > 0).then(|| format!("{n} {}", o.label()))
        })
        .collect();
    if !counts.is_empty() {
        let _ = write!(s, " · tests: {}", counts.join(", "));
    }
    let _ = write!(
        s,
        " · wall {}",
        crate::ui::duration(Duration::from_millis(report.wall_ms))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn renders_tests_down_and_kernels_across() {
        let text = render(&sample::report());
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("TEST") && lines[0].contains("5.10") && lines[0].contains("6.12"),
            "{text}"
        );
        let row = lines.iter().find(|l| l.starts_with("cgroup_count/loop")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, ["cgroup_count/loop", "xfail", "FAIL", "n/a", "ERROR"], "{text}");
        let cached = lines.iter().find(|l| l.starts_with("cached")).unwrap();
        assert_eq!(
            cached.split_whitespace().collect::<Vec<_>>(),
            ["cached", "yes", "no", "-", "no"]
        );
        assert!(
            text.contains("unknown func bpf_loop#181"),
            "a failure quotes its verifier log:\n{text}"
        );
        assert!(text.contains("6.12: n/a — no source for kernel 6.12"), "{text}");
        assert!(text.contains("4 cells (1 cached, 1 n/a, 1 ERROR)"), "{text}");
    }

    #[test]
    fn a_flaky_cell_says_so_with_the_first_boot_console() {
        let mut r = sample::report();
        r.cells[0].flaky = Some(
            "first boot failed (exit 124): VM cell-5-10-0 did not finish booting within 1m (tcg)\n  console:\n  [    1.6] sched_clock: Marking stable".into(),
        );
        let text = render(&r);
        assert!(
            text.contains("5.10: flaky — ran on a second boot; first boot failed (exit 124): VM cell-5-10-0 did not finish booting"),
            "{text}"
        );
        assert!(text.contains("sched_clock: Marking stable"), "{text}");
        assert!(text.contains("4 cells (1 cached, 1 flaky, 1 n/a, 1 ERROR)"), "{text}");
    }

    #[test]
    fn tests_failing_alike_share_one_line() {
        let mut r = sample::report();
        let template = r.cells[1].tests[1].clone();
        for n in 0..4 {
            r.cells[1].tests.push(crate::report::TestResult {
                name: format!("cgroup_count/t{n}"),
                message: Some("not run: the program did not load".into()),
                log: None,
                ..template.clone()
            });
        }
        let text = render(&r);
        assert!(text.contains("6.1 4 tests (cgroup_count/t0, ...): FAIL — not run: the program did not load\n"), "{text}");
        assert!(text.contains("6.1 cgroup_count/loop: FAIL — loading failed\n    0: (85) call bpf_loop#181"), "{text}");
    }

    #[test]
    fn several_cells_per_kernel_are_headed_by_id() {
        let mut r = sample::report();
        r.cells[1].kernel = Some("5.10".into());
        assert_eq!(column_labels(&r), ["5.10/0", "6.1/0", "6.12", "7.2"]);
    }
}
