//! hcl-edit's parse errors → one located message with a hint, in the words of a spec's author.
//!
//! hcl-edit says where it stopped and what it expected there. That is often not where the mistake
//! is: an unclosed string or list is noticed lines later. So, for an error only, the text is
//! walked once more by [`delimiters`], which follows only strings, comments, heredocs and brackets
//! (it is no parser, and reads no values) to find the string, block or list left open.

use super::SyntaxError;
use crate::spec::diag::Span;

/// hcl-edit's nesting limit (blocks, lists, objects and templates inside an attribute's value).
const NESTING_LIMIT: usize = 64;

/// Explains the error hcl-edit reported with message `hcl` at offset `at` of `text`, when parsing
/// the region of `text` that starts at `from`.
pub(super) fn explain(text: &str, from: usize, at: usize, hcl: &str) -> SyntaxError {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let e = |span: Span, message: String, hint: &str| SyntaxError {
        span,
        message,
        hint: Some(hint.to_string()),
    };
    let here = char_at(text, at);
    let found = found(text, at);

    if hcl.contains("nesting depth") {
        return e(
            here,
            format!("nesting is deeper than {NESTING_LIMIT} levels"),
            "specs need only a few levels of blocks, lists and objects; is this file generated or corrupted?",
        );
    }
    if hcl.contains("redefined") {
        let key = word_at(text, at);
        return e(here, format!("`{key}` is given twice"), &format!("keep one `{key}`"));
    }
    if let Some(c) = text[at..].chars().next()
        && c.is_control()
        && !matches!(c, '\n' | '\r' | '\t')
    {
        return e(
            here,
            format!("the control character {c:?} cannot appear in a spec"),
            "remove it; is this a binary file, or one saved in another encoding?",
        );
    }
    if hcl.contains("heredoc end delimiter")
        && let Some(open) = text[from..at].rfind("<<").map(|i| from + i)
    {
        let marker: String = text[open + 2..]
            .trim_start_matches('-')
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        return e(
            open..open + 2,
            format!("this heredoc is never closed by a line holding `{marker}`"),
            "add the closing marker on its own line",
        );
    }
    if (hcl.contains("escape sequence") || hcl.contains("hex code"))
        && let Some(bs) = text[from..at].rfind('\\').map(|i| from + i)
    {
        let next = text[bs + 1..].chars().next();
        if matches!(next, Some('u' | 'U')) {
            return e(
                bs..bs + 2,
                "invalid unicode escape".into(),
                "write \\uXXXX with four hex digits, or \\UXXXXXXXX with eight",
            );
        }
        let end = bs + 1 + next.map(char::len_utf8).unwrap_or(0);
        return e(
            bs..end,
            format!("unknown escape `{}` in a string", &text[bs..end]),
            "the escapes are \\n \\t \\r \\\" \\\\ and \\uXXXX; write \\\\ for a backslash",
        );
    }

    // What was left open or closed wrongly on the way to the end of the line hcl-edit stopped on,
    // else what is still open at the end of the text.
    let line_end = text[at..].find('\n').map(|i| at + i).unwrap_or(text.len());
    let scan = delimiters(text, from, text.len());
    match scan.problem {
        Some(Problem::Comment(p)) if p <= line_end => {
            return e(p..p + 2, "unclosed comment".into(), "close it with `*/`");
        }
        Some(Problem::Str(p)) if p <= line_end => {
            return e(
                p..p + 1,
                "this string is never closed".into(),
                "close it with `\"` on the same line, or use a heredoc (<<EOF) for several lines",
            );
        }
        Some(Problem::Heredoc(p, marker)) if p <= line_end => {
            return e(
                p..p + 2,
                format!("this heredoc is never closed by a line holding `{marker}`"),
                "add the closing marker on its own line",
            );
        }
        Some(Problem::Mismatch(open, close)) if close <= line_end => {
            let line = text[..close].matches('\n').count() + 1;
            let (what, closer) = open.describe();
            return e(
                open.at..open.at + 1,
                format!("this {what} is never closed (found {} on line {line})", found_char(text, close)),
                &format!("add the closing `{closer}`"),
            );
        }
        Some(Problem::Stray(p)) if p <= line_end => {
            let c = &text[p..p + 1];
            let what = if c == "}" { "block" } else { "list" };
            return e(
                p..p + 1,
                format!("unexpected `{c}`: no {what} is open here"),
                "remove it, or check the brackets above",
            );
        }
        None => {
            if let Some(open) = scan.open.last() {
                let (what, closer) = open.describe();
                return e(
                    open.at..open.at + 1,
                    format!("this {what} is never closed"),
                    &format!("add the closing `{closer}`"),
                );
            }
        }
        Some(_) => {}
    }

    let first_on_line = text[..at].rsplit('\n').next().is_some_and(|l| l.trim().is_empty());
    match text[at..].chars().next() {
        Some(':') if hcl.contains("`=`") => {
            let key = word_before(text, at);
            return e(here, format!("expected `=` after `{key}`"), "write `key = value`");
        }
        Some('"') if hcl.contains("expected `{`") && quoted_at(text, at).contains("${") => {
            let end = at + quoted_at(text, at).len();
            return e(
                at..end,
                "a block label cannot contain `${...}`".into(),
                "write the label literally",
            );
        }
        Some('"') if first_on_line => {
            return e(
                here,
                "a key in a block is written without quotes".into(),
                "write `key = value`",
            );
        }
        _ => {}
    }
    if hcl.contains("expected `]`") {
        return e(
            here,
            format!("expected `,` or `]` after a list element, found {found}"),
            "separate list elements with commas",
        );
    }
    if hcl.contains("object item") {
        return e(
            here,
            format!("expected `,` or `}}` after an object's field, found {found}"),
            "separate an object's fields with commas, `{ a = 1, b = 2 }`, or put each on its own line",
        );
    }
    if hcl.contains("invalid expression") {
        return match text[at..].trim_start_matches([' ', '\t', '\r']).chars().next() {
            None | Some('\n') => e(
                here,
                "expected a value after `=`".into(),
                "write a string, number, true/false, list or object",
            ),
            _ => e(
                here,
                format!("expected a value, found {found}"),
                "write a string in double quotes, a number, true/false, a list [..] or an object { .. }",
            ),
        };
    }
    if hcl.contains("newline or eof") {
        return e(
            here,
            format!("expected the end of the line after a setting, found {found}"),
            "put each setting on its own line (commas separate items only inside lists and objects)",
        );
    }
    if hcl.contains("block body") && !first_on_line {
        return e(
            here,
            format!("expected the end of the line after a setting in a block, found {found}"),
            "a block on one line holds one setting: put each setting on its own line",
        );
    }
    if hcl.contains("block body") || hcl.contains("structure") || hcl.contains("unexpected token") {
        return e(
            here,
            format!("expected a key or a block name, found {found}"),
            "a spec is made of `key = value` lines and `name { ... }` blocks",
        );
    }
    e(
        here,
        format!("this is not valid HCL: {hcl}"),
        "see docs/specs.md for how specs are written",
    )
}

