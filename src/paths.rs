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

/// The project root: the nearest ancestor of the current directory holding `configs/` with one
/// of `ebpf/`, `bpf/` (as `orca init` writes), `Cargo.toml` or a `Makefile` beside it. Falls back
/// to the current directory.
pub fn project_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut dir: Option<&Path> = Some(&cwd);
    while let Some(d) = dir {
        let marked = d.join("ebpf").is_dir()
            || d.join("bpf").is_dir()
            || d.join("Cargo.toml").is_file()
            || d.join("Makefile").is_file();
        if d.join("configs").is_dir() && marked {
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
    let Ok(rd) = std::fs::read_dir(runtime_root()) else { return };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("run-")).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
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
