//! What a cell's script becomes in the guest.
//!
//! The guest's root is the host's, so the host's orca binary and the project tree are at the same
//! absolute paths in the guest. The test's `commands` run as one script ([`Script`]): one shell,
//! line after line, stopping at the first failing line, state carried over. A line
//! `orca suite [ARGS]` becomes
//! `<host orca> suite --json --objects <project>/<out_dir> [--test GLOB]... [ARGS]`, and its JSON
//! document (on stdout) is the cell's result. The script starts in the project root (where the
//! guest environment puts the host orca's folder first on `PATH`); a script without a suite line
//! passes or fails by its lines' exit codes.

use std::path::{Path, PathBuf};

use super::script::{Script, quote};

/// A cell's script, ready to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The script, with suite lines rewritten.
    pub script: Script,
    /// The program and its arguments: `/bin/sh -c <script>`.
    pub argv: Vec<String>,
    /// The working directory (the project root).
    pub cwd: PathBuf,
    /// The index of the line that runs the behaviour suite and prints a result document, if one
    /// does.
    pub suite_line: Option<usize>,
}

impl Resolved {
    pub fn suite(&self) -> bool {
        self.suite_line.is_some()
    }
}

/// Characters that make a command a shell script rather than a plain argument list.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', '#', '~', '=', '%', '\n',
];

/// Resolves a script's `lines` from a spec. `exe` is the host's orca binary, `objects` the
/// absolute directory of the built objects, `tests` the `--test` globs for the suite.
pub fn resolve(lines: &[String], exe: &Path, root: &Path, objects: &Path, tests: &[String]) -> Resolved {
    let mut suite_line = None;
    let out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| match suite_argv(l, exe, objects, tests) {
            Some(argv) if suite_line.is_none() => {
                suite_line = Some(i);
                argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
            }
            _ => l.clone(),
        })
        .collect();
    let script = Script::new(&out);
    Resolved {
        argv: vec!["/bin/sh".into(), "-c".into(), script.text()],
        script,
        cwd: root.to_path_buf(),
        suite_line,
    }
}

/// The suite's argv for a line that is `orca suite [ARGS]` in plain words.
fn suite_argv(command: &str, exe: &Path, objects: &Path, tests: &[String]) -> Option<Vec<String>> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let is_orca = |w: &str| w == "orca" || w.ends_with("/orca");
    let plain_words = !command.contains(SHELL_CHARS);
    if !(plain_words && words.len() >= 2 && is_orca(words[0]) && words[1] == "suite") {
        return None;
    }
    let mut argv = vec![exe.display().to_string(), "suite".into(), "--json".into()];
    argv.extend(["--objects".to_string(), objects.display().to_string()]);
    for t in tests {
        argv.extend(["--test".to_string(), t.clone()]);
    }
    let mut rest = words[2..].iter();
    while let Some(w) = rest.next() {
        match *w {
            "--json" => {}
            // Ours wins: the objects this run built.
            "--objects" => {
                rest.next();
            }
            w => argv.push(w.to_string()),
        }
    }
    Some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lines: &[&str], tests: &[&str]) -> Resolved {
        let tests: Vec<String> = tests.iter().map(|s| s.to_string()).collect();
        let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        resolve(
            &lines,
            Path::new("/work/target/release/orca"),
            Path::new("/p"),
            Path::new("/p/build/ebpf"),
            &tests,
        )
    }

    #[test]
    fn the_suite_runs_the_host_binary_on_the_built_objects() {
        let got = r(&["orca suite"], &["xdp_*"]);
        assert_eq!(got.suite_line, Some(0));
        assert_eq!(
            got.script.lines[0],
            "'/work/target/release/orca' 'suite' '--json' '--objects' '/p/build/ebpf' '--test' 'xdp_*'"
        );
        assert_eq!(got.cwd, Path::new("/p"));
        let got = r(&["cd /x", "orca suite --json --objects elsewhere --verbose"], &[]);
        assert_eq!(got.suite_line, Some(1));
        assert!(got.script.lines[1].ends_with("'--json' '--objects' '/p/build/ebpf' '--verbose'"));
        assert_eq!(got.script.lines[0], "cd /x");
    }

    #[test]
    fn anything_else_is_a_shell_line_of_one_script() {
        let got = r(&["uname -r && orca suite", "make test"], &[]);
        assert!(!got.suite());
        assert_eq!(got.argv[..2], ["/bin/sh", "-c"]);
        assert_eq!(got.argv[2], got.script.text());
        assert_eq!(got.script.lines, ["uname -r && orca suite", "make test"]);
    }
}
