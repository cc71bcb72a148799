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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mutated specs never panic the reader or the resolver: every valid spec of the corpus and of
    /// the project, with a few bytes swapped for syntax-heavy ones, thousands of times.
    #[test]
    fn mutated_specs_never_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = Vec::new();
        for dir in ["tests/specs/valid", "configs"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "hcl") {
                    seeds.push(std::fs::read(&p).unwrap());
                }
            }
        }
        assert!(!seeds.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.hcl");
        let alphabet = b"{}[]\"$%=,\n<-#/*\\ ax1.:";
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut valid = 0;
        for round in 0..1500 {
            let mut s = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 3 {
                let i = next() as usize % s.len();
                s[i] = alphabet[next() as usize % alphabet.len()];
            }
            std::fs::write(&path, &s).unwrap();
            let (specs, diags) = load(&[Input {
                path: path.clone(),
                display: "m.hcl".into(),
            }]);
            if diags.is_empty() {
                valid += 1;
                let _ = crate::plan::resolve::resolve(&specs, dir.path());
            }
            for d in &diags {
                let _ = d.render();
            }
        }
        // Some mutations land in comments or strings and keep the spec valid; most do not.
        assert!(valid > 0 && valid < 1500, "{valid} of 1500 mutated specs were valid");
    }
}
