//! The spec layer: HCL files → a typed model with source spans, and validation that reports every
//! problem at `FILE:LINE:COL` with a hint.
//!
//! Nothing here starts a VM or touches the network: the model is handed to `plan`, which resolves
//! it. See `docs/specs.md` for the reference of every block and field.

mod check;
pub mod diag;
pub mod graph;
pub mod model;
pub mod read;
pub mod source;
pub mod syntax;
pub mod units;

use std::path::PathBuf;

pub use diag::Diagnostic;
pub use model::Specs;
use source::SourceFile;

/// A spec file to load: its path, and the name diagnostics show for it.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub display: String,
}

/// Reads, parses and checks spec files. Returns what could be read and every problem found, in
/// file order, then line order. The model is only meaningful when there are no diagnostics.
pub fn load(inputs: &[Input]) -> (Specs, Vec<Diagnostic>) {
    let mut specs = Specs::default();
    let mut diags = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let src = match SourceFile::read(&input.path, input.display.clone()) {
            Ok(src) => src,
            Err(failed) => {
                let (src, problem) = *failed;
                let end = problem.offset + 1;
                diags.push(Diagnostic::at(
                    &src,
                    problem.offset..end,
                    problem.message,
                    Some(problem.hint),
                ));
                specs.files.push(src);
                continue;
            }
        };
        match syntax::parse_all(&src.text) {
            Ok(body) => read::read_file(i, &src, &body, &mut specs, &mut diags),
            Err(errors) => {
                for e in errors {
                    diags.push(Diagnostic::at(&src, e.span, e.message, e.hint));
                }
            }
        }
        specs.files.push(src);
    }
    check::check(&specs, &mut diags);
    let order = |d: &Diagnostic| inputs.iter().position(|i| i.display == d.file).unwrap_or(usize::MAX);
    diags.sort_by_key(|d| (order(d), d.line, d.column));
    (specs, diags)
}
