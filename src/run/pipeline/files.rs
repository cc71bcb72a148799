//! Project-relative globs (a stage's `artifacts` and `inputs`) expanded to files.

use std::path::Path;

/// Expands `globs` against `root` to project-relative, `/`-separated file paths, sorted and
/// without duplicates. A directory match contributes every file below it. With `must_match`, a
/// glob that matches nothing is an error (a stage that promised an artifact and made none).
pub fn expand(root: &Path, globs: &[String], must_match: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for pattern in globs {
        if Path::new(pattern).is_absolute() || pattern.split('/').any(|p| p == "..") {
            return Err(format!("`{pattern}` must be a project-relative path without `..`"));
        }
        let full = root.join(pattern);
        let full = full
            .to_str()
            .ok_or_else(|| format!("`{pattern}`: the project path is not UTF-8"))?;
        let paths =
            glob::glob(&escape_root(root, full)).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
        let before = out.len();
        for p in paths.flatten() {
            walk(root, &p, &mut out);
        }
        if must_match && out.len() == before {
            return Err(format!("`{pattern}` matched no file"));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The glob with the root part escaped, so a root holding `[` or `*` still works.
fn escape_root(root: &Path, full: &str) -> String {
    let r = root.to_string_lossy();
    match full.strip_prefix(r.as_ref()) {
        Some(rest) => format!("{}{rest}", glob::Pattern::escape(&r)),
        None => full.to_string(),
    }
}

fn walk(root: &Path, p: &Path, out: &mut Vec<String>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            walk(root, &e.path(), out);
        }
    } else if p.is_file()
        && let Ok(rel) = p.strip_prefix(root)
    {
        out.push(rel.to_string_lossy().replace('\\', "/"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_to_sorted_relative_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("out/sub")).unwrap();
        std::fs::write(d.path().join("out/b.o"), "b").unwrap();
        std::fs::write(d.path().join("out/a.o"), "a").unwrap();
        std::fs::write(d.path().join("out/sub/c.txt"), "c").unwrap();
        let got = expand(d.path(), &["out/*.o".into(), "out/sub".into(), "out/a.o".into()], true).unwrap();
        assert_eq!(got, ["out/a.o", "out/b.o", "out/sub/c.txt"]);
    }

    #[test]
    fn a_promised_artifact_that_is_missing_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let err = expand(d.path(), &["out/*.o".into()], true).unwrap_err();
        assert!(err.contains("matched no file"), "{err}");
        assert_eq!(
            expand(d.path(), &["out/*.o".into()], false).unwrap(),
            Vec::<String>::new()
        );
        assert!(expand(d.path(), &["../x".into()], false).is_err());
        assert!(expand(d.path(), &["/etc/passwd".into()], false).is_err());
    }
}
