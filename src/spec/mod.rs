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

/// orca's built-in kernel catalog: the four pinned kernels (5.10, 6.1, 6.12, 7.2), so that a
/// project without a catalog of its own can boot them. Entries of the project's own catalog add
/// kernels or replace the built-in entry of the same version.
pub const BUILTIN_CATALOG: &str = include_str!("../kernels.hcl");
/// How the built-in catalog is named: as its file in the model, and by `orca kernel list`.
pub const BUILTIN: &str = "built-in";

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
    add_builtin_catalog(&mut specs);
    check::check(&specs, &mut diags);
    let order = |d: &Diagnostic| inputs.iter().position(|i| i.display == d.file).unwrap_or(usize::MAX);
    diags.sort_by_key(|d| (order(d), d.line, d.column));
    (specs, diags)
}

/// Adds the built-in catalog's kernels that the loaded files do not declare themselves, as the
/// last file of the model.
fn add_builtin_catalog(specs: &mut Specs) {
    let file = specs.files.len();
    let src = SourceFile::new(PathBuf::from(BUILTIN), BUILTIN.into(), BUILTIN_CATALOG.into());
    let mut builtin = Specs::default();
    let mut diags = Vec::new();
    match syntax::parse_all(&src.text) {
        Ok(body) => read::read_file(file, &src, &body, &mut builtin, &mut diags),
        Err(_) => return,
    }
    debug_assert!(diags.is_empty(), "the built-in catalog is valid: {diags:?}");
    let declared: std::collections::HashSet<String> =
        specs.kernels.iter().map(|k| k.version.value.clone()).collect();
    specs.kernels.extend(
        builtin
            .kernels
            .into_iter()
            .filter(|k| !declared.contains(&k.version.value)),
    );
    specs.files.push(src);
}

/// Whether a model file is the built-in catalog rather than a file on disk.
pub fn is_builtin(f: &SourceFile) -> bool {
    f.display == BUILTIN && f.path == std::path::Path::new(BUILTIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in catalog is the project's generic kernels (the four Debian ones and the three
    /// Ubuntu ones), entry for entry, so that a project without a catalog boots exactly what this
    /// repository tests.
    #[test]
    fn the_builtin_catalog_matches_the_projects_generic_kernels() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (project, diags) = load(&[Input {
            path: root.join("configs/kernels.hcl"),
            display: "configs/kernels.hcl".into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        let (builtin, diags) = load(&[]);
        assert!(diags.is_empty(), "{diags:?}");
        let versions: Vec<&str> = builtin.kernels.iter().map(|k| k.version.value.as_str()).collect();
        assert_eq!(versions, ["5.10", "6.1", "6.12", "7.2", "5.4", "5.15", "6.8"]);
        for k in &builtin.kernels {
            assert!(is_builtin(&builtin.files[k.version.loc.file]));
            let p = project.kernels.iter().find(|p| p.version.value == k.version.value).unwrap();
            assert!(!is_builtin(&project.files[p.version.loc.file]), "the project's entry wins");
            assert_eq!((&p.release, &p.sources), (&k.release, &k.sources), "{}", k.version.value);
        }
    }
}
