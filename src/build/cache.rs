//! The content-addressed object cache, shared by every checkout of every project.
//!
//! Layout under `paths::cache_dir("objects")/v<SCHEMA>/`:
//! - `<kk>/<key>.o`: an object, keyed by everything that went into it (see `key`). The entry
//!   starts with a header holding the object's own sha256, checked on every read: a torn or
//!   corrupted entry is discarded and rebuilt, never used.
//! - `manifests/<kk>/<mkey>.json`: for a source compiled with given flags and toolchain, the
//!   input lists seen so far (which headers it included). A lookup hashes the inputs of each list
//!   to find the object key without running clang, which is how `orca clean && orca build` is
//!   served from the cache.
//! - `tmp/`: files being written. Every write goes to a temporary file here, then is renamed into
//!   place, so an entry appears whole or not at all, whenever orca is killed. Object entries are
//!   fsynced before the rename; manifests, which are only hints, are not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::hash;

/// The cache format. Bump it when the meaning of a key or an entry changes.
pub const SCHEMA: u32 = 2;

/// How many input lists a manifest keeps (newest first).
const MAX_VARIANTS: usize = 8;

/// Temporary files older than this are leftovers of killed builds.
const STALE_TMP: Duration = Duration::from_secs(3600);

const MAGIC: &str = "orca-object 1";

pub struct ObjectCache {
    dir: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct Manifest {
    variants: Vec<Vec<String>>,
}

impl ObjectCache {
    /// The cache in orca's cache root.
    pub fn open() -> Result<ObjectCache> {
        ObjectCache::at(&crate::paths::cache_dir("objects")?)
    }

    /// A cache in `dir` (tests use their own).
    pub fn at(dir: &Path) -> Result<ObjectCache> {
        let c = ObjectCache {
            dir: dir.join(format!("v{SCHEMA}")),
        };
        std::fs::create_dir_all(c.dir.join("tmp")).with_context(|| format!("creating {}", c.dir.display()))?;
        c.sweep_tmp();
        Ok(c)
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.o"))
    }

    fn manifest(&self, mkey: &str) -> PathBuf {
        self.dir.join("manifests").join(&mkey[..2]).join(format!("{mkey}.json"))
    }

    /// The object stored under `key`, verified against its recorded sha256.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.entry(key);
        let data = std::fs::read(&path).ok()?;
        match decode(&data) {
            Some(obj) => Some(obj.to_vec()),
            None => {
                crate::ui::warn(format!("discarding a corrupt object cache entry ({})", path.display()));
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `object` under `key` (unless an entry is there: a key names one content, and a
    /// corrupt entry is removed when read).
    pub fn put(&self, key: &str, object: &[u8]) -> Result<()> {
        if self.entry(key).exists() {
            return Ok(());
        }
        let mut data = format!("{MAGIC}\n{}\n{}\n", hash::sha256(object), object.len()).into_bytes();
        data.extend_from_slice(object);
        self.write(&self.entry(key), &data, true)
    }

    /// The input lists recorded for manifest key `mkey`, newest first.
    pub fn variants(&self, mkey: &str) -> Vec<Vec<String>> {
        std::fs::read(self.manifest(mkey))
            .ok()
            .and_then(|d| serde_json::from_slice::<Manifest>(&d).ok())
            .map(|m| m.variants)
            .unwrap_or_default()
    }

    /// Records that a compile under `mkey` read `inputs`. Two builds racing here may drop one
    /// list; that only costs a later cache miss. Manifests are not fsynced: one torn by a power
    /// loss fails to parse and counts as empty.
    pub fn add_variant(&self, mkey: &str, inputs: &[String]) -> Result<()> {
        let mut variants = self.variants(mkey);
        if variants.first().is_some_and(|v| v.as_slice() == inputs) {
            return Ok(());
        }
        variants.retain(|v| v.as_slice() != inputs);
        variants.insert(0, inputs.to_vec());
        variants.truncate(MAX_VARIANTS);
        let bytes = serde_json::to_vec(&Manifest { variants })?;
        self.write(&self.manifest(mkey), &bytes, false)
    }

    /// Temp file in `tmp/`, fsync when `durable`, rename into place.
    fn write(&self, dest: &Path, bytes: &[u8], durable: bool) -> Result<()> {
        let parent = dest.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(&super::files::temp_prefix("w-"))
            .tempfile_in(self.dir.join("tmp"))
            .with_context(|| format!("creating a temporary file in {}", self.dir.display()))?;
        tmp.write_all(bytes)?;
        if durable {
            tmp.as_file().sync_all()?;
        }
        tmp.persist(dest)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", dest.display()))?;
        Ok(())
    }

    /// Removes temporary files that killed builds left behind: those of processes that are
    /// gone, and any older than an hour (a process id may have been reused).
    fn sweep_tmp(&self) {
        super::files::sweep_temps(&self.dir.join("tmp"), "w-");
        let Ok(rd) = std::fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        let now = SystemTime::now();
        for e in rd.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The object inside an entry, if the header is intact and the sha256 matches.
fn decode(data: &[u8]) -> Option<&[u8]> {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let magic = parts.next()?;
    let sha = std::str::from_utf8(parts.next()?).ok()?;
    let len: usize = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let body = parts.next()?;
    (magic == MAGIC.as_bytes() && body.len() == len && hash::sha256(body) == sha).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ab00000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn stores_and_restores() {
        let d = tempfile::tempdir().unwrap();
        let c = ObjectCache::at(d.path()).unwrap();
        assert_eq!(c.get(KEY), None);
        c.put(KEY, b"\x7fELF object").unwrap();
        assert_eq!(c.get(KEY).as_deref(), Some(&b"\x7fELF object"[..]));
        assert_eq!(
            std::fs::read_dir(d.path().join(format!("v{SCHEMA}/tmp")))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_corrupt_entry_is_discarded() {
        let d = tempfile::tempdir().unwrap();
        let c = ObjectCache::at(d.path()).unwrap();
        c.put(KEY, b"\x7fELF object").unwrap();
        let p = c.entry(KEY);
        let mut data = std::fs::read(&p).unwrap();
        let n = data.len();
        data[n - 1] ^= 1;
        std::fs::write(&p, &data).unwrap();
        assert_eq!(c.get(KEY), None);
        assert!(!p.exists(), "the corrupt entry is removed");
        // A truncated entry is corrupt too.
        c.put(KEY, b"\x7fELF object").unwrap();
        std::fs::write(&p, &std::fs::read(&p).unwrap()[..20]).unwrap();
        assert_eq!(c.get(KEY), None);
    }

    #[test]
    fn manifests_keep_newest_variants_first() {
        let d = tempfile::tempdir().unwrap();
        let c = ObjectCache::at(d.path()).unwrap();
        let a = vec!["a.c".to_string(), "x.h".to_string()];
        let b = vec!["a.c".to_string(), "y.h".to_string()];
        c.add_variant(KEY, &a).unwrap();
        c.add_variant(KEY, &b).unwrap();
        c.add_variant(KEY, &a).unwrap();
        assert_eq!(c.variants(KEY), vec![a, b]);
        std::fs::write(c.manifest(KEY), b"{torn").unwrap();
        assert!(c.variants(KEY).is_empty());
    }
}
