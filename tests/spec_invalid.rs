//! Every invalid spec in `tests/specs/invalid/` (one mistake each) and `tests/specs/multiple/`
//! (several) is refused by the real `orca validate` with exit 2, a diagnostic at the location its
//! `# expect: LINE:COL: fragment` header names, and no panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ORCA: &str = env!("CARGO_BIN_EXE_orca");

/// `(line, column, message fragment)` expectations from a file's leading `# expect:` lines.
fn expectations(path: &Path) -> Vec<(usize, usize, String)> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some(rest) = line.strip_prefix("# expect: ") else {
            continue;
        };
        let mut parts = rest.splitn(3, ':');
        let l = parts.next().and_then(|x| x.trim().parse().ok());
        let c = parts.next().and_then(|x| x.trim().parse().ok());
        let frag = parts.next().unwrap_or("").trim().to_string();
        out.push((
            l.unwrap_or_else(|| panic!("{}: bad expect line", path.display())),
            c.unwrap(),
            frag,
        ));
    }
    assert!(
        !out.is_empty(),
        "{} has no `# expect: LINE:COL: fragment` header",
        path.display()
    );
    out
}

fn validate(args: &[&str]) -> Output {
    Command::new(ORCA)
        .arg("validate")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running orca validate")
}

fn spec_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    files
}

/// Checks one file; returns the problems found (empty when it behaves).
fn check(path: &Path) -> Vec<String> {
    let shown = path.to_str().unwrap();
    let out = validate(&[shown]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{stderr}");
    let mut problems = Vec::new();
    if out.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", out.status.code()));
    }
    if all.contains("panicked") || all.contains("stack backtrace") || all.contains("RUST_BACKTRACE") {
        problems.push("output shows a panic".into());
    }
    for (line, col, frag) in expectations(path) {
        let located = format!("{shown}:{line}:{col}: error: ");
        match all.lines().find(|l| l.starts_with(&located)) {
            None => problems.push(format!("no diagnostic at {line}:{col}")),
            Some(l) if !l.contains(&frag) => problems.push(format!("diagnostic at {line}:{col} lacks \"{frag}\": {l}")),
            Some(_) => {}
        }
    }
    // Every diagnostic comes with a hint.
    let errors = all.lines().filter(|l| l.contains(": error: ")).count();
    let hints = all.lines().filter(|l| l.trim_start().starts_with("hint: ")).count();
    if hints < errors {
        problems.push(format!("{errors} errors but only {hints} hints"));
    }
    // The JSON form locates the same problems.
    let json = validate(&["--json", shown]);
    let v: serde_json::Value = match serde_json::from_slice(&json.stdout) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("--json output is not JSON: {e}"));
            return problems;
        }
    };
    if json.status.code() != Some(2) || v["valid"] != false {
        problems.push("--json does not report the file invalid with exit 2".into());
    }
    for (line, col, _) in expectations(path) {
        let found = v["diagnostics"]
            .as_array()
            .is_some_and(|ds| ds.iter().any(|d| d["line"] == line && d["column"] == col));
        if !found {
            problems.push(format!("--json has no diagnostic at {line}:{col}"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("output was:\n{all}"));
    }
    problems
}

fn check_all(files: &[PathBuf]) {
    let mut failures = Vec::new();
    for f in files {
        let problems = check(f);
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", f.display(), problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} specs misbehave:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn each_invalid_spec_is_refused_at_its_location() {
    let files = spec_files("tests/specs/invalid");
    assert!(files.len() >= 45, "only {} invalid specs", files.len());
    check_all(&files);
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let files = spec_files("tests/specs/multiple");
    assert!(!files.is_empty());
    check_all(&files);
}

#[test]
fn a_50_mb_file_is_refused_quickly_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.hcl");
    let mut text = String::from("schema_version = \"1.0\"\n");
    let line = "# padding padding padding padding padding padding padding padding padding padding\n";
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(line);
    }
    std::fs::write(&path, &text).unwrap();
    let shown = path.to_str().unwrap();
    let out = validate(&[shown]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{shown}:1:1: error: ")), "{stderr}");
    assert!(stderr.contains("8 MiB"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_file_is_a_located_error() {
    let out = validate(&["tests/specs/no-such-file.hcl"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tests/specs/no-such-file.hcl:1:1: error: cannot read"),
        "{stderr}"
    );
}

#[test]
fn a_large_spec_with_many_problems_is_reported_in_full_as_json_and_capped_as_text() {
    // 7 MB, 60,000 stages each with an unknown key and a missing `commands`: every check must
    // stay linear, and the text output stays readable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.hcl");
    let mut text = String::from("schema_version = \"1.0\"\npipeline {\n  name = \"p\"\n  stages = [\n");
    let n = 60_000;
    for i in 0..n {
        text.push_str(&format!(
            "    {{ name = \"s{i}\", comands = [\"true\"], dependencies = [\"s{}\"] }},\n",
            i + 1
        ));
    }
    text.push_str("  ]\n}\n");
    std::fs::write(&path, &text).unwrap();
    let shown = path.to_str().unwrap();
    let out = validate(&[shown]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains(&format!("{shown}:5:20: error: unknown key `comands` in `stage`")),
        "{}",
        &stderr[..2000]
    );
    assert!(
        stderr.contains(&format!("and {} more", 2 * n - 100)),
        "{}",
        &stderr[stderr.len() - 500..]
    );
    assert!(stderr.ends_with(&format!("{} problems found\n", 2 * n)));
    let json = validate(&["--json", shown]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 2 * n);
}
