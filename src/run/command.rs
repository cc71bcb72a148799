//! What a cell's command becomes in the guest.
//!
//! The guest's root is the host's, so the project tree is at the same absolute path in the guest.
//! Every command is an ordinary command: it runs as `/bin/sh -c COMMAND` in the project root
//! (where the guest environment puts the host orca's folder first on `PATH`), and passes or fails
//! by its exit code.

use std::path::{Path, PathBuf};

/// A cell's command, ready to run in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The working directory (the project root).
    pub cwd: PathBuf,
}

/// Resolves `command` from a spec, to run in the project `root`.
pub fn resolve(command: &str, root: &Path) -> Resolved {
    Resolved {
        argv: vec!["/bin/sh".into(), "-c".into(), command.to_string()],
        cwd: root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_a_shell_command_in_the_project_root() {
        for cmd in ["make test", "uname -r && make test", "target/release/my-suite --junit out.xml"] {
            let got = resolve(cmd, Path::new("/p"));
            assert_eq!(got.argv, ["/bin/sh", "-c", cmd]);
            assert_eq!(got.cwd, Path::new("/p"));
        }
    }
}
