//! HCL text → syntax tree with spans. Knows nothing of what the keys mean.
//!
//! hcl-edit parses; [`convert`] turns its tree into [`ast`] (refusing the HCL that orca does not
//! evaluate), and [`explain`] turns its parse errors into located messages with hints.

pub mod ast;
mod convert;
mod explain;

use std::collections::HashMap;

pub use ast::*;

use crate::spec::diag::Span;

/// A syntax error: what was found where, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// At most this many syntax errors are reported per file: after a few, the rest are usually
/// consequences of the first.
pub const MAX_SYNTAX_ERRORS: usize = 10;

/// How many keys given twice are renamed to read on past them (see [`parse_all`]).
const MAX_RENAMES: usize = 100;

/// Parses a whole file, stopping at the first syntax error.
pub fn parse(text: &str) -> Result<Body, SyntaxError> {
    parse_all(text).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a whole file, reporting every syntax error it can find: after an error, parsing resumes
/// at the next top-level item (a line that starts with a name in its first column).
///
/// hcl-edit refuses a key given twice in a body or an object. Such a key is renamed (in a copy of
/// the text, to a name of the same length) and parsing starts again, so the reader sees both and
/// reports the second where it is written, naming the line of the first.
pub fn parse_all(text: &str) -> Result<Body, Vec<SyntaxError>> {
    let mut work = text.to_string();
    let mut renamed: HashMap<usize, String> = HashMap::new();
    let mut errors = Vec::new();
    let mut items = Vec::new();
    let mut from = 0;
    loop {
        match hcl_edit::parser::parse_body(&work[from..]) {
            Ok(body) => {
                items.extend(convert(text, from, &renamed, &body, &mut errors).items);
                break;
            }
            Err(e) => {
                let at = from + e.location().offset();
                if e.message().contains("redefined") && rename(&mut work, at, &mut renamed) {
                    continue;
                }
                // What comes before the failing top-level item may hold errors of its own.
                let item = top_level_start(text, from, at);
                if item > from
                    && let Ok(body) = hcl_edit::parser::parse_body(&work[from..item])
                {
                    convert(text, from, &renamed, &body, &mut errors);
                }
                let error = explain::explain(text, from, at, e.message());
                let resume = at.max(error.span.end);
                errors.push(error);
                match next_top_level(text, resume) {
                    Some(next) if errors.len() < MAX_SYNTAX_ERRORS => from = next,
                    _ => break,
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Body { items })
    } else {
        errors.truncate(MAX_SYNTAX_ERRORS);
        Err(errors)
    }
}

fn convert(
    text: &str,
    base: usize,
    renamed: &HashMap<usize, String>,
    body: &hcl_edit::structure::Body,
    errors: &mut Vec<SyntaxError>,
) -> Body {
    let mut c = convert::Converter {
        text,
        base,
        renamed,
        errors: Vec::new(),
    };
    let body = c.body(body);
    errors.extend(c.errors);
    body
}

/// Renames the key at `at` (a name, or a quoted string's inside) to an unused name of the same
/// length, remembering the original. Returns false when no such name can be made.
fn rename(work: &mut String, at: usize, renamed: &mut HashMap<usize, String>) -> bool {
    let start = if work[at..].starts_with('"') { at + 1 } else { at };
    let len = work[start..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(work.len() - start);
    if len == 0 || renamed.len() >= MAX_RENAMES || renamed.contains_key(&start) {
        return false;
    }
    let name = match renamed.len() {
        0 => "_".to_string(),
        n => format!("_{n}"),
    };
    if name.len() > len {
        return false;
    }
    let name = format!("{name:_<len$}");
    renamed.insert(start, work[start..start + len].to_string());
    work.replace_range(start..start + len, &name);
    true
}

fn starts_item(text: &str, line: usize) -> bool {
    text[line..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// The start of the last line at or before `at` (and after `from`) that starts a top-level item.
fn top_level_start(text: &str, from: usize, at: usize) -> usize {
    let mut line = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    loop {
        if line <= from {
            return from;
        }
        if starts_item(text, line) {
            return line;
        }
        line = text[..line - 1].rfind('\n').map(|i| i + 1).unwrap_or(0);
    }
}

/// The next line after the one holding `from` that starts with a name in its first column, where
/// a top-level item probably starts.
fn next_top_level(text: &str, from: usize) -> Option<usize> {
    let mut at = from.min(text.len());
    loop {
        at += text[at..].find('\n')? + 1;
        if starts_item(text, at) {
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(body: &Body, i: usize) -> &Attr {
        match &body.items[i] {
            Item::Attr(a) => a,
            other => panic!("not an attribute: {other:?}"),
        }
    }

    #[test]
    fn reads_attributes_blocks_and_values() {
        let src = "schema_version = \"1.0\"\nvm \"x\" {\n  name = \"a\" # comment\n  resources {\n    cpu = -2\n    memory = \"1GB\"\n  }\n  mounts = [ { source = \"..\", destination = \"/x\", readonly = false }, ]\n  n = 1.5e3\n}\n";
        let body = parse(src).unwrap();
        assert_eq!(body.items.len(), 2);
        assert_eq!(attr(&body, 0).value.kind, Kind::Str(vec![Part::Lit("1.0".into())]));
        assert_eq!(&src[attr(&body, 0).value.span.clone()], "\"1.0\"");
        let Item::Block(vm) = &body.items[1] else { panic!() };
        assert_eq!(vm.ident.text, "vm");
        assert_eq!(&src[vm.labels[0].span.clone()], "\"x\"");
        assert_eq!(vm.labels[0].text, "x");
        assert!(src[vm.span.clone()].starts_with("vm \"x\" {") && src[vm.span.clone()].ends_with('}'));
        let Item::Block(res) = &vm.body.items[1] else { panic!() };
        assert_eq!(attr(&res.body, 0).value.kind, Kind::Num("-2".into()));
        let Kind::Array(mounts) = &attr(&vm.body, 2).value.kind else {
            panic!()
        };
        let Kind::Object(fields) = &mounts[0].kind else {
            panic!()
        };
        assert_eq!(
            fields.iter().map(|f| f.key.text.as_str()).collect::<Vec<_>>(),
            ["source", "destination", "readonly"]
        );
        assert_eq!(fields[2].value.kind, Kind::Bool(false));
        assert_eq!(&src[fields[1].key.span.clone()], "destination");
        assert_eq!(&src[fields[1].value.span.clone()], "\"/x\"");
        assert_eq!(attr(&vm.body, 3).value.kind, Kind::Num("1.5e3".into()));
    }

    #[test]
    fn reads_references_interpolation_and_escapes() {
        let src = "a = var.x\nk = \"a${var.x}b\\n\\u00e9$${y}%%{z}\"\n";
        let body = parse(src).unwrap();
        let Kind::Ref(path) = &attr(&body, 0).value.kind else { panic!() };
        assert_eq!(path.iter().map(|w| &src[w.span.clone()]).collect::<Vec<_>>(), ["var", "x"]);
        let Kind::Str(parts) = &attr(&body, 1).value.kind else {
            panic!()
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], Part::Lit("a".into()));
        let Part::Ref { path, span } = &parts[1] else { panic!() };
        assert_eq!(path.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["var", "x"]);
        assert_eq!(&src[span.clone()], "${var.x}");
        assert_eq!(parts[2], Part::Lit("b\né${y}%{z}".into()));
    }

    #[test]
    fn reads_heredocs() {
        let body = parse("p = <<-EOF\n    make\n      ${var.x} go\n    EOF\nq = 1\n").unwrap();
        let Kind::Str(parts) = &attr(&body, 0).value.kind else {
            panic!()
        };
        assert_eq!(parts[0], Part::Lit("make\n  ".into()));
        assert_eq!(parts[2], Part::Lit(" go\n".into()));
        assert_eq!(attr(&body, 1).value.kind, Kind::Num("1".into()));
    }

    /// (source, offset, message fragment) of errors, located where the mistake is.
    #[test]
    fn locates_and_words_syntax_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("a = [\"x\" \"y\"]", 9, "expected `,` or `]`"),
            ("a = \"open\nb = 1", 4, "string is never closed"),
            ("vm {\n  a = 1\n", 3, "block is never closed"),
            ("a = {\n  b = 1\n", 4, "object is never closed"),
            ("a = [\n 1,\n}\n", 4, "list is never closed (found `}` on line 3)"),
            ("a = 1 + 2", 6, "unexpected `+` after a value"),
            ("a = !true", 4, "operator"),
            ("a = max(1, 2)", 4, "function calls"),
            ("a = x ? 1 : 2", 6, "conditional"),
            ("a = [for v in var.l : v]", 5, "`for` expressions"),
            ("a = (1)", 4, "parenthesized"),
            ("a = var.l[0]", 9, "indexing"),
            ("a = var.l[*]", 9, "splat"),
            ("a = \"${1 + 2}\"", 5, "only a variable"),
            ("a = \"${~var.x}\"", 5, "only a variable"),
            ("a = \"%{ if true }x%{ endif }\"", 5, "template directives"),
            ("\u{1}", 0, "control character"),
            ("}", 0, "unexpected `}`"),
            ("a \"x\" = 1", 6, "expected `{`"),
            ("vm {\n  \"name\" = 1\n}", 7, "without quotes"),
            ("vm {\n  name: 1\n}", 11, "expected `=` after `name`"),
            ("b \"${var.x}\" {\n}", 2, "label cannot contain"),
            ("a = \"\\q\"", 5, "unknown escape `\\q`"),
            ("a = \"\\u00\"", 5, "invalid unicode escape"),
            ("a = <<EOF\nx\n", 4, "heredoc is never closed"),
            ("/* x\na = 1", 0, "unclosed comment"),
            ("a =\nb = 1", 3, "expected a value after `=`"),
            ("a = { b = 1 c = 2 }", 12, "after an object's field, found `c`"),
            ("a = 1, b = 2", 5, "end of the line after a setting"),
            ("r { a = 1 b = 2 }", 10, "setting in a block, found `b`"),
            ("a = { \"${var.x}\" = 1 }", 6, "object key cannot contain"),
        ];
        let mut wrong = Vec::new();
        for (src, at, frag) in cases {
            match parse(src) {
                Ok(b) => wrong.push(format!("{src:?}: parsed: {b:?}")),
                Err(e) if e.span.start != *at || !e.message.contains(frag) || e.hint.is_none() => {
                    wrong.push(format!("{src:?}: {} at {}, want {frag:?} at {at}", e.message, e.span.start))
                }
                Err(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_key_given_twice_is_read_under_its_own_name() {
        let src = "r {\n  cpu = 1\n  cpu = 2\n  cpu = 3\n}\no = { k = 1, \"k\" = 2 }\n";
        let body = parse(src).unwrap();
        let Item::Block(r) = &body.items[0] else { panic!() };
        let keys: Vec<_> = r.body.items.iter().map(|i| (i.key().text.as_str(), i.key().span.start)).collect();
        assert_eq!(keys, [("cpu", 6), ("cpu", 16), ("cpu", 26)]);
        let Kind::Object(o) = &attr(&body, 1).value.kind else { panic!() };
        assert_eq!(o.iter().map(|a| a.key.text.as_str()).collect::<Vec<_>>(), ["k", "k"]);
        // A one-letter key can be renamed once only; the second repeat is refused by name.
        let e = parse("a = 1\na = 2\na = 3\n").unwrap_err();
        assert_eq!((e.span.start, e.message.as_str()), (12, "`a` is given twice"));
    }

    #[test]
    fn reports_several_syntax_errors_resuming_at_top_level_items() {
        let src = "a = \"open\nvm {\n  x = [1 2]\n}\nb = 1 + 2\nc = 3\n";
        let errors = parse_all(src).unwrap_err();
        let at: Vec<usize> = errors.iter().map(|e| e.span.start).collect();
        assert_eq!(at, [4, 24, 35]);
        // Errors before the failing item are found too.
        let errors = parse_all("a = f(1)\nb = [\n").unwrap_err();
        assert_eq!(errors.iter().map(|e| e.span.start).collect::<Vec<_>>(), [4, 13]);
        let garbage = "}\n".repeat(100);
        assert_eq!(
            parse_all(&garbage).unwrap_err().len(),
            1,
            "lines starting with `}}` are not resumed at"
        );
        let many = "x = [1 2]\n".repeat(100);
        assert_eq!(parse_all(&many).unwrap_err().len(), MAX_SYNTAX_ERRORS);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = format!("a = {}", "[".repeat(10_000));
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("nesting"), "{e:?}");
        let blocks = "b {\n".repeat(100);
        assert!(parse(&blocks).unwrap_err().message.contains("nesting"));
        let strings = format!("a = {}", "\"${".repeat(100_000));
        let _ = parse(&strings);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a tricky input, and scrambled variants.
        let src = "a = { b = [\"${var.x}\", <<-E\n  y\n  E\n, -1.5e3], c = \"\\u00\" }\nblk \"l\" { d = true }/* x */";
        for end in 0..=src.len() {
            if src.is_char_boundary(end) {
                let _ = parse(&src[..end]);
            }
        }
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut s: Vec<u8> = src.bytes().collect();
            for _ in 0..4 {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let i = (seed >> 33) as usize % s.len();
                let alphabet = b"{}[]\"$%=,\n<-#/*\\ ax1";
                s[i] = alphabet[(seed >> 20) as usize % alphabet.len()];
            }
            if let Ok(t) = String::from_utf8(s) {
                let _ = parse(&t);
            }
        }
    }
}
