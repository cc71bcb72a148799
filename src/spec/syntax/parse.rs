//! A recursive-descent reader for the HCL that specs use: attributes, blocks with labels, strings
//! (with `${...}` references and heredocs), numbers, booleans, null, lists and objects.
//!
//! It is more tolerant than strict HCL in one way the spec grammar needs: items of a block or an
//! object may share a line without a comma (`{ source = "." destination = "/src" }`). It is
//! stricter in another: specs hold values, not programs, so operators, function calls and `for`
//! expressions are refused with a located message.
//!
//! Nesting is capped at [`MAX_DEPTH`], so no input can exhaust the stack, and every step consumes
//! input, so parsing is linear in the file's size.

use super::ast::*;
use crate::spec::diag::Span;

/// The deepest nesting of blocks, lists and objects accepted. Real specs use four or five levels.
pub const MAX_DEPTH: usize = 64;

/// A syntax error: what was found where, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

pub(super) type Result<T> = std::result::Result<T, SyntaxError>;

/// Parses a whole file, stopping at the first syntax error.
pub fn parse(text: &str) -> Result<Body> {
    parse_all(text).map_err(|mut errors| errors.swap_remove(0))
}

/// At most this many syntax errors are reported per file: after a few, the rest are usually
/// consequences of the first.
pub const MAX_SYNTAX_ERRORS: usize = 10;

/// Parses a whole file, reporting every syntax error it can find: after an error, parsing resumes
/// at the next top-level item (a line that starts with a name in its first column).
pub fn parse_all(text: &str) -> std::result::Result<Body, Vec<SyntaxError>> {
    let mut p = Parser {
        text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let mut errors: Vec<SyntaxError> = Vec::new();
    loop {
        match p.body(None) {
            Ok(body) if errors.is_empty() => return Ok(body),
            Ok(_) => return Err(errors),
            Err(e) => {
                let from = p.pos.max(e.span.end);
                errors.push(e);
                if errors.len() >= MAX_SYNTAX_ERRORS || !p.resync(from) {
                    return Err(errors);
                }
            }
        }
    }
}

pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
    pub(super) depth: usize,
}

pub(super) fn err<T>(span: Span, message: impl Into<String>, hint: Option<&str>) -> Result<T> {
    Err(SyntaxError {
        span,
        message: message.into(),
        hint: hint.map(str::to_string),
    })
}

