//! Loading a plan from spec files: the entry point every command uses.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::resolve::{normalise, resolve};
use super::types::Plan;
use crate::error::{Exit, Fail};
use crate::spec::{self, Diagnostic, Input};

/// The outcome of checking spec files: the plan when they are valid, and every problem found.
#[derive(Debug)]
pub struct Checked {
    pub plan: Option<Plan>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads and resolves spec files. Spec errors come back as one error carrying
/// `Fail { exit: Usage }` whose message is every diagnostic, rendered.
pub fn load(files: &[PathBuf]) -> Result<Plan> {
    into_result(check(files))
}

/// Loads every `configs/*.hcl` of the project at `root` (sorted by name).
pub fn load_project(root: &Path) -> Result<Plan> {
    into_result(check(&project_files(root)?))
}

/// Loads the project's specs with `files` in place of any project file that declares the same
/// kind of thing (matrix or pipeline): what `orca matrix run FILE` and `orca pipeline run FILE`
/// need, so that the catalog, the toolchain and the VMs still come from `configs/`.
pub fn load_with_project(root: &Path, files: &[PathBuf]) -> Result<Plan> {
    into_result(check(&with_project(root, files)?))
}

/// `files` followed by the project's own spec files that do not clash with them: a project file
/// is left out when it is one of `files`, or when it declares a matrix (pipeline) and one of
/// `files` does too.
pub fn with_project(root: &Path, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let given: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect();
    let declares = |p: &Path, what: &str| {
        std::fs::read_to_string(p)
            .map(|t| declares_kind(&t, what))
            .unwrap_or(false)
    };
    let gives_matrix = given.iter().any(|f| declares(f, "test_matrix"));
    let gives_pipeline = given.iter().any(|f| declares(f, "pipeline"));
    let mut out = files.to_vec();
    for p in project_files(root)? {
        if given.contains(&absolute(&p))
            || (gives_matrix && declares(&p, "test_matrix"))
            || (gives_pipeline && declares(&p, "pipeline"))
        {
            continue;
        }
        out.push(p);
    }
    Ok(out)
}

/// Whether a file's text declares `test_matrix` or `pipeline` at the top level.
fn declares_kind(text: &str, what: &str) -> bool {
    match spec::syntax::parse(text) {
        Ok(body) => body.items.iter().any(|i| i.key().text == what),
        Err(_) => false,
    }
}

/// The project's spec files: `configs/*.hcl`, sorted.
pub fn project_files(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("configs");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!("cannot read the spec folder {}: {e}", dir.display()),
            )
            .hint("run orca inside a project with a configs/ folder, or name the spec files"),
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Checks spec files and, when they are valid, resolves the plan. Never fails: problems, including
/// unreadable files, are diagnostics.
pub fn check(files: &[PathBuf]) -> Checked {
    let root = plan_root(files);
    let inputs: Vec<Input> = files
        .iter()
        .map(|p| Input {
            path: p.clone(),
            display: display(p),
        })
        .collect();
    let (specs, diagnostics) = spec::load(&inputs);
    let plan = diagnostics.is_empty().then(|| resolve(&specs, &root));
    Checked { plan, diagnostics }
}

fn into_result(c: Checked) -> Result<Plan> {
    match c.plan {
        Some(p) => Ok(p),
        None => {
            let n = c.diagnostics.len();
            let msg = format!(
                "the specs have {n} problem{}:\n\n{}",
                if n == 1 { "" } else { "s" },
                spec::diag::render_all(&c.diagnostics)
            );
            Err(anyhow::Error::new(
                Fail::new(Exit::Usage, msg).hint("fix the problems above; `orca validate` lists them again"),
            ))
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        normalise(p)
    } else {
        normalise(&std::env::current_dir().unwrap_or_default().join(p))
    }
}

/// The root plan paths are relative to: the project root when every file lies below it, else the
/// folder the files have in common.
pub fn plan_root(files: &[PathBuf]) -> PathBuf {
    let root = normalise(&crate::paths::project_root());
    let abs: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect();
    if abs.iter().all(|f| f.starts_with(&root)) {
        return root;
    }
    let mut common = abs
        .first()
        .and_then(|f| f.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.clone());
    for f in &abs {
        while !f.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// How a file is named in diagnostics: as given when relative, relative to the current directory
/// when below it, else absolute.
pub fn display(p: &Path) -> String {
    if p.is_relative() {
        return p.display().to_string();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    match p.strip_prefix(&cwd) {
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use crate::spec::{Input, load};

    /// Mutated specs never panic the spec reader or the resolver (tested here, above both): every
    /// valid spec of the corpus and of the project, with a few bytes swapped for syntax-heavy ones,
    /// thousands of times.
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
                let _ = resolve(&specs, dir.path());
            }
            for d in &diags {
                let _ = d.render();
            }
        }
        // Some mutations land in comments or strings and keep the spec valid; most do not.
        assert!(valid > 0 && valid < 1500, "{valid} of 1500 mutated specs were valid");
    }
}
