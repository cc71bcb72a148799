//! Strings: quoted strings with escapes, heredocs, and the `${...}` references inside both.

use super::ast::{Part, Word};
use super::parse::{Parser, Result, err, is_ident_start};
use crate::spec::diag::Span;

impl Parser<'_> {
    /// A double-quoted string, starting at the quote.
    pub(super) fn quoted(&mut self) -> Result<Vec<Part>> {
        let open = self.pos..self.pos + 1;
        self.pos += 1;
        let mut t = Template::default();
        loop {
            let Some(c) = self.peek() else {
                return err(
                    open,
                    "this string is never closed",
                    Some("close it with `\"` on the same line"),
                );
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(t.finish());
                }
                b'\n' => {
                    return err(
                        open,
                        "this string is never closed",
                        Some("close it with `\"` on the same line, or use a heredoc (<<EOF) for several lines"),
                    );
                }
                b'\\' => {
                    let at = self.pos;
                    let ch = match self.peek_at(1) {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(q @ (b'u' | b'U')) => {
                            let n = if q == b'u' { 4 } else { 8 };
                            let hex = self.text.get(at + 2..at + 2 + n).unwrap_or("");
                            let ch = u32::from_str_radix(hex, 16)
                                .ok()
                                .filter(|_| hex.len() == n)
                                .and_then(char::from_u32);
                            match ch {
                                Some(ch) => {
                                    self.pos += n;
                                    ch
                                }
                                None => {
                                    return err(
                                        at..at + 2,
                                        "invalid unicode escape",
                                        Some("write \\uXXXX with four hex digits"),
                                    );
                                }
                            }
                        }
                        _ => {
                            let end = (at + 2).min(self.b.len());
                            let shown = self.text.get(at..end).unwrap_or("\\");
                            return err(
                                at..end,
                                format!("unknown escape `{shown}` in a string"),
                                Some("the escapes are \\n \\t \\r \\\" \\\\ and \\uXXXX; write \\\\ for a backslash"),
                            );
                        }
                    };
                    self.pos += 2;
                    t.lit.push(ch);
                }
                b'$' | b'%' => self.template_char(&mut t)?,
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or('\0');
                    t.lit.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    /// Handles `$` and `%` in strings: `${ref}`, the escapes `$${` and `%%{`, and refuses `%{`.
    fn template_char(&mut self, t: &mut Template) -> Result<()> {
        let c = self.b[self.pos];
        let rest = &self.b[self.pos..];
        if rest.starts_with(b"$${") || rest.starts_with(b"%%{") {
            t.lit.push(c as char);
            t.lit.push('{');
            self.pos += 3;
        } else if rest.starts_with(b"%{") {
            return err(
                self.pos..self.pos + 2,
                "template directives (`%{ ... }`) are not supported in specs",
                Some("write `%%{` for a literal `%{`"),
            );
        } else if rest.starts_with(b"${") {
            let start = self.pos;
            self.pos += 2;
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            let mut path = Vec::new();
            while self.peek().is_some_and(is_ident_start) {
                path.push(self.word());
                if self.peek() == Some(b'.') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            if path.is_empty() || self.peek() != Some(b'}') {
                let end = self.pos.max(start + 2);
                return err(
                    start..end,
                    "only a variable can be interpolated here",
                    Some(
                        "write `${var.NAME}` (declared with `variable \"NAME\" { default = ... }`) or `${env.NAME}`; `$${` is a literal `${`",
                    ),
                );
            }
            self.pos += 1;
            t.push_ref(path, start..self.pos);
        } else {
            t.lit.push(c as char);
            self.pos += 1;
        }
        Ok(())
    }

    /// `<<EOF` or `<<-EOF` (indented: the common leading whitespace is removed) up to a line holding
    /// only `EOF`. `${...}` references work as in quoted strings; backslashes are literal.
    pub(super) fn heredoc(&mut self) -> Result<Vec<Part>> {
        let open = self.pos..self.pos + 2;
        self.pos += 2;
        let indent = self.peek() == Some(b'-');
        if indent {
            self.pos += 1;
        }
        if !self.peek().is_some_and(is_ident_start) {
            return err(
                open,
                "expected a heredoc marker such as `<<EOF`",
                Some("write <<EOF, the lines, then EOF on a line of its own"),
            );
        }
        let marker = self.word().text;
        self.skip_inline()?;
        if self.peek() != Some(b'\n') {
            return err(
                self.here(),
                "a heredoc's text starts on the line after its marker",
                Some("put a newline after the marker"),
            );
        }
        self.pos += 1;
        let body_start = self.pos;
        // Find the closing marker line first, so the content's extent is known.
        let mut line_start = body_start;
        let body_end = loop {
            if line_start >= self.b.len() {
                return err(
                    open,
                    format!("this heredoc is never closed by a line holding `{marker}`"),
                    Some("add the closing marker on its own line"),
                );
            }
            let line_end = self.text[line_start..]
                .find('\n')
                .map(|i| line_start + i)
                .unwrap_or(self.b.len());
            if self.text[line_start..line_end].trim() == marker {
                break line_start;
            }
            line_start = line_end + 1;
        };
        let content = &self.text[body_start..body_end];
        let strip = if indent {
            content
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
                .min()
                .unwrap_or(0)
        } else {
            0
        };
        let mut t = Template::default();
        self.pos = body_start;
        let mut at_line_start = true;
        while self.pos < body_end {
            if at_line_start {
                let mut n = 0;
                while n < strip && matches!(self.peek(), Some(b' ' | b'\t')) {
                    self.pos += 1;
                    n += 1;
                }
                at_line_start = false;
                continue;
            }
            match self.b[self.pos] {
                b'$' | b'%' => self.template_char(&mut t)?,
                _ => {
                    let ch = self.text[self.pos..].chars().next().unwrap_or('\0');
                    t.lit.push(ch);
                    self.pos += ch.len_utf8();
                    at_line_start = ch == '\n';
                }
            }
        }
        if self.pos > body_end {
            return err(open, "a `${...}` reference runs past the end of the heredoc", None);
        }
        // Skip the closing marker line (not its newline: that ends the attribute).
        self.pos = self.text[body_end..]
            .find('\n')
            .map(|i| body_end + i)
            .unwrap_or(self.b.len());
        Ok(t.finish())
    }
}

#[derive(Default)]
pub(super) struct Template {
    parts: Vec<Part>,
    lit: String,
}

impl Template {
    pub(super) fn push_ref(&mut self, path: Vec<Word>, span: Span) {
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit(std::mem::take(&mut self.lit)));
        }
        self.parts.push(Part::Ref { path, span });
    }

    pub(super) fn finish(mut self) -> Vec<Part> {
        if !self.lit.is_empty() || self.parts.is_empty() {
            self.parts.push(Part::Lit(self.lit));
        }
        self.parts
    }
}
