//! `orca validate`: check spec files and print every problem with its location.

use serde::Serialize;

use super::ValidateArgs;
use crate::error::Exit;
use crate::plan;
use crate::spec::Diagnostic;

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    files: Vec<String>,
    diagnostics: &'a [Diagnostic],
}

pub fn run(a: ValidateArgs) -> anyhow::Result<u8> {
    let files = if a.files.is_empty() {
        plan::project_files(&crate::paths::project_root())?
    } else {
        plan::load::expand(&a.files)?
    };
    if files.is_empty() {
        let hint = "name the spec files: orca validate FILE...";
        return Err(crate::error::usage(
            "no spec files to check: configs/ has no .hcl files",
            hint,
        ));
    }
    let checked = plan::check(&files);
    let diags = &checked.diagnostics;
    let valid = diags.is_empty();
    let shown: Vec<String> = files.iter().map(|f| plan::load::display(f)).collect();
    if a.json {
        let json = serde_json::to_string_pretty(&Report {
            valid,
            files: shown,
            diagnostics: diags,
        })?;
        write_out(&format!("{json}\n"))?;
    } else if valid {
        let n = files.len();
        write_out(&format!(
            "{n} spec file{} valid: {}\n",
            if n == 1 { "" } else { "s" },
            shown.join(", ")
        ))?;
    } else {
        write_err(&format!("{}\n", crate::spec::diag::render_all(diags)))?;
    }
    Ok(if valid { Exit::Ok.code() } else { Exit::Usage.code() })
}

/// Writes to stdout; a reader that went away (`orca validate --json | head`) is not an error.
pub(super) fn write_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    ignore_closed_pipe(std::io::stdout().lock().write_all(text.as_bytes()))
}

/// Writes to stderr, as [`write_out`] does to stdout.
pub(super) fn write_err(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    ignore_closed_pipe(std::io::stderr().lock().write_all(text.as_bytes()))
}

fn ignore_closed_pipe(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
