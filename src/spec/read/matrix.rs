//! A matrix file: `test_matrix = [ { name image kernel_version } ... ]` and
//! `test { parallel timeout commands vm results cache expect "GLOB" { min_kernel reason } }`.

use super::fields::{At, Cx, Fields};
use super::named::{self, Words};
use crate::spec::model::{EntrySpec, ExpectSpec, MatrixSpec, Specs, TestBlockSpec};
use crate::spec::syntax::{Block, Expr, Kind};

pub fn read(cx: &mut Cx, top: &Fields, out: &mut Specs) {
    let tests = top.blocks("test");
    let matrix = top.get("test_matrix");
    if let Some(extra) = tests.get(1) {
        let line = cx.line_of(&tests[0].ident.span);
        cx.error(
            extra.ident.span.clone(),
            format!("a second `test` block (the first is at line {line})"),
            "a matrix file has one `test` block; merge them",
        );
    }
    let test = tests.first().and_then(|b| read_test(cx, b));
    let Some(m) = matrix else {
        if let Some(b) = tests.first() {
            cx.error(b.ident.span.clone(), "a `test` block without a `test_matrix`", "add test_matrix = [ { name = \"6.1\", image = \"host\", kernel_version = \"6.1\" } ] to say where the tests run");
        }
        return;
    };
    let entries = read_entries(cx, m);
    if tests.is_empty() {
        cx.error(
            m.span.clone(),
            "a `test_matrix` without a `test` block",
            "add test { commands = [\"...\"] } to say what runs in each cell",
        );
        return;
    }
    if let (Some(entries), Some(test)) = (entries, test) {
        out.matrices.push(MatrixSpec {
            loc: cx.loc(m.span.clone()),
            entries,
            test,
        });
    }
}

fn read_entries(cx: &mut Cx, m: &crate::spec::syntax::Expr) -> Option<Vec<EntrySpec>> {
    let words = Words {
        attr: "test_matrix",
        kind: "test_matrix",
        one: "entry",
        each: "`test_matrix` entry",
        many: "matrix entries",
        example: "{ name = \"6.1\", image = \"host\", kernel_version = \"6.1\" }",
    };
    named::read(cx, m, &words, read_entry, |e| &e.name)
}

fn read_entry(cx: &mut Cx, f: &Fields) -> Option<EntrySpec> {
    f.check(cx, &[], &[]);
    let kernel_expr = f.require(cx, "kernel_version", "kernel_version = \"6.1\"");
    let kernel = kernel_expr.and_then(|e| {
        Some(At {
            value: cx.version(e, "kernel_version")?,
            loc: cx.loc(e.span.clone()),
        })
    });
    let image = match f.get("image") {
        Some(e) => cx.name(e, "image"),
        None => Some(At {
            value: "host".into(),
            loc: cx.loc(f.span.clone()),
        }),
    };
    let name = match f.get("name") {
        Some(e) => cx.name(e, "name"),
        None => kernel.clone(),
    };
    let (Some(name), Some(image), Some(kernel)) = (name, image, kernel) else {
        return None;
    };
    if name.value.contains('/') {
        cx.error(
            name.loc.span.clone(),
            format!("entry name \"{}\" contains `/`", name.value),
            "entry names are cell ids and file names in reports; choose a name without `/`",
        );
        return None;
    }
    Some(EntrySpec { name, image, kernel })
}

fn read_test(cx: &mut Cx, b: &Block) -> Option<TestBlockSpec> {
    cx.labels(b, 0, "test { commands = [\"...\"] }");
    let f = Fields::body("test", b.ident.span.clone(), &b.body);
    f.check(cx, &["expect"], &["expect"]);
    let parallel = f.get("parallel").and_then(|e| cx.bool(e, "parallel"));
    let cache = f.get("cache").and_then(|e| cx.bool(e, "cache"));
    let timeout_secs = f.get("timeout").and_then(|e| cx.duration(e, "timeout"));
    let commands_expr = f.require(cx, "commands", "commands = [\"make test\"]");
    let commands = commands_expr.and_then(|e| {
        let c = cx.strings(e, "commands")?;
        if c.is_empty() {
            cx.error(
                e.span.clone(),
                "`commands` is empty",
                "list the commands each cell runs, e.g. [\"make test\"]",
            );
        }
        for (i, cmd) in c.iter().enumerate() {
            if cmd.trim().is_empty() {
                let span = match &e.kind {
                    Kind::Array(items) => items[i].span.clone(),
                    _ => e.span.clone(),
                };
                cx.error(span, "a command is empty", "remove it or write the command");
            }
        }
        Some(c)
    });
    let vm = f.get("vm").and_then(|e| cx.name(e, "vm"));
    let results = f.get("results").map(|e| results(cx, e)).unwrap_or_default();
    let mut expectations: Vec<ExpectSpec> = Vec::new();
    for x in f.blocks("expect") {
        let Some(labels) = cx.labels(x, 1, "expect \"GLOB\" { min_kernel = \"5.17\" }") else {
            continue;
        };
        let glob = labels[0].clone();
        if let Err(e) = glob::Pattern::new(&glob.text) {
            cx.error(
                glob.span.clone(),
                format!("\"{}\" is not a valid glob: {}", glob.text, e.msg),
                "a test name or a glob such as \"cgroup_*\"",
            );
            continue;
        }
        if glob.text.is_empty() {
            cx.error(
                glob.span.clone(),
                "the test name is empty",
                "name a test or a glob such as \"cgroup_*\"",
            );
            continue;
        }
        let ef = Fields::body("expect", x.ident.span.clone(), &x.body);
        ef.check(cx, &[], &[]);
        let min_kernel = ef
            .require(cx, "min_kernel", "min_kernel = \"5.17\"")
            .and_then(|e| cx.version(e, "min_kernel"));
        let reason = ef.get("reason").and_then(|e| cx.string(e, "reason"));
        if expectations.len() < 10_000 && expectations.iter().any(|e| e.test == glob.text) {
            cx.error(
                glob.span.clone(),
                format!("two `expect` blocks for \"{}\"", glob.text),
                "keep one",
            );
            continue;
        }
        if let Some(min_kernel) = min_kernel {
            expectations.push(ExpectSpec {
                test: glob.text,
                min_kernel,
                reason,
            });
        }
    }
    Some(TestBlockSpec {
        parallel,
        timeout_secs,
        commands: commands?,
        vm,
        expectations,
        results,
        cache,
    })
}

/// `results = ["build/test-results/*.xml"]`: globs of JUnit files a script writes (a matrix
/// `test` block's, or a pipeline stage's).
pub(super) fn results(cx: &mut Cx, e: &Expr) -> Vec<String> {
    let mut results = Vec::new();
    for g in cx.strings(e, "results").unwrap_or_default() {
        if let Err(err) = glob::Pattern::new(&g) {
            cx.error(
                e.span.clone(),
                format!("\"{g}\" is not a valid glob: {}", err.msg),
                "a JUnit file's path or a glob such as \"build/test-results/*.xml\"",
            );
            continue;
        }
        results.push(g);
    }
    results
}
