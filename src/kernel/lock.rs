//! Advisory file locks, so that two orca processes fetching the same kernel do the work once.
//! The kernel drops a lock when its holder dies, so a killed orca never leaves one behind.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// Holds an exclusive lock on a file until dropped.
pub struct Lock(#[allow(dead_code)] File);

/// Takes an exclusive lock on `path` (created if missing), waiting for another holder while
/// staying responsive to Ctrl-C.
pub fn exclusive(path: &Path) -> Result<Lock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    let mut told = false;
    loop {
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Lock(file));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err).with_context(|| format!("locking {}", path.display()));
        }
        if !told {
            crate::ui::status(format!("waiting for another orca using {}", path.display()));
            told = true;
        }
        crate::process::check_interrupted()?;
        std::thread::sleep(Duration::from_millis(200));
    }
}
