//! The image lock: `configs/images.lock`, beside the project's specs. Per image, the recipe it
//! was built from, the archive snapshot (the suite's Release file and the Packages index it lists,
//! by sha256) and the content hash of the result. A build with a lock entry must reproduce that
//! hash; `orca image pin NAME` moves the entry forward.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::archive::Snapshot;
use crate::error::{Exit, Fail};

/// The lock file's format version.
pub const VERSION: u32 = 1;

/// One image's pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    /// The recipe's hash ([`super::Recipe::key`]): a pin applies only to the recipe it was made for.
    pub recipe: String,
    pub archive: String,
    pub suite: String,
    pub packages: Vec<String>,
    pub snapshot: Snapshot,
    /// sha256 of the image tar mmdebstrap wrote: the image's identity and cache key.
    pub content_sha256: String,
}

/// The lock file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockFile {
    pub version: u32,
    pub images: BTreeMap<String, Pin>,
}

/// Where the project's image lock lives: `configs/images.lock` under the project root.
pub fn path(root: &Path) -> PathBuf {
    root.join("configs").join("images.lock")
}

/// Reads the lock; a missing file is an empty lock.
pub fn read(path: &Path) -> Result<LockFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LockFile {
                version: VERSION,
                images: BTreeMap::new(),
            });
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let lock: LockFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::Error::new(
            Fail::new(Exit::Usage, format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
                .hint("fix the file, or delete it and run `orca image pin NAME` for each image"),
        )
    })?;
    if lock.version != VERSION {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!("{}: lock version {} is not supported: this orca writes version {VERSION}", path.display(), lock.version),
            )
            .hint("re-pin with `orca image pin NAME`, or use the orca that wrote it"),
        ));
    }
    Ok(lock)
}

/// Sets one image's pin, under an exclusive lock so that concurrent orcas do not lose entries.
pub fn update(path: &Path, name: &str, pin: Pin) -> Result<()> {
    let _guard = crate::kernel::lock::exclusive(&crate::paths::cache_dir("images")?.join("locks").join(format!(
        "lockfile-{}",
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(path.to_string_lossy().as_bytes()))[..16]
    )))?;
    let mut lock = read(path)?;
    lock.version = VERSION;
    lock.images.insert(name.to_string(), pin);
    let mut text = serde_json::to_string_pretty(&lock)?;
    text.push('\n');
    crate::paths::write_atomic(path, text.as_bytes())
}
