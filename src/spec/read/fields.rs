//! Reading typed values out of the syntax tree: known keys, required keys, types, units and
//! variables. Every problem is recorded and reading goes on, so one run reports them all.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::spec::diag::{Diagnostic, Loc, Span, did_you_mean};
use crate::spec::model::keys;
use crate::spec::source::SourceFile;
use crate::spec::syntax::{Attr, Block, Body, Expr, Item, Kind, Part, Word};
use crate::spec::units;

/// A declared variable: its default (if any) and where it was declared.
#[derive(Debug, Clone)]
pub struct Var {
    pub default: Option<Expr>,
}

/// The reading context of one file.
pub struct Cx<'a> {
    pub file: usize,
    pub src: &'a SourceFile,
    pub diags: &'a mut Vec<Diagnostic>,
    pub vars: HashMap<String, Var>,
    /// Warnings, each a whole line naming FILE:LINE:COL; the spec stays valid.
    pub warnings: Vec<String>,
}

impl<'a> Cx<'a> {
    pub fn new(file: usize, src: &'a SourceFile, diags: &'a mut Vec<Diagnostic>) -> Cx<'a> {
        Cx {
            file,
            src,
            diags,
            vars: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a warning at `span`: `FILE:LINE:COL: MESSAGE`.
    pub fn warn(&mut self, span: &Span, message: impl std::fmt::Display) {
        let (line, col) = self.src.line_col(span.start);
        self.warnings.push(format!("{}:{line}:{col}: {message}", self.src.display));
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        let hint = hint.into();
        let hint = if hint.is_empty() { None } else { Some(hint) };
        self.diags.push(Diagnostic::at(self.src, span, message, hint));
    }

    pub fn loc(&self, span: Span) -> Loc {
        Loc::new(self.file, span)
    }

    /// `line N` of an offset, for "first set at line N" messages.
    pub fn line_of(&self, span: &Span) -> usize {
        self.src.line_col(span.start).0
    }

    /// A variable's value, or `None` after reporting why there is none. `ORCA_VAR_<NAME>` in the
    /// environment overrides the default, as a string.
    fn var_value(&mut self, name: &Word, span: Span) -> Option<Expr> {
        if let Ok(v) = std::env::var(format!("ORCA_VAR_{}", name.text)) {
            return Some(Expr {
                kind: Kind::Str(vec![Part::Lit(v)]),
                span,
            });
        }
        match self.vars.get(&name.text) {
            Some(Var { default: Some(e) }) => Some(e.clone()),
            Some(Var { default: None }) => {
                let msg = format!("variable `{}` has no value", name.text);
                self.error(
                    span,
                    msg,
                    format!("give it a default, or set ORCA_VAR_{} in the environment", name.text),
                );
                None
            }
            None => {
                let known: Vec<&str> = self.vars.keys().map(String::as_str).collect();
                let hint = match did_you_mean(&name.text, known) {
                    Some(s) => format!(
                        "did you mean `var.{s}`? Otherwise declare it: variable \"{}\" {{ default = \"...\" }}",
                        name.text
                    ),
                    None => format!(
                        "declare it in this file: variable \"{}\" {{ default = \"...\" }}",
                        name.text
                    ),
                };
                self.error(name.span.clone(), format!("undefined variable `{}`", name.text), hint);
                None
            }
        }
    }

    /// Follows a bare `var.NAME` to its value.
    pub fn deref<'e>(&mut self, e: &'e Expr) -> Option<Cow<'e, Expr>> {
        match &e.kind {
            Kind::Ref(path) => match path.as_slice() {
                [root, name] if root.text == "var" => self.var_value(name, e.span.clone()).map(Cow::Owned),
                [root, name] if root.text == "env" => {
                    let s = self.env_value(name)?;
                    Some(Cow::Owned(Expr {
                        kind: Kind::Str(vec![Part::Lit(s)]),
                        span: e.span.clone(),
                    }))
                }
                [single] => {
                    let t = &single.text;
                    self.error(
                        e.span.clone(),
                        format!("`{t}` is not a value"),
                        format!("write a string in double quotes: \"{t}\""),
                    );
                    None
                }
                _ => {
                    self.bad_reference(path, e.span.clone());
                    None
                }
            },
            _ => Some(Cow::Borrowed(e)),
        }
    }

    fn env_value(&mut self, name: &Word) -> Option<String> {
        match std::env::var(&name.text) {
            Ok(v) => Some(v),
            Err(_) => {
                let msg = format!("environment variable `{}` is not set", name.text);
                self.error(
                    name.span.clone(),
                    msg,
                    format!(
                        "set {} before running orca, or use a variable with a default",
                        name.text
                    ),
                );
                None
            }
        }
    }

    fn bad_reference(&mut self, path: &[Word], span: Span) {
        let text: Vec<&str> = path.iter().map(|w| w.text.as_str()).collect();
        let hint = "only `var.NAME` (a `variable` block in this file) and `env.NAME` can be referenced";
        self.error(span, format!("unknown reference `{}`", text.join(".")), hint);
    }

    /// Joins a string's parts, substituting references.
    fn interpolate(&mut self, parts: &[Part]) -> Option<String> {
        let mut out = String::new();
        let mut ok = true;
        for part in parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Ref { path, span } => {
                    let value = match path.as_slice() {
                        [root, name] if root.text == "var" => {
                            self.var_value(name, span.clone()).and_then(|v| match v.kind {
                                Kind::Str(p) if p.iter().all(|p| matches!(p, Part::Lit(_))) => Some(
                                    p.iter()
                                        .map(|p| if let Part::Lit(s) = p { s.as_str() } else { "" })
                                        .collect(),
                                ),
                                Kind::Num(n) => Some(n),
                                Kind::Bool(b) => Some(b.to_string()),
                                other => {
                                    let msg = format!(
                                        "variable `{}` is {} and cannot be put into a string",
                                        name.text,
                                        other.type_name()
                                    );
                                    self.error(span.clone(), msg, "interpolate only strings, numbers and booleans");
                                    None
                                }
                            })
                        }
                        [root, name] if root.text == "env" => self.env_value(name),
                        _ => {
                            self.bad_reference(path, span.clone());
                            None
                        }
                    };
                    match value {
                        Some(v) => out.push_str(&v),
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(out)
    }

    fn wrong_type(&mut self, e: &Expr, what: &str, expected: &str, hint: &str) {
        let msg = format!("`{what}` must be {expected}, found {}", e.kind.type_name());
        self.error(e.span.clone(), msg, hint);
    }

    pub fn string(&mut self, e: &Expr, what: &str) -> Option<String> {
        let e = self.deref(e)?;
        match &e.kind {
            Kind::Str(parts) => self.interpolate(parts),
            _ => {
                self.wrong_type(
                    &e,
                    what,
                    "a string",
                    &format!("write it in double quotes: {what} = \"...\""),
                );
                None
            }
        }
    }

    /// A version such as `6.1`: a string, or a number written bare (kept as written).
    pub fn version(&mut self, e: &Expr, what: &str) -> Option<String> {
        let e = self.deref(e)?;
        let s = match &e.kind {
            Kind::Num(n) => n.clone(),
            _ => self.string(&e, what)?,
        };
        let parts: Vec<&str> = s.split('.').collect();
        let ok = (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            self.error(
                e.span.clone(),
                format!("`{what}` \"{s}\" is not a kernel version"),
                "write MAJOR.MINOR, e.g. \"6.1\" or \"5.17\"",
            );
            return None;
        }
        Some(s)
    }

    /// A non-empty string naming something (a VM, a stage, a kernel...).
    pub fn name(&mut self, e: &Expr, what: &str) -> Option<At<String>> {
        let s = self.string(e, what)?;
        if s.trim().is_empty() {
            self.error(
                e.span.clone(),
                format!("`{what}` is empty"),
                format!("give {what} a value"),
            );
            return None;
        }
        Some(At {
            value: s,
            loc: self.loc(e.span.clone()),
        })
    }

    pub fn bool(&mut self, e: &Expr, what: &str) -> Option<bool> {
        let e = self.deref(e)?;
        match &e.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(p) if matches!(p.as_slice(), [Part::Lit(s)] if s == "true" || s == "false") => {
                self.wrong_type(
                    &e,
                    what,
                    "true or false",
                    &format!("write {what} = true or {what} = false, without quotes"),
                );
                None
            }
            _ => {
                self.wrong_type(
                    &e,
                    what,
                    "true or false",
                    &format!("write {what} = true or {what} = false"),
                );
                None
            }
        }
    }

    /// A whole number.
    pub fn int(&mut self, e: &Expr, what: &str) -> Option<i64> {
        let e = self.deref(e)?;
        match &e.kind {
            Kind::Num(n) => match n.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(
                        e.span.clone(),
                        format!("`{what}` must be a whole number, found {n}"),
                        format!("write e.g. {what} = 2"),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(
                    &e,
                    what,
                    "a whole number",
                    &format!("write it without quotes, e.g. {what} = 2"),
                );
                None
            }
        }
    }

    /// A list of values (a single value is refused: lists are written `[..]`).
    pub fn list<'e>(&mut self, e: &'e Expr, what: &str) -> Option<Vec<Cow<'e, Expr>>> {
        let d = self.deref(e)?;
        match d {
            Cow::Borrowed(Expr {
                kind: Kind::Array(items),
                ..
            }) => Some(items.iter().map(Cow::Borrowed).collect()),
            Cow::Owned(Expr {
                kind: Kind::Array(items),
                ..
            }) => Some(items.into_iter().map(Cow::Owned).collect()),
            other => {
                self.wrong_type(
                    &other,
                    what,
                    "a list",
                    &format!("write {what} = [ ... ], with the items separated by commas"),
                );
                None
            }
        }
    }

    pub fn strings(&mut self, e: &Expr, what: &str) -> Option<Vec<String>> {
        let items = self.list(e, what)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in &items {
            match self.string(item, &format!("{what} element")) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub fn size(&mut self, e: &Expr, what: &str) -> Option<u64> {
        let s = self.string(e, what)?;
        units::size_mib(&s)
            .map_err(|u| self.error(e.span.clone(), format!("`{what}`: {}", u.message), u.hint))
            .ok()
    }

    pub fn duration(&mut self, e: &Expr, what: &str) -> Option<u64> {
        let s = self.string(e, what)?;
        units::duration_secs(&s)
            .map_err(|u| self.error(e.span.clone(), format!("`{what}`: {}", u.message), u.hint))
            .ok()
    }

    /// An absolute guest path.
    pub fn guest_path(&mut self, e: &Expr, what: &str) -> Option<String> {
        let s = self.string(e, what)?;
        if !s.starts_with('/') {
            self.error(
                e.span.clone(),
                format!("`{what}` \"{s}\" must be an absolute path in the guest"),
                format!("write it from the root, e.g. \"/{}\"", s.trim_start_matches("./")),
            );
            return None;
        }
        Some(s)
    }

    /// A sha256 in hex: exactly 64 hex digits.
    pub fn sha256(&mut self, e: &Expr, what: &str) -> Option<String> {
        let s = self.string(e, what)?;
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let msg = format!("`{what}` must be 64 hex digits, found {} characters", s.chars().count());
            self.error(
                e.span.clone(),
                msg,
                "copy the output of `sha256sum FILE`, or let `orca kernel pin` write it",
            );
            return None;
        }
        Some(s.to_ascii_lowercase())
    }

    /// Checks a block has exactly `n` labels; returns them.
    pub fn labels<'b>(&mut self, b: &'b Block, n: usize, example: &str) -> Option<&'b [Word]> {
        if b.labels.len() == n {
            return Some(&b.labels);
        }
        let span = b.labels.get(n).map(|l| l.span.clone()).unwrap_or(b.ident.span.clone());
        let msg = match n {
            0 => format!("`{}` takes no label", b.ident.text),
            1 => format!("`{}` takes one label, found {}", b.ident.text, b.labels.len()),
            _ => format!("`{}` takes {n} labels", b.ident.text),
        };
        self.error(span, msg, format!("write {example}"));
        None
    }
}