/// The character at `at` (empty at the end of the text).
fn char_at(text: &str, at: usize) -> Span {
    at..at + text[at..].chars().next().map(char::len_utf8).unwrap_or(0)
}

/// The character at `at`, for messages.
fn found(text: &str, at: usize) -> String {
    match text[at..].chars().next() {
        None => "the end of the file".into(),
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) if c.is_control() => format!("the control character {c:?}"),
        Some(_) => format!("`{}`", word_or_char(text, at)),
    }
}

fn found_char(text: &str, at: usize) -> String {
    match text[at..].chars().next() {
        None => "the end of the file".into(),
        Some(c) => format!("`{c}`"),
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The identifier at `at`, or its one character.
fn word_or_char(text: &str, at: usize) -> &str {
    let w = word_at(text, at);
    if w.is_empty() { &text[char_at(text, at)] } else { w }
}

/// The identifier (or the inside of the quoted string) starting at `at`.
fn word_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    if let Some(q) = rest.strip_prefix('"') {
        return q.split('"').next().unwrap_or("");
    }
    let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
    &rest[..end]
}

/// The identifier that ends just before `at` (spaces skipped).
fn word_before(text: &str, at: usize) -> &str {
    let before = text[..at].trim_end_matches([' ', '\t']);
    let start = before.rfind(|c: char| !is_ident(c)).map(|i| i + 1).unwrap_or(0);
    &before[start..]
}

/// The quoted string starting at `at`, quotes included (to the end of the line if unclosed).
fn quoted_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let line = rest.split('\n').next().unwrap_or(rest);
    match line[1..].find('"') {
        Some(i) => &line[..i + 2],
        None => line,
    }
}

