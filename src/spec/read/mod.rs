//! Syntax tree → typed model, one file at a time. Checks that need every file (duplicate names
//! across files, stage dependencies, cycles) are in `spec::check`.

mod catalog;
pub mod fields;
pub mod image;
mod matrix;
mod named;
mod pipeline;
mod vm;

use fields::{Cx, Fields, Var};

use super::diag::Diagnostic;
use super::model::Specs;
use super::source::SourceFile;
use super::syntax::{Body, Kind};

/// The schema version this orca reads.
pub const SCHEMA_VERSION: &str = "1.0";

/// Reads one parsed file into `out`, recording every problem in `diags`.
pub fn read_file(file: usize, src: &SourceFile, body: &Body, out: &mut Specs, diags: &mut Vec<Diagnostic>) {
    let mut cx = Cx::new(file, src, diags);
    let top = Fields::body("file", 0..0, body);
    top.check(
        &mut cx,
        &[
            "variable",
            "vm",
            "test",
            "pipeline",
            "toolchain",
            "program",
            "kernel",
            "image",
        ],
        &["variable", "vm", "pipeline", "program", "kernel", "image"],
    );
    match top.get("schema_version") {
        // Users leave it out (a tuned copy of a spec, say): read as the current version, said once.
        None => out.warnings.push(format!(
            "{}: no `schema_version`; read as version {SCHEMA_VERSION} (add `schema_version = \"{SCHEMA_VERSION}\"` at the top to say so)",
            src.display
        )),
        Some(e) => {
            if let Some(v) = cx.version(e, "schema_version")
                && v != SCHEMA_VERSION
            {
                let msg = format!("schema_version \"{v}\" is not supported: this orca reads version {SCHEMA_VERSION}");
                cx.error(
                    e.span.clone(),
                    msg,
                    format!("write schema_version = \"{SCHEMA_VERSION}\", or use the orca the spec was written for"),
                );
            }
        }
    }
    read_variables(&mut cx, &top);
    for b in top.blocks("vm") {
        if let Some(v) = vm::read(&mut cx, b) {
            out.vms.push(v);
        }
    }
    matrix::read(&mut cx, &top, out);
    for b in top.blocks("pipeline") {
        if let Some(p) = pipeline::read(&mut cx, b) {
            out.pipelines.push(p);
        }
    }
    catalog::read(&mut cx, &top, out);
    out.warnings.append(&mut cx.warnings);
}

fn read_variables(cx: &mut Cx, top: &Fields) {
    for b in top.blocks("variable") {
        let Some(labels) = cx.labels(b, 1, "variable \"NAME\" { default = \"...\" }") else {
            continue;
        };
        let name = labels[0].clone();
        let f = Fields::body("variable", b.ident.span.clone(), &b.body);
        f.check(cx, &[], &[]);
        if let Some(d) = f.get("description") {
            cx.string(d, "description");
        }
        let default = f.get("default").cloned();
        if let Some(d) = &default
            && matches!(d.kind, Kind::Ref(_))
        {
            cx.error(
                d.span.clone(),
                "a variable's default must be a value, not a reference",
                "write the value itself",
            );
            continue;
        }
        if name.text.is_empty() || !name.text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            cx.error(
                name.span.clone(),
                format!("`{}` is not a valid variable name", name.text),
                "use letters, digits and `_`",
            );
            continue;
        }
        if cx.vars.contains_key(&name.text) {
            cx.error(
                name.span.clone(),
                format!("variable `{}` is declared twice", name.text),
                "keep one declaration",
            );
            continue;
        }
        cx.vars.insert(name.text, Var { default });
    }
}
