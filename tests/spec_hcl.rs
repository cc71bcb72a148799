//! Every spec in the repository is plain HCL: hcl-edit alone, without orca, parses the project's
//! configs, every valid spec and fixture, and every invalid spec except the few whose mistake is
//! the HCL syntax itself (listed here, and each checked to be refused).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hcl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            hcl_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "hcl") {
            out.push(p);
        }
    }
}

fn parse(p: &Path) -> Result<(), String> {
    let bytes = std::fs::read(p).unwrap();
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    hcl_edit::parser::parse_body(&text).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn every_valid_spec_and_fixture_parses_with_hcl_edit_alone() {
    let mut files = Vec::new();
    for dir in ["configs", "tests/specs/valid", "tests/fixtures"] {
        hcl_files(&root().join(dir), &mut files);
    }
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("configs/ebpf-test-matrix.hcl")), "{files:?}");
    assert!(files.len() >= 20, "{files:?}");
    let failed: Vec<String> = files
        .iter()
        .filter_map(|f| parse(f).err().map(|e| format!("{}:\n{e}", f.display())))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The invalid specs whose mistake is HCL syntax (or bytes that are not text at all).
const NOT_HCL: &[&str] = &[
    "binary-garbage-valid-utf8.hcl",
    "binary-garbage.hcl",
    "duplicate-key.hcl",
    "nested-blocks-1000.hcl",
    "nested-brackets-10000.hcl",
    "not-utf8-in-string.hcl",
    "syntax-colon-instead-of-equals.hcl",
    "syntax-control-character.hcl",
    "syntax-label-interpolation.hcl",
    "syntax-missing-comma-in-list.hcl",
    "syntax-missing-value.hcl",
    "syntax-quoted-block-key.hcl",
    "syntax-stray-closing-brace.hcl",
    "syntax-unclosed-block.hcl",
    "syntax-unclosed-comment.hcl",
    "syntax-unclosed-heredoc.hcl",
    "syntax-unclosed-list.hcl",
    "syntax-unclosed-string.hcl",
    "syntax-unknown-escape.hcl",
    "several-syntax-errors.hcl",
];

#[test]
fn invalid_specs_are_hcl_unless_their_mistake_is_the_syntax() {
    let mut files = Vec::new();
    hcl_files(&root().join("tests/specs/invalid"), &mut files);
    hcl_files(&root().join("tests/specs/multiple"), &mut files);
    files.sort();
    assert!(files.len() >= 50, "{files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        match (NOT_HCL.contains(&name), parse(f)) {
            (false, Err(e)) => wrong.push(format!("{}: not HCL:\n{e}", f.display())),
            (true, Ok(())) => wrong.push(format!("{}: listed as not HCL, but parses", f.display())),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
