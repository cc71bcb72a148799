//! Spec files as text: reading them safely and turning byte offsets into line:column.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Spec files larger than this are refused before they are read: no real spec comes near it, and
/// it bounds the time and memory a stray file can cost.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One spec file's text and where it came from.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as opened.
    pub path: PathBuf,
    /// The path shown in diagnostics (project-relative where possible).
    pub display: String,
    /// The file's text (empty when it could not be read).
    pub text: String,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

/// Why a file could not be read as text, with the byte offset the problem is at.
#[derive(Debug)]
pub struct ReadProblem {
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

impl SourceFile {
    pub fn new(path: PathBuf, display: String, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceFile {
            path,
            display,
            text,
            line_starts,
        }
    }

    /// Reads a file, refusing oversized files and text that is not UTF-8. On failure the returned
    /// file holds whatever valid text preceded the problem, so the problem can still be located.
    pub fn read(path: &Path, display: String) -> Result<SourceFile, Box<(SourceFile, ReadProblem)>> {
        let empty = || SourceFile::new(path.to_path_buf(), display.clone(), String::new());
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    "check the path; `orca validate` with no arguments checks configs/*.hcl"
                } else {
                    "check the file's permissions"
                };
                return Err(Box::new((
                    empty(),
                    ReadProblem {
                        offset: 0,
                        message: format!("cannot read: {e}"),
                        hint: hint.into(),
                    },
                )));
            }
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_FILE_BYTES || file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            let message = if len > MAX_FILE_BYTES {
                format!(
                    "the file is {} bytes; spec files are limited to {} bytes (8 MiB)",
                    len, MAX_FILE_BYTES
                )
            } else {
                "this is a directory, not a spec file".to_string()
            };
            return Err(Box::new((
                empty(),
                ReadProblem {
                    offset: 0,
                    message,
                    hint: "pass the .hcl spec files themselves".into(),
                },
            )));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        // Read at most one byte past the limit: a file that grows while being read is still refused.
        if let Err(e) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
            return Err(Box::new((
                empty(),
                ReadProblem {
                    offset: 0,
                    message: format!("cannot read: {e}"),
                    hint: "check the file".into(),
                },
            )));
        }
        if bytes.len() as u64 > MAX_FILE_BYTES {
            let message = format!(
                "the file is over {} bytes (8 MiB), the limit for spec files",
                MAX_FILE_BYTES
            );
            return Err(Box::new((
                empty(),
                ReadProblem {
                    offset: 0,
                    message,
                    hint: "pass the .hcl spec files themselves".into(),
                },
            )));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(path.to_path_buf(), display, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let byte = bytes[at];
                let text = String::from_utf8_lossy(&bytes[..at]).into_owned();
                let message = format!("the file is not UTF-8 text (byte 0x{byte:02x})");
                let hint = "spec files are HCL text; is this the right file?".to_string();
                Err(Box::new((
                    SourceFile::new(path.to_path_buf(), display, text),
                    ReadProblem {
                        offset: at,
                        message,
                        hint,
                    },
                )))
            }
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        (line + 1, self.text[start..end].chars().count() + 1)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.line_starts.get(line).map(|e| e - 1).unwrap_or(self.text.len());
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// The folder the file is in, against which relative paths in it are resolved.
    pub fn dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let f = SourceFile::new("x".into(), "x".into(), "ab\ncdé f\n\nz".into());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (1, 3));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(8), (2, 5)); // after the two-byte é
        assert_eq!(f.line_col(10), (3, 1));
        assert_eq!(f.line_col(11), (4, 1));
        assert_eq!(f.line_col(999), (4, 2));
        assert_eq!(f.line_text(2), "cdé f");
        assert_eq!(f.line_text(3), "");
        assert_eq!(f.line_text(9), "");
    }
}
