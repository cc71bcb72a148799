//! What a cell's command becomes in the guest.
//!
//! The guest's root is the host's, so the host's orca binary and the project tree are at the same
//! absolute paths in the guest. A spec's `orca suite [ARGS]` becomes
//! `<host orca> suite --json --objects <project>/<out_dir> [--test GLOB]... [ARGS]`, run in the
//! project root, and its JSON document is the cell's result. Any other command runs as
//! `/bin/sh -c COMMAND` in the project root (where the guest environment puts the host orca's
//! folder first on `PATH`), and passes or fails by its exit code.

use std::path::{Path, PathBuf};

/// A cell's command, ready to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The working directory (the project root).
    pub cwd: PathBuf,
    /// True when the command is the behaviour suite and prints a result document.
    pub suite: bool,
}

/// Characters that make a command a shell script rather than a plain argument list.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', '#', '~', '=', '%', '\n',
];

/// Resolves `command` from a spec. `exe` is the host's orca binary, `objects` the absolute
/// directory of the built objects, `tests` the `--test` globs for the suite.
pub fn resolve(command: &str, exe: &Path, root: &Path, objects: &Path, tests: &[String]) -> Resolved {
    let words: Vec<&str> = command.split_whitespace().collect();
    let is_orca = |w: &str| w == "orca" || w.ends_with("/orca");
    let plain_words = !command.contains(SHELL_CHARS);
    if plain_words && words.len() >= 2 && is_orca(words[0]) && words[1] == "suite" {
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
        return Resolved {
            argv,
            cwd: root.to_path_buf(),
            suite: true,
        };
    }
    Resolved {
        argv: vec!["/bin/sh".into(), "-c".into(), command.to_string()],
        cwd: root.to_path_buf(),
        suite: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cmd: &str, tests: &[&str]) -> Resolved {
        let tests: Vec<String> = tests.iter().map(|s| s.to_string()).collect();
        resolve(
            cmd,
            Path::new("/work/target/release/orca"),
            Path::new("/p"),
            Path::new("/p/build/ebpf"),
            &tests,
        )
    }

    #[test]
    fn the_suite_runs_the_host_binary_on_the_built_objects() {
        let got = r("orca suite", &["xdp_*"]);
        assert!(got.suite);
        assert_eq!(
            got.argv,
            [
                "/work/target/release/orca",
                "suite",
                "--json",
                "--objects",
                "/p/build/ebpf",
                "--test",
                "xdp_*"
            ]
        );
        assert_eq!(got.cwd, Path::new("/p"));
        let got = r("orca suite --json --objects elsewhere --verbose", &[]);
        assert_eq!(got.argv[2..], ["--json", "--objects", "/p/build/ebpf", "--verbose"]);
    }

    #[test]
    fn anything_else_is_a_shell_command() {
        let got = r("uname -r && orca suite", &[]);
        assert!(!got.suite);
        assert_eq!(got.argv, ["/bin/sh", "-c", "uname -r && orca suite"]);
        assert!(!r("make test", &[]).suite);
    }
}
