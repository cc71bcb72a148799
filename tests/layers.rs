//! The code depends one way: no import cycle between files, nor between folders, of `src/`.
//!
//! Every `crate::...` and `super::...` path of a file (in `use` lines, grouped or not, and inline)
//! is resolved to the module file it names (the longest module prefix), giving a file graph; a
//! folder depends on another when one of its files does. A module's `mod.rs` re-exporting its
//! children (`pub use child::X`) is its facade, not a dependency, so only `crate::` and `super::`
//! paths count. `use super::*` (a test module's import of its own file) is not an edge.
//!
//! There is no exception: the firewall's suite, once the one cycle (`cli` <-> `suite`), is its own
//! crate under `ebpf/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Cycles allowed (each a strongly connected set of files): none.
const KNOWN: &[&[&str]] = &[];
const KNOWN_FOLDERS: &[&[&str]] = &[];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `a::b`; `src/a/mod.rs` → `a`; `src/lib.rs` → the crate root (no node).
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Module = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
        m.pop();
    }
    m
}

/// The text without comments and string literals, so that paths in prose do not count.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal ('x', '\n', '"') or a lifetime ('a): skip a literal only.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    let n = rest.find('\'').map(|i| i + 1).unwrap_or(0);
                    for _ in 0..n {
                        chars.next();
                    }
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every path of a `use` tree: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let segments = |s: &str| -> Vec<String> {
        s.split("::").map(str::trim).filter(|s| !s.is_empty() && *s != "self").map(String::from).collect()
    };
    if let Some(open) = tree.find('{')
        && tree.ends_with('}')
    {
        let mut base = prefix.to_vec();
        base.extend(segments(&tree[..open]));
        let inner = &tree[open + 1..tree.len() - 1];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_use(&inner[start..i], &base, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if !inner[start..].trim().is_empty() {
            expand_use(&inner[start..], &base, out);
        }
        return;
    }
    // `a::b as c`: the path is the part before ` as `.
    let leaf = tree.split_whitespace().next().unwrap_or("");
    let mut p = prefix.to_vec();
    p.extend(segments(leaf));
    out.push(p);
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The `crate::`/`super::` paths a file names.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before_ok = rest[..i].chars().last().is_none_or(|c| !is_ident(c));
        rest = &rest[i + 4..];
        if !before_ok {
            continue;
        }
        if let Some(end) = rest.find(';') {
            let tree = &rest[..end];
            if tree.trim() != "super::*" {
                expand_use(tree, &[], &mut out);
            }
        }
    }
    for root in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(root) {
            let start = at + i;
            at = start + root.len();
            if code[..start].chars().last().is_some_and(|c| is_ident(c) || c == ':' || c == '$') {
                continue;
            }
            let end = code[start..]
                .find(|c: char| !(is_ident(c) || c == ':'))
                .map(|n| start + n)
                .unwrap_or(code.len());
            let path: Vec<String> = code[start..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if path != ["super"] {
                out.push(path);
            }
        }
    }
    out
}

struct Graph {
    files: BTreeMap<Module, PathBuf>,
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn graph() -> Graph {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut list = Vec::new();
    rs_files(&src, &mut list);
    let files: BTreeMap<Module, PathBuf> = list.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, f) in &files {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let targets = edges.entry(m.clone()).or_default();
        for p in paths(&code) {
            let full: Module = match p.first().map(String::as_str) {
                Some("crate") => p[1..].to_vec(),
                Some("super") => {
                    let mut base = m.clone();
                    let mut q = &p[..];
                    while q.first().is_some_and(|s| s == "super") {
                        base.pop();
                        q = &q[1..];
                    }
                    base.extend(q.iter().cloned());
                    base
                }
                _ => continue,
            };
            let target = (0..=full.len()).rev().map(|n| full[..n].to_vec()).find(|t| files.contains_key(t));
            if let Some(t) = target
                && &t != m
                && !t.is_empty()
            {
                targets.insert(t);
            }
        }
    }
    Graph { files, edges }
}

