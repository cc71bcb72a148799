//! File operations the build needs to survive being killed: atomic installs, the tree lock, and
//! measuring what a removal frees.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::Exit;
use crate::fail;

/// Writes `bytes` to `path` atomically with mode 0644 (less the umask): a temporary file in the
/// same directory, then a rename. A reader, or a build after orca was killed, sees the old file or
/// the new one, never a torn one. (`paths::write_atomic` leaves tempfile's 0600; objects must stay
/// readable by other users.) There is no fsync: these are build outputs, and after a power loss
/// a torn object no longer matches its record's sha256 and is rebuilt. The cache, which outlives
/// the tree, does fsync.
pub fn install(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(".tmp-"))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644 & !umask()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A temporary file prefix naming this process: `<base><pid>-`, so that a file left by a killed
/// orca can be told from one a running orca is still writing (see [`sweep_temps`]).
pub fn temp_prefix(base: &str) -> String {
    format!("{base}{}-", std::process::id())
}

/// Removes the temporary files in `dir` named with `base` whose process is gone.
pub fn sweep_temps(dir: &Path, base: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(base))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether process `pid` exists (EPERM means it does, owned by someone else).
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let exists = unsafe { libc::kill(pid, 0) } == 0;
    exists || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The process's umask, from /proc (setting and restoring it would race with other threads).
pub fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// An exclusive lock on a directory tree, held until dropped (or until the process dies: the
/// kernel releases flock(2) locks with the last file descriptor, so a SIGKILLed build never
/// leaves the tree locked).
pub struct TreeLock {
    _file: std::fs::File,
}

impl TreeLock {
    /// Locks `lock_path`, creating it. When another process holds it, `on_wait` is called once
    /// and the call blocks until the lock is free or orca is interrupted.
    pub fn acquire(lock_path: &Path, on_wait: impl FnOnce()) -> Result<TreeLock> {
        if let Some(d) = lock_path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(TreeLock { _file: file });
        }
        on_wait();
        loop {
            crate::process::check_interrupted()?;
            // SAFETY: as above. Signals interrupt the wait (EINTR) so Ctrl-C is honoured.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                return Ok(TreeLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(fail!(Exit::Infra, "cannot lock {}: {e}", lock_path.display()));
            }
        }
    }
}

/// The disk space a file or tree uses (allocated blocks, each inode counted once).
pub fn disk_usage(path: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if seen.insert((md.dev(), md.ino())) {
            total += md.blocks() * 512;
        }
        if md.is_dir()
            && let Ok(rd) = std::fs::read_dir(&p)
        {
            stack.extend(rd.flatten().map(|e| e.path()));
        }
    }
    total
}

/// Removes a file or a tree, returning the space it used; `None` when there was nothing.
pub fn remove(path: &Path) -> Result<Option<u64>> {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    let used = disk_usage(path);
    let r = if md.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    r.map_err(|e| fail!(Exit::Infra, "cannot remove {}: {e}", path.display()))?;
    Ok(Some(used))
}

/// Walks `dir` and returns the project-relative names of files whose name ends in one of
/// `suffixes`, sorted. Hidden entries are skipped, and so are the directories in `skip` (the
/// output directory, a cargo `target/`).
pub fn list_files(root: &Path, dir: &Path, suffixes: &[&str], skip: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if skip.contains(&d) {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if suffixes.iter().any(|s| name.ends_with(s)) {
                out.push(crate::paths::display_rel(&e.path(), root));
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_replaces_atomically_and_is_readable() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.o");
        install(&p, b"one").unwrap();
        install(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644 & !umask());
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temporary files remain");
    }

    #[test]
    fn temps_of_dead_processes_are_swept() {
        let d = tempfile::tempdir().unwrap();
        let mine = d.path().join(format!("{}abc", temp_prefix(".tmp-")));
        let dead = d.path().join(".tmp-999999999-abc");
        let other = d.path().join("x.o");
        for p in [&mine, &dead, &other] {
            std::fs::write(p, b"").unwrap();
        }
        sweep_temps(d.path(), ".tmp-");
        assert!(mine.exists() && other.exists());
        assert!(!dead.exists());
    }

    #[test]
    fn remove_reports_space_and_tolerates_absence() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("tree");
        std::fs::create_dir_all(t.join("a")).unwrap();
        std::fs::write(t.join("a/f"), vec![0u8; 10_000]).unwrap();
        let freed = remove(&t).unwrap().unwrap();
        assert!(freed >= 10_000, "{freed}");
        assert!(!t.exists());
        assert_eq!(remove(&t).unwrap(), None);
    }

    #[test]
    fn second_lock_waits_for_the_first() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let first = TreeLock::acquire(&p, || panic!("the first lock must not wait")).unwrap();
        let p2 = p.clone();
        let waited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let w2 = waited.clone();
        let t = std::thread::spawn(move || {
            let _l = TreeLock::acquire(&p2, || w2.store(true, std::sync::atomic::Ordering::SeqCst)).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        drop(first);
        t.join().unwrap();
    }
}
