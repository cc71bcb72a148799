//! What a cell's script becomes in the guest.
//!
//! The test's `commands` run as one script ([`Script`]): one shell, line after line, stopping at
//! the first failing line, state carried over. Every line is an ordinary shell line; the script
//! passes or fails by its lines' exit codes, and per-test results come from the JUnit files the
//! test block declares in `results`.

use std::path::{Path, PathBuf};

use super::script::Script;

/// A cell's script, ready to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The script.
    pub script: Script,
    /// The program and its arguments: `/bin/sh -c <script>`.
    pub argv: Vec<String>,
    /// The working directory (the project root).
    pub cwd: PathBuf,
}

/// Resolves a script's `lines` from a spec, to run in the project `root`.
pub fn resolve(lines: &[String], root: &Path) -> Resolved {
    let script = Script::new(lines);
    Resolved {
        argv: vec!["/bin/sh".into(), "-c".into(), script.text()],
        script,
        cwd: root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_are_one_shell_script_in_the_project_root() {
        let lines: Vec<String> = ["uname -r && make test", "cd /x", "make more"].iter().map(|s| s.to_string()).collect();
        let got = resolve(&lines, Path::new("/p"));
        assert_eq!(got.argv[..2], ["/bin/sh", "-c"]);
        assert_eq!(got.argv[2], got.script.text());
        assert_eq!(got.script.lines, lines);
        assert_eq!(got.cwd, Path::new("/p"));
    }
}
