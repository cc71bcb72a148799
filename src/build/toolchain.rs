//! The toolchain pin: finding the clang the build file asks for, and refusing any other.
//!
//! The clang is `toolchain.clang` when set, else `clang-<major>` on PATH, else `clang`. Its
//! major version must equal `clang_version` (and its sha256 `clang_sha256`, when pinned).
//!
//! The identity that goes into every cache key is clang's version line and the sha256 of its
//! resolved binary (symlinks followed). Asking clang for its version and hashing it costs tens
//! of milliseconds, so the answer is remembered in the `toolchain` cache area, keyed by the
//! binary's inode, size and change times: a rebuild that changes nothing need not start clang.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::hash;
use crate::error::{Exit, Fail};
use crate::plan::Toolchain;

/// How long `clang --version` may take.
const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// The resolved, verified toolchain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Clang {
    /// The clang command as found, e.g. `/usr/bin/clang-14`.
    pub command: PathBuf,
    /// The binary behind it, symlinks followed.
    pub resolved: PathBuf,
    /// clang's version line, e.g. `Debian clang version 14.0.6`.
    pub version: String,
    pub major: u32,
    /// sha256 of the resolved clang binary.
    pub sha256: String,
}

impl Clang {
    /// What goes into cache keys: the version and the binary's hash, never paths.
    pub fn identity(&self) -> String {
        format!("{}\n{}", self.version, self.sha256)
    }
}

/// Finds and checks the pinned clang. `root` anchors a relative `toolchain.clang` path.
pub fn resolve(tc: &Toolchain, root: &Path) -> Result<Clang> {
    if !cfg!(target_os = "linux") {
        return Err(Fail::new(
            Exit::Infra,
            format!(
                "the native build backend runs on Linux; this host is {}",
                std::env::consts::OS
            ),
        )
        .hint("build with `orca build --backend nix`, which brings its own pinned clang")
        .into());
    }
    let major = tc.clang_major;
    let fix = format!(
        "install clang {major} (Debian/Ubuntu: `apt-get install clang-{major}`), or change \
         `clang_version` in configs/build.hcl, or build with `orca build --backend nix`"
    );
    let command = match &tc.clang {
        Some(c) => find(c, root).ok_or_else(|| {
            Fail::new(
                Exit::Infra,
                format!("the clang named in configs/build.hcl, `{c}`, was not found"),
            )
            .hint(fix.clone())
        })?,
        None => find(&format!("clang-{major}"), root)
            .or_else(|| find("clang", root))
            .ok_or_else(|| {
                Fail::new(
                    Exit::Infra,
                    format!("clang {major} is pinned but neither `clang-{major}` nor `clang` is on PATH"),
                )
                .hint(fix.clone())
            })?,
    };
    let resolved = std::fs::canonicalize(&command).unwrap_or_else(|_| command.clone());
    let memo = Memo::path(&resolved);
    let mut clang = match memo.as_ref().and_then(|m| Memo::load(m, &resolved)) {
        Some(c) => c,
        None => {
            let c = probe(&command, &resolved, &fix)?;
            if let Some(m) = &memo {
                Memo::store(m, &c);
            }
            c
        }
    };
    clang.command = command;

    if clang.major != major {
        return Err(Fail::new(
            Exit::Infra,
            format!(
                "{} is {} but configs/build.hcl pins clang {major}",
                clang.command.display(),
                clang.version
            ),
        )
        .hint(fix)
        .into());
    }
    if let Some(want) = &tc.clang_sha256
        && !want.eq_ignore_ascii_case(&clang.sha256)
    {
        return Err(Fail::new(
            Exit::Infra,
            format!(
                "{} has sha256 {} but configs/build.hcl pins clang_sha256 = \"{want}\"",
                clang.resolved.display(),
                clang.sha256
            ),
        )
        .hint("install the pinned clang build, or update `clang_sha256` in configs/build.hcl if the change is intended")
        .into());
    }
    Ok(clang)
}

/// Runs `clang --version` and hashes the binary.
fn probe(command: &Path, resolved: &Path, fix: &str) -> Result<Clang> {
    let out = crate::process::run_ok(
        Command::new(command).arg("--version"),
        "clang --version",
        PROBE_DEADLINE,
    )?;
    let text = out.stdout_str();
    let version = text.lines().next().unwrap_or("").trim().to_string();
    let major = major_after(&version, "clang version ").ok_or_else(|| {
        Fail::new(
            Exit::Infra,
            format!(
                "{} does not look like clang: `--version` printed {version:?}",
                command.display()
            ),
        )
        .hint(fix.to_string())
    })?;
    Ok(Clang {
        command: command.to_path_buf(),
        resolved: resolved.to_path_buf(),
        version,
        major,
        sha256: hash::file_sha256(resolved)?,
    })
}

/// The major version in `... <marker>14.0.6 ...`.
fn major_after(line: &str, marker: &str) -> Option<u32> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// A command name on PATH, or a path (relative to `root` when it contains a slash).
fn find(name: &str, root: &Path) -> Option<PathBuf> {
    if name.contains('/') {
        let p = root.join(name);
        return crate::process::is_executable(&p).then_some(p);
    }
    crate::process::on_path(name)
}

/// The remembered probe, valid while the binary is untouched.
#[derive(Serialize, Deserialize)]
struct Memo {
    stamp: Stamp,
    clang: Clang,
}

/// What identifies a binary's content without reading it.
#[derive(Serialize, Deserialize, PartialEq)]
struct Stamp {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let resolved = std::fs::canonicalize(path).ok()?;
        let m = std::fs::metadata(&resolved).ok()?;
        Some(Stamp {
            path: resolved,
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        })
    }
}

impl Memo {
    fn path(resolved: &Path) -> Option<PathBuf> {
        let dir = crate::paths::cache_dir("toolchain").ok()?;
        let name = hash::sha256(resolved.as_os_str().as_encoded_bytes());
        Some(dir.join(format!("clang-{}.json", &name[..16])))
    }

    fn load(file: &Path, resolved: &Path) -> Option<Clang> {
        let m: Memo = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
        (m.clang.resolved == resolved && m.stamp == Stamp::of(resolved)?).then_some(m.clang)
    }

    fn store(file: &Path, clang: &Clang) {
        let Some(stamp) = Stamp::of(&clang.resolved) else {
            return;
        };
        if let Ok(bytes) = serde_json::to_vec_pretty(&Memo {
            stamp,
            clang: clang.clone(),
        }) {
            // Best effort: without the memo the next build probes again.
            let _ = crate::paths::write_atomic(file, &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_major_versions() {
        assert_eq!(major_after("Debian clang version 14.0.6", "clang version "), Some(14));
        assert_eq!(
            major_after("Apple clang version 15.0.0 (clang-1500.3.9.4)", "clang version "),
            Some(15)
        );
        assert_eq!(major_after("Debian LLVM version 14.0.6", "LLVM version "), Some(14));
        assert_eq!(major_after("gcc (Debian 12.2.0-14) 12.2.0", "clang version "), None);
    }
}
