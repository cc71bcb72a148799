//! Where orca keeps things: the project root, the caches, the runtime directory.
//!
//! - Caches (`$ORCA_CACHE_DIR`, else `$XDG_CACHE_HOME/orca`, else `~/.cache/orca`) survive runs
//!   and are content-addressed, so they are safe to share between checkouts.
//! - The runtime directory (`$XDG_RUNTIME_DIR/orca`, else `/tmp/orca-<uid>`) holds sockets and
//!   per-run scratch space. Each process works in `run-<pid>` below it and removes it on exit;
//!   [`sweep_stale`] removes those of processes that died without cleaning up (SIGKILL).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::Exit;
use crate::fail;

/// The project root: the nearest ancestor of the current directory (itself included) holding a
/// `configs/` folder. Falls back to the current directory.
pub fn project_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut dir: Option<&Path> = Some(&cwd);
    while let Some(d) = dir {
        if d.join("configs").is_dir() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    cwd
}

/// The root of orca's caches.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("ORCA_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("orca");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("orca");
    }
    PathBuf::from("/tmp").join(format!("orca-cache-{}", unsafe { libc::getuid() }))
}

/// A named cache area (`objects`, `kernels`, `initramfs`, `results`, ...), created on demand.
pub fn cache_dir(area: &str) -> Result<PathBuf> {
    let d = cache_root().join(area);
    std::fs::create_dir_all(&d)
        .map_err(|e| fail!(Exit::Infra, "cannot create cache directory {}: {e}", d.display()))?;
    Ok(d)
}

/// The per-user runtime directory for sockets and scratch space.
pub fn runtime_root() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("orca");
    }
    PathBuf::from("/tmp").join(format!("orca-{}", unsafe { libc::getuid() }))
}

/// This process's scratch directory, `run-<pid>` under the runtime root, removed on exit.
pub fn scratch_dir() -> Result<PathBuf> {
    let d = runtime_root().join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}

/// A fresh temporary directory inside this process's scratch directory; removed when dropped.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let base = scratch_dir()?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))
}

/// Removes this process's scratch directory. Called by `cli::main` on every exit path.
pub fn remove_scratch() {
    let d = runtime_root().join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(d);
}

/// Removes scratch directories left by orca processes that no longer exist.
pub fn sweep_stale() {
    for p in left_by_dead_processes(&runtime_root(), "run-") {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// The entries of `dir` named `<prefix><pid>` or `<prefix><pid>-...` whose process no longer
/// exists: what an orca killed midway left behind.
pub fn left_by_dead_processes(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(prefix)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|pid| !process_alive(pid))
        })
        .map(|e| e.path())
        .collect()
}

/// Removes what [`left_by_dead_processes`] finds, files and folders alike.
pub fn remove_left_by_dead_processes(dir: &Path, prefix: &str) {
    for p in left_by_dead_processes(dir, prefix) {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

/// Whether a process with this pid exists (one of another user's counts too).
fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    (unsafe { libc::kill(pid, 0) }) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// A reader sees the old content or the new, never a torn file, even if orca is killed midway.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `path` relative to `base` when it lies below it, for messages.
pub fn display_rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}
