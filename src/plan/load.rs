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

/// `files` followed by the spec files they may refer to, that do not clash with them: first the
/// other `.hcl` files in each given file's own folder, then the project's `configs/*.hcl`. A file
/// is left out when it is one of `files`, or when it declares a matrix (pipeline) and one of
/// `files` does too. The built-in kernel catalog comes after all of them (see `spec::load`).
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
    let mut seen: Vec<PathBuf> = given.clone();
    let mut candidates = Vec::new();
    for f in &given {
        if let Some(dir) = f.parent() {
            candidates.extend(hcl_files(dir)?);
        }
    }
    candidates.extend(project_files(root)?);
    for p in candidates {
        let abs = absolute(&p);
        if seen.contains(&abs)
            || (gives_matrix && declares(&p, "test_matrix"))
            || (gives_pipeline && declares(&p, "pipeline"))
        {
            continue;
        }
        seen.push(abs);
        out.push(p);
    }
    Ok(out)
}

/// The spec files a command's FILE argument stands for: a file as it is; a folder, its `.hcl`
/// files (sorted). A folder without any is a usage error.
pub fn expand(files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in files {
        if !f.is_dir() {
            out.push(f.clone());
            continue;
        }
        let found = hcl_files(f)?;
        if found.is_empty() {
            return Err(anyhow::Error::new(
                Fail::new(Exit::Usage, format!("{} holds no .hcl spec files", f.display()))
                    .hint("name a spec file, or a folder holding them (such as configs/)"),
            ));
        }
        out.extend(found);
    }
    Ok(out)
}

/// The one spec file among `candidates` that declares `what` (`vm`, `test_matrix`, `pipeline`),
/// for a command given a folder. None or several is a usage error naming them.
pub fn pick(dir: &Path, what: &str) -> Result<PathBuf> {
    let found: Vec<PathBuf> = hcl_files(dir)?
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .map(|t| declares_kind(&t, what))
                .unwrap_or(false)
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(anyhow::Error::new(
            Fail::new(Exit::Usage, format!("no spec file in {} declares `{what}`", dir.display()))
                .hint("name the spec file itself"),
        )),
        many => {
            let names: Vec<String> = many.iter().map(|p| display(p)).collect();
            Err(anyhow::Error::new(
                Fail::new(
                    Exit::Usage,
                    format!("several spec files in {} declare `{what}`: {}", dir.display(), names.join(", ")),
                )
                .hint("name the one to use"),
            ))
        }
    }
}

/// The `.hcl` files directly in `dir`, sorted; none when it is not a folder.
fn hcl_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Whether a file's text declares `test_matrix` or `pipeline` at the top level.
fn declares_kind(text: &str, what: &str) -> bool {
    match spec::syntax::parse(text) {
        Ok(body) => body.items.iter().any(|i| i.key().text == what),
        Err(_) => false,
    }
}

/// The project's spec files: `configs/*.hcl`, sorted; none when there is no `configs/` (the
/// built-in kernel catalog still loads).
pub fn project_files(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("configs");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    std::fs::read_dir(&dir).map_err(|e| {
        anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!("cannot read the spec folder {}: {e}", dir.display()),
            )
            .hint("check the folder's permissions, or name the spec files"),
        )
    })?;
    hcl_files(&dir)
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
    for w in &specs.warnings {
        crate::ui::warn(w);
    }
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