/// Strongly connected sets of more than one node (Tarjan's algorithm, iterative enough for a
/// few hundred files).
fn cycles<N: Ord + Clone>(nodes: &[N], edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<BTreeSet<N>> {
    struct St<N> {
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on: BTreeSet<N>,
        out: Vec<BTreeSet<N>>,
        next: usize,
    }
    fn visit<N: Ord + Clone>(v: &N, edges: &BTreeMap<N, BTreeSet<N>>, s: &mut St<N>) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(w, edges, s);
                let l = s.low[v].min(s.low[w]);
                s.low.insert(v.clone(), l);
            } else if s.on.contains(w) {
                let l = s.low[v].min(s.index[w]);
                s.low.insert(v.clone(), l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = &w == v;
                set.insert(w);
                if done {
                    break;
                }
            }
            if set.len() > 1 {
                s.out.push(set);
            }
        }
    }
    let mut s = St {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
        next: 0,
    };
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(v, edges, &mut s);
        }
    }
    s.out
}

fn name(m: &Module) -> String {
    m.join("/")
}

fn known(sets: &[&[&str]]) -> BTreeSet<BTreeSet<String>> {
    sets.iter().map(|s| s.iter().map(|x| x.to_string()).collect()).collect()
}

#[test]
fn no_import_cycle_between_files() {
    let g = graph();
    assert!(g.files.len() > 50, "{} files", g.files.len());
    let nodes: Vec<Module> = g.files.keys().cloned().collect();
    let found: BTreeSet<BTreeSet<String>> =
        cycles(&nodes, &g.edges).into_iter().map(|c| c.iter().map(name).collect()).collect();
    let allowed = known(KNOWN);
    let unexpected: Vec<_> = found.difference(&allowed).collect();
    let edges_of = |set: &BTreeSet<String>| -> Vec<String> {
        g.edges
            .iter()
            .filter(|(a, _)| set.contains(&name(a)))
            .flat_map(|(a, bs)| {
                bs.iter()
                    .filter(|b| set.contains(&name(b)))
                    .map(move |b| format!("{} -> {}", name(a), name(b)))
            })
            .collect()
    };
    let explained: Vec<String> = unexpected
        .iter()
        .map(|c| format!("{c:?}:\n  {}", edges_of(c).join("\n  ")))
        .collect();
    assert!(unexpected.is_empty(), "import cycles between files:\n{}", explained.join("\n"));
    let gone: Vec<_> = allowed.difference(&found).cloned().collect();
    assert!(gone.is_empty(), "these known cycles are gone; remove them from KNOWN: {gone:?}");
}

#[test]
fn no_import_cycle_between_folders() {
    let g = graph();
    let folder = |m: &Module| -> String {
        let f = &g.files[m];
        let dir = f.parent().unwrap();
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
        dir.strip_prefix(&src).unwrap().to_string_lossy().into_owned()
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in &g.edges {
        for b in bs {
            let (fa, fb) = (folder(a), folder(b));
            // A folder and its own subfolders are one unit here; the crate root is no folder.
            let nested = fa == fb || fa.starts_with(&format!("{fb}/")) || fb.starts_with(&format!("{fa}/"));
            if !nested && !fa.is_empty() && !fb.is_empty() {
                edges.entry(fa).or_default().insert(fb);
            }
        }
    }
    let nodes: Vec<String> = g.files.keys().map(folder).collect::<BTreeSet<_>>().into_iter().collect();
    let found: BTreeSet<BTreeSet<String>> = cycles(&nodes, &edges).into_iter().collect();
    assert_eq!(found, known(KNOWN_FOLDERS), "import cycles between folders");
}

#[test]
fn the_checker_sees_a_cycle() {
    let code = code_only("use crate::a::{b, c::d as e};\n// crate::z\nfn f() { super::x::y(); let s = \"crate::q\"; }");
    let p = paths(&code);
    assert_eq!(
        p,
        [
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c", "d"],
            vec!["crate", "a"],
            vec!["super", "x", "y"]
        ]
    );
    let e: BTreeMap<u8, BTreeSet<u8>> = [(1, [2].into()), (2, [3].into()), (3, [1].into()), (4, [1].into())].into();
    assert_eq!(cycles(&[1, 2, 3, 4], &e), vec![BTreeSet::from([1, 2, 3])]);
}
