//! Diagnostics: one problem in one spec, located at `FILE:LINE:COL`, with a hint.

use serde::Serialize;

use super::source::SourceFile;

/// A span in one file: byte offsets `start..end` into the file's text.
pub type Span = std::ops::Range<usize>;

/// Where something is: which file (index into the loaded files) and which bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: usize,
    pub span: Span,
}

impl Loc {
    pub fn new(file: usize, span: Span) -> Loc {
        Loc { file, span }
    }
}

/// One problem found in the specs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diagnostic {
    /// The file, as shown (project-relative where possible).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The offending line of the spec, for the caret display.
    #[serde(skip)]
    pub source_line: String,
    /// How many characters of `source_line` the caret underlines.
    #[serde(skip)]
    pub width: usize,
}

impl Diagnostic {
    /// Locates a problem in a file.
    pub fn at(file: &SourceFile, span: Span, message: impl Into<String>, hint: Option<String>) -> Diagnostic {
        let (line, column) = file.line_col(span.start);
        let source_line = file.line_text(line).to_string();
        let shown = span
            .end
            .saturating_sub(span.start)
            .min(file.text.len().saturating_sub(span.start));
        let width = file
            .text
            .get(span.start..span.start + shown)
            .map(|s| s.chars().count())
            .unwrap_or(1);
        Diagnostic {
            file: file.display.clone(),
            line,
            column,
            message: message.into(),
            hint,
            source_line,
            width,
        }
    }

    /// `FILE:LINE:COL: error: message`, the source line with a caret, and the hint.
    pub fn render(&self) -> String {
        let mut out = format!("{}:{}:{}: error: {}\n", self.file, self.line, self.column, self.message);
        if !self.source_line.is_empty() && self.source_line.len() <= 300 {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let indent: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let rest = self.source_line.chars().count().saturating_sub(self.column - 1);
            let carets = "^".repeat(self.width.clamp(1, rest.max(1)));
            out.push_str(&format!(" {num} | {}\n {pad} | {indent}{carets}\n", self.source_line));
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
        out
    }
}

/// At most this many diagnostics are rendered for people; `--json` gives them all.
pub const MAX_SHOWN: usize = 100;

/// Renders diagnostics one after another (the first [`MAX_SHOWN`]), with a closing count.
pub fn render_all(diags: &[Diagnostic]) -> String {
    let mut out: String = diags
        .iter()
        .take(MAX_SHOWN)
        .map(|d| d.render())
        .collect::<Vec<_>>()
        .join("\n");
    let n = diags.len();
    if n > MAX_SHOWN {
        out.push_str(&format!(
            "\n... and {} more (`orca validate --json` lists them all)",
            n - MAX_SHOWN
        ));
    }
    out.push_str(&format!("\n{n} problem{} found", if n == 1 { "" } else { "s" }));
    out
}

/// The nearest of `candidates` to `word`, if near enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Bounded, so that many unknown names among many candidates stay cheap.
    candidates
        .into_iter()
        .take(2000)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_known_key() {
        let keys = ["cpu", "memory", "disk"];
        assert_eq!(did_you_mean("cpus", keys), Some("cpu"));
        assert_eq!(did_you_mean("memroy", keys), Some("memory"));
        assert_eq!(did_you_mean("dsk", keys), Some("disk"));
        assert_eq!(did_you_mean("network", keys), None);
        assert_eq!(did_you_mean("sha265", ["sha256", "url"]), Some("sha256"));
    }

    #[test]
    fn renders_location_source_and_hint() {
        let f = SourceFile::new("a.hcl".into(), "a.hcl".into(), "vm {\n  cpus = 2\n}\n".into());
        let d = Diagnostic::at(&f, 7..11, "unknown key `cpus`", Some("did you mean `cpu`?".into()));
        let r = d.render();
        assert!(r.starts_with("a.hcl:2:3: error: unknown key `cpus`\n"), "{r}");
        assert!(r.contains(" 2 |   cpus = 2\n   |   ^^^^\n"), "{r}");
        assert!(r.contains("  hint: did you mean `cpu`?"), "{r}");
    }
}
