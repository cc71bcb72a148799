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
        a.files
    };
    if files.is_empty() {
        return Err(crate::error::usage(
            "no spec files to check: configs/ has no .hcl files",
            "name the spec files: orca validate FILE...",
        ));
    }
    let checked = plan::check(&files);
    let diags = &checked.diagnostics;
    let valid = diags.is_empty();
    if a.json {
        let files = files.iter().map(|f| plan::load::display(f)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                valid,
                files,
                diagnostics: diags
            })?
        );
    } else if valid {
        let n = files.len();
        println!(
            "{n} spec file{} valid: {}",
            if n == 1 { "" } else { "s" },
            files
                .iter()
                .map(|f| plan::load::display(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        eprintln!("{}", crate::spec::diag::render_all(diags));
    }
    Ok(if valid { Exit::Ok.code() } else { Exit::Usage.code() })
}
