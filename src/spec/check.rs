//! Checks across files: names that must be unique among all the specs loaded together.

use std::collections::HashMap;

use super::diag::{Diagnostic, Loc};
use super::model::Specs;

/// Reports every name declared twice, at the second declaration, naming the first.
pub fn check(specs: &Specs, diags: &mut Vec<Diagnostic>) {
    let mut report = |what: &str, items: Vec<(&str, &Loc)>, hint: &str| {
        let mut seen: HashMap<&str, &Loc> = HashMap::new();
        for (name, loc) in items {
            match seen.get(name) {
                Some(first) => {
                    let f = &specs.files[first.file];
                    let (line, col) = f.line_col(first.span.start);
                    let msg = format!(
                        "{what} \"{name}\" is declared twice (first at {}:{line}:{col})",
                        f.display
                    );
                    diags.push(Diagnostic::at(
                        &specs.files[loc.file],
                        loc.span.clone(),
                        msg,
                        Some(hint.to_string()),
                    ));
                }
                None => {
                    seen.insert(name, loc);
                }
            }
        }
    };
    report(
        "vm",
        specs.vms.iter().map(|v| (v.name.value.as_str(), &v.name.loc)).collect(),
        "VM names are unique across the specs: rename one",
    );
    report(
        "program",
        specs
            .programs
            .iter()
            .map(|p| (p.name.value.as_str(), &p.name.loc))
            .collect(),
        "program names are unique: each is built to NAME.o",
    );
    report(
        "kernel",
        specs
            .kernels
            .iter()
            .map(|k| (k.version.value.as_str(), &k.version.loc))
            .collect(),
        "keep one catalog entry per kernel version, with several debian/url/file parts if needed",
    );
    report(
        "image",
        specs
            .images
            .iter()
            .map(|i| (i.name.value.as_str(), &i.name.loc))
            .collect(),
        "image names are unique: rename one",
    );
    report(
        "pipeline",
        specs
            .pipelines
            .iter()
            .map(|p| (p.name.value.as_str(), &p.name.loc))
            .collect(),
        "pipeline names are unique: rename one",
    );
    report(
        "toolchain",
        specs.toolchains.iter().map(|t| ("toolchain", &t.loc)).collect(),
        "the project has one pinned toolchain: keep one `toolchain` block",
    );
    report(
        "test matrix",
        specs.matrices.iter().map(|m| ("test_matrix", &m.loc)).collect(),
        "a plan holds one matrix: validate or run matrix files one at a time",
    );
    super::read::image::check(specs, diags);
}