pub(super) fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub(super) fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos + n).copied()
    }

    /// The character at the cursor, for messages.
    pub(super) fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "the end of the file".into(),
            Some('\n') => "the end of the line".into(),
            Some(c) if c.is_control() => format!("the control character {:?}", c),
            Some(c) => format!("`{c}`"),
        }
    }

    pub(super) fn here(&self) -> Span {
        let len = self.text[self.pos..].chars().next().map(char::len_utf8).unwrap_or(0);
        self.pos..self.pos + len
    }

    /// Moves to the next line after `from` that starts with a name in its first column, where a
    /// top-level item probably starts. Returns false at the end of the file.
    fn resync(&mut self, from: usize) -> bool {
        let mut at = from.min(self.b.len());
        loop {
            match self.text[at..].find('\n') {
                None => return false,
                Some(i) => at += i + 1,
            }
            if self.b.get(at).copied().is_some_and(is_ident_start) {
                self.pos = at;
                self.depth = 0;
                return true;
            }
        }
    }

    /// Skips spaces and comments, stopping at a newline. Returns an error for an unclosed `/*`.
    pub(super) fn skip_inline(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'#') => self.skip_line_comment(),
                Some(b'/') if self.peek_at(1) == Some(b'/') => self.skip_line_comment(),
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let start = self.pos;
                    match self.text[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => return err(start..start + 2, "unclosed comment", Some("close it with `*/`")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line_comment(&mut self) {
        match self.text[self.pos..].find('\n') {
            Some(i) => self.pos += i,
            None => self.pos = self.b.len(),
        }
    }

    /// Skips spaces, comments and newlines.
    fn skip_all(&mut self) -> Result<()> {
        loop {
            self.skip_inline()?;
            if self.peek() == Some(b'\n') {
                self.pos += 1;
            } else {
                return Ok(());
            }
        }
    }

    fn enter(&mut self, at: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                at,
                format!("nesting is deeper than {MAX_DEPTH} levels"),
                Some("specs need only a few levels of blocks, lists and objects; is this file generated or corrupted?"),
            );
        }
        Ok(())
    }

    /// A body: items until `}` (inside a block, opened at `open`) or the end of the file.
    fn body(&mut self, open: Option<Span>) -> Result<Body> {
        let mut body = Body::default();
        loop {
            self.skip_all()?;
            match self.peek() {
                None => {
                    return match open {
                        Some(o) => err(o, "this block is never closed", Some("add the closing `}`")),
                        None => Ok(body),
                    };
                }
                Some(b'}') if open.is_some() => {
                    self.pos += 1;
                    return Ok(body);
                }
                Some(b'}') => {
                    return err(
                        self.here(),
                        "unexpected `}`: no block is open here",
                        Some("remove it, or check the braces above"),
                    );
                }
                // Commas between items are tolerated, as they are in objects.
                Some(b',') => self.pos += 1,
                Some(c) if is_ident_start(c) => body.items.push(self.item()?),
                Some(b'"') => {
                    return err(
                        self.here(),
                        "a key in a block is written without quotes",
                        Some("write `key = value`"),
                    );
                }
                Some(_) => {
                    return err(
                        self.here(),
                        format!("expected a key or a block name, found {}", self.found()),
                        Some("a spec is made of `key = value` lines and `name { ... }` blocks"),
                    );
                }
            }
        }
    }

    pub(super) fn word(&mut self) -> Word {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        Word {
            text: self.text[start..self.pos].to_string(),
            span: start..self.pos,
        }
    }

    /// An attribute or a block, starting at an identifier.
    fn item(&mut self) -> Result<Item> {
        let ident = self.word();
        self.skip_inline()?;
        match self.peek() {
            Some(b'=') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                self.skip_inline()?;
                let value = self.value()?;
                self.after_value()?;
                return Ok(Item::Attr(Attr { key: ident, value }));
            }
            Some(b':') => {
                return err(
                    self.here(),
                    format!("expected `=` after `{}`", ident.text),
                    Some("write `key = value`"),
                );
            }
            _ => {}
        }
        let mut labels = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    let start = self.pos;
                    let parts = self.quoted()?;
                    let span = start..self.pos;
                    let text = match parts.as_slice() {
                        [] => String::new(),
                        [Part::Lit(s)] => s.clone(),
                        _ => {
                            return err(
                                span,
                                "a block label cannot contain `${...}`",
                                Some("write the label literally"),
                            );
                        }
                    };
                    labels.push(Word { text, span });
                }
                Some(c) if is_ident_start(c) => labels.push(self.word()),
                _ => break,
            }
            self.skip_inline()?;
        }
        if self.peek() != Some(b'{') {
            let hint = if labels.is_empty() {
                format!(
                    "write `{} = value` for a setting, or `{} {{ ... }}` for a block",
                    ident.text, ident.text
                )
            } else {
                "a block's labels are followed by `{`".to_string()
            };
            return err(
                self.here(),
                format!("expected `=` or `{{` after `{}`, found {}", ident.text, self.found()),
                Some(&hint),
            );
        }
        let open = self.here();
        self.enter(open.clone())?;
        self.pos += 1;
        let body = self.body(Some(open))?;
        self.depth -= 1;
        let span = ident.span.start..self.pos;
        Ok(Item::Block(Block {
            ident,
            labels,
            body,
            span,
        }))
    }

    /// Refuses operators after a value: specs hold literal values only.
    fn after_value(&mut self) -> Result<()> {
        self.skip_inline()?;
        match self.peek() {
            Some(b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'!' | b'?' | b'&' | b'|' | b'.' | b'(' | b'=') => {
                err(
                    self.here(),
                    format!("unexpected {} after a value", self.found()),
                    Some("specs hold plain values: operators, conditionals and function calls are not supported"),
                )
            }
            _ => Ok(()),
        }
    }

    fn value(&mut self) -> Result<Expr> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => Kind::Str(self.quoted()?),
            Some(b'<') if self.peek_at(1) == Some(b'<') => Kind::Str(self.heredoc()?),
            Some(b'0'..=b'9') => self.number(),
            Some(b'-') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.number(),
            Some(b'[') => self.array()?,
            Some(b'{') => self.object()?,
            Some(c) if is_ident_start(c) => {
                let first = self.word();
                match first.text.as_str() {
                    "true" => Kind::Bool(true),
                    "false" => Kind::Bool(false),
                    "null" => Kind::Null,
                    "for" if matches!(self.peek(), Some(b' ' | b'\t')) => {
                        return err(
                            first.span,
                            "`for` expressions are not supported in specs",
                            Some("write the values out"),
                        );
                    }
                    _ => {
                        let mut path = vec![first];
                        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(is_ident_start) {
                            self.pos += 1;
                            path.push(self.word());
                        }
                        if self.peek() == Some(b'(') {
                            return err(
                                start..self.pos,
                                "function calls are not supported in specs",
                                Some("write the value literally"),
                            );
                        }
                        Kind::Ref(path)
                    }
                }
            }
            Some(b'\n') | None => {
                return err(
                    self.here(),
                    "expected a value after `=`",
                    Some("write a string, number, true/false, list or object"),
                );
            }
            Some(_) => {
                return err(
                    self.here(),
                    format!("expected a value, found {}", self.found()),
                    Some("write a string in double quotes, a number, true/false, a list [..] or an object { .. }"),
                );
            }
        };
        Ok(Expr {
            kind,
            span: start..self.pos,
        })
    }

    fn number(&mut self) -> Kind {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        // A unit glued to a number (`2GB`) is a size or duration written without quotes.
        Kind::Num(self.text[start..self.pos].to_string())
    }

    fn array(&mut self) -> Result<Kind> {
        let open = self.here();
        self.enter(open.clone())?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_all()?;
            match self.peek() {
                Some(b']') => break,
                None => return err(open, "this list is never closed", Some("add the closing `]`")),
                Some(b'}' | b')') => return self.unclosed_list(open),
                _ => {}
            }
            items.push(self.value()?);
            self.after_value()?;
            self.skip_all()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                None => return err(open, "this list is never closed", Some("add the closing `]`")),
                Some(b'}' | b')') => return self.unclosed_list(open),
                _ => {
                    return err(
                        self.here(),
                        format!("expected `,` or `]` after a list element, found {}", self.found()),
                        Some("separate list elements with commas"),
                    );
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Kind::Array(items))
    }

    /// A list closed by the wrong bracket: reported at its `[`, naming what was found where.
    fn unclosed_list<T>(&self, open: Span) -> Result<T> {
        let line = self.text[..self.pos].matches('\n').count() + 1;
        let msg = format!("this list is never closed (found {} on line {line})", self.found());
        err(open, msg, Some("add the closing `]`"))
    }

    fn object(&mut self) -> Result<Kind> {
        let open = self.here();
        self.enter(open.clone())?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_all()?;
            let key = match self.peek() {
                Some(b'}') => break,
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                None => return err(open, "this object is never closed", Some("add the closing `}`")),
                Some(c) if is_ident_start(c) => self.word(),
                Some(b'"') => {
                    let start = self.pos;
                    let parts = self.quoted()?;
                    match parts.as_slice() {
                        [] => Word {
                            text: String::new(),
                            span: start..self.pos,
                        },
                        [Part::Lit(s)] => Word {
                            text: s.clone(),
                            span: start..self.pos,
                        },
                        _ => {
                            return err(
                                start..self.pos,
                                "an object key cannot contain `${...}`",
                                Some("write the key literally"),
                            );
                        }
                    }
                }
                Some(_) => {
                    return err(
                        self.here(),
                        format!("expected a key or `}}` in an object, found {}", self.found()),
                        Some("an object is written `{ key = value  other = value }`"),
                    );
                }
            };
            self.skip_inline()?;
            match self.peek() {
                Some(b'=' | b':') if self.peek_at(1) != Some(b'=') => self.pos += 1,
                _ => {
                    return err(
                        self.here(),
                        format!("expected `=` after `{}`, found {}", key.text, self.found()),
                        Some("an object is written `{ key = value  other = value }`"),
                    );
                }
            }
            self.skip_inline()?;
            let value = self.value()?;
            self.after_value()?;
            items.push(Attr { key, value });
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Kind::Object(items))
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
        let src = "schema_version = \"1.0\"\nvm {\n  name = \"a\" # comment\n  resources { cpu = 2 memory = \"1GB\" }\n  mounts = [ { source = \"..\" destination = \"/x\" readonly = false }, ]\n}\n";
        let body = parse(src).unwrap();
        assert_eq!(body.items.len(), 2);
        assert_eq!(attr(&body, 0).value.kind, Kind::Str(vec![Part::Lit("1.0".into())]));
        let Item::Block(vm) = &body.items[1] else { panic!() };
        assert_eq!(vm.ident.text, "vm");
        let Item::Block(res) = &vm.body.items[1] else { panic!() };
        assert_eq!(res.body.items.len(), 2, "two attributes on one line");
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
    }

    #[test]
    fn reads_labels_interpolation_and_escapes() {
        let body = parse("kernel \"6.1\" { release = \"a${var.x}b\\n\\u00e9$${y}\" }").unwrap();
        let Item::Block(k) = &body.items[0] else { panic!() };
        assert_eq!(k.labels[0].text, "6.1");
        let Kind::Str(parts) = &attr(&k.body, 0).value.kind else {
            panic!()
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], Part::Lit("a".into()));
        let Part::Ref { path, .. } = &parts[1] else { panic!() };
        assert_eq!(path.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["var", "x"]);
        assert_eq!(parts[2], Part::Lit("b\né${y}".into()));
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

    #[test]
    fn locates_syntax_errors() {
        let e = |src: &str| parse(src).unwrap_err();
        assert_eq!(e("a = [\"x\" \"y\"]").span.start, 9);
        assert_eq!(e("a = \"open\nb = 1").span.start, 4);
        assert_eq!(e("vm {\n  a = 1\n").span.start, 3);
        assert_eq!(e("a = 1 + 2").span.start, 6);
        assert_eq!(e("a = max(1, 2)").span.start, 4);
        assert_eq!(e("a = \"${1 + 2}\"").span.start, 5);
        assert_eq!(e("\u{0}").span.start, 0);
        assert_eq!(e("}").span.start, 0);
        assert_eq!(e("a \"x\" = 1").span.start, 6);
    }

    #[test]
    fn reports_several_syntax_errors_resuming_at_top_level_items() {
        let src = "a = \"open\nvm {\n  x = [1 2]\n}\nb = 1 + 2\nc = 3\n";
        let errors = parse_all(src).unwrap_err();
        let at: Vec<usize> = errors.iter().map(|e| e.span.start).collect();
        assert_eq!(at, [4, 24, 35]);
        assert!(parse_all("a = 1\nb = [\n").unwrap_err().len() == 1);
        let garbage = "}\n".repeat(100);
        assert_eq!(
            parse_all(&garbage).unwrap_err().len(),
            1,
            "lines starting with `}}` are not resumed at"
        );
        let many = "x = (\n".repeat(100);
        assert_eq!(parse_all(&many).unwrap_err().len(), MAX_SYNTAX_ERRORS);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let src = format!("a = {}", "[".repeat(10_000));
        let e = parse(&src).unwrap_err();
        assert_eq!(e.span.start, 4 + MAX_DEPTH);
        assert!(e.message.contains("nesting"));
        let blocks = "b {\n".repeat(100);
        assert!(parse(&blocks).unwrap_err().message.contains("nesting"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a tricky input, and scrambled variants.
        let src = "a = { b = [\"${var.x}\", <<-E\n  y\n  E\n, -1.5e3] c = \"\\u00\" }\nblk \"l\" { d = true }/* x */";
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