pub use crate::spec::model::At;

/// A block body or an object, seen as named entries.
pub struct Fields<'t> {
    /// The kind of block or object, a key of [`crate::spec::model::KEYS`].
    pub kind: &'static str,
    /// Where to report missing keys.
    pub span: Span,
    entries: Vec<(&'t Word, Entry<'t>)>,
}

#[derive(Clone, Copy)]
pub enum Entry<'t> {
    Value(&'t Expr),
    Block(&'t Block),
}

impl<'t> Fields<'t> {
    pub fn body(kind: &'static str, span: Span, body: &'t Body) -> Fields<'t> {
        let entries = body
            .items
            .iter()
            .map(|i| match i {
                Item::Attr(a) => (&a.key, Entry::Value(&a.value)),
                Item::Block(b) => (&b.ident, Entry::Block(b)),
            })
            .collect();
        Fields { kind, span, entries }
    }

    pub fn object(kind: &'static str, span: Span, attrs: &'t [Attr]) -> Fields<'t> {
        Fields {
            kind,
            span,
            entries: attrs.iter().map(|a| (&a.key, Entry::Value(&a.value))).collect(),
        }
    }

    /// Reports unknown keys (with the nearest known one), settings written as blocks and blocks
    /// written as settings, and keys given twice. `blocks` are the keys that are blocks;
    /// `repeatable` the blocks that may appear more than once.
    pub fn check(&self, cx: &mut Cx, blocks: &[&str], repeatable: &[&str]) {
        let known = keys(self.kind);
        let mut seen: HashMap<&str, &Word> = HashMap::new();
        let label = self.kind.rsplit(' ').next().unwrap_or(self.kind);
        for (word, entry) in &self.entries {
            let key = word.text.as_str();
            if !known.contains(&key) {
                let hint = match did_you_mean(key, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                let place = if self.kind == "file" {
                    "at the top level".to_string()
                } else {
                    format!("in `{label}`")
                };
                cx.error(word.span.clone(), format!("unknown key `{key}` {place}"), hint);
                continue;
            }
            let is_block = blocks.contains(&key);
            match entry {
                Entry::Value(_) if is_block => {
                    cx.error(
                        word.span.clone(),
                        format!("`{key}` is a block, not a setting"),
                        format!("write `{key} {{ ... }}` without `=`"),
                    );
                    continue;
                }
                Entry::Block(_) if !is_block => {
                    cx.error(
                        word.span.clone(),
                        format!("`{key}` is a setting, not a block"),
                        format!("write `{key} = ...`"),
                    );
                    continue;
                }
                _ => {}
            }
            if repeatable.contains(&key) {
                continue;
            }
            if let Some(first) = seen.get(key) {
                let line = cx.line_of(&first.span);
                let what = if is_block { "block" } else { "key" };
                cx.error(
                    word.span.clone(),
                    format!("`{key}` is given twice (first at line {line})"),
                    format!("keep one `{key}` {what}"),
                );
            } else {
                seen.insert(key, word);
            }
        }
    }

    /// The first value set for `key`.
    pub fn get(&self, key: &str) -> Option<&'t Expr> {
        self.entries.iter().find_map(|(w, e)| match e {
            Entry::Value(v) if w.text == key => Some(*v),
            _ => None,
        })
    }

    /// Where `key` is written (its first occurrence).
    pub fn key(&self, key: &str) -> Option<&'t Word> {
        self.entries.iter().find(|(w, _)| w.text == key).map(|(w, _)| *w)
    }

    /// The blocks named `key`, in order.
    pub fn blocks(&self, key: &str) -> Vec<&'t Block> {
        self.entries
            .iter()
            .filter_map(|(w, e)| match e {
                Entry::Block(b) if w.text == key => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The value of a required key, or `None` after reporting that it is missing.
    pub fn require(&self, cx: &mut Cx, key: &str, example: &str) -> Option<&'t Expr> {
        let v = self.get(key);
        if v.is_none() {
            let label = self.kind.rsplit(' ').next().unwrap_or(self.kind);
            cx.error(
                self.span.clone(),
                format!("`{label}` is missing `{key}`"),
                format!("add {example}"),
            );
        }
        v
    }
}