/// An opening bracket: `{` (a block's, or an object's), `[` or `(`.
#[derive(Debug, Clone, Copy)]
struct Open {
    c: u8,
    at: usize,
    object: bool,
}

impl Open {
    /// What it opens, and its closing bracket.
    fn describe(&self) -> (&'static str, char) {
        match self.c {
            b'[' => ("list", ']'),
            b'(' => ("parenthesis", ')'),
            _ if self.object => ("object", '}'),
            _ => ("block", '}'),
        }
    }
}

#[derive(Debug)]
enum Problem {
    Comment(usize),
    Str(usize),
    Heredoc(usize, String),
    Mismatch(Open, usize),
    Stray(usize),
}

#[derive(Debug, Default)]
struct Scan {
    open: Vec<Open>,
    problem: Option<Problem>,
}

/// Follows strings, comments, heredocs and brackets from `from` to `to`: what is still open there,
/// or the first thing left open or closed wrongly on the way.
fn delimiters(text: &str, from: usize, to: usize) -> Scan {
    let b = text.as_bytes();
    let mut s = Scan::default();
    let mut i = from;
    // The last significant byte: `{` after `=`, `:`, `[`, `(` or `,` opens an object.
    let mut prev = b'\n';
    while i < to {
        let c = b[i];
        match c {
            b'#' => i = line_end(text, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(text, i),
            b'/' if b.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(n) => i += n + 4,
                None => {
                    s.problem = Some(Problem::Comment(i));
                    return s;
                }
            },
            b'"' => match string_end(b, i, 0) {
                Some(end) => {
                    i = end;
                    prev = b'"';
                }
                None => {
                    s.problem = Some(Problem::Str(i));
                    return s;
                }
            },
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let mut m = i + 2;
                if b.get(m) == Some(&b'-') {
                    m += 1;
                }
                let marker: String = text[m..].chars().take_while(|c| is_ident(*c)).collect();
                if marker.is_empty() {
                    i += 2;
                    continue;
                }
                let mut line = line_end(text, m) + 1;
                loop {
                    if line >= text.len() {
                        s.problem = Some(Problem::Heredoc(i, marker));
                        return s;
                    }
                    let end = line_end(text, line);
                    if text[line..end].trim() == marker {
                        i = end;
                        break;
                    }
                    line = end + 1;
                }
                prev = b'"';
            }
            b'{' | b'[' | b'(' => {
                s.open.push(Open {
                    c,
                    at: i,
                    object: matches!(prev, b'=' | b':' | b'[' | b'(' | b','),
                });
                prev = c;
                i += 1;
            }
            b'}' | b']' | b')' => {
                let want = match c {
                    b'}' => b'{',
                    b']' => b'[',
                    _ => b'(',
                };
                match s.open.pop() {
                    Some(o) if o.c == want => {}
                    Some(o) => {
                        s.problem = Some(Problem::Mismatch(o, i));
                        return s;
                    }
                    None => {
                        s.problem = Some(Problem::Stray(i));
                        return s;
                    }
                }
                prev = c;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                // A newline ends a setting in a block: what follows is not an object's value.
                if s.open.last().is_none_or(|o| o.c == b'{' && !o.object) {
                    prev = b'\n';
                }
                i += 1;
            }
            _ => {
                prev = c;
                i += 1;
            }
        }
    }
    s
}

fn line_end(text: &str, i: usize) -> usize {
    text[i..].find('\n').map(|n| i + n).unwrap_or(text.len())
}

/// The offset after the closing quote of the string opened at `open`, or `None` when a newline
/// or the end of the text comes first. `${ ... }` inside may hold quotes and braces of its own
/// (nested at most [`NESTING_LIMIT`] deep, as hcl-edit allows).
fn string_end(b: &[u8], open: usize, depth: usize) -> Option<usize> {
    if depth > NESTING_LIMIT {
        return None;
    }
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\n' => return None,
            b'\\' => i += 2,
            b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    match b[i] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b'"' => i = string_end(b, i, depth + 1)? - 1,
                        b'\n' => return None,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'$' | b'%' if b.get(i + 1) == Some(&b'$') || b.get(i + 1) == Some(&b'%') => i += 2,
            _ => i += 1,
        }
    }
    None
}
