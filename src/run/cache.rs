//! The result cache: a cell whose inputs are all unchanged is not run again.
//!
//! A cell's key is the sha256 of a small JSON document ([`KeyInputs`]) naming everything its result
//! depends on: the kernel (the sha256 of each of its parts), the bytes of every object, the suite
//! (the orca binary's sha256: the suite is compiled into it), the command with its test filters,
//! the expectations and timeout, the VM's resources and modules, and orca's version. Results live in
//! `<cache>/results/<key>.json`, written atomically, so a run killed at any moment leaves the old
//! entry or the new one. Infrastructure errors are never stored: they say nothing about the inputs.
//!
//! Only suite cells are cached. A plain command may read anything in the project, so orca cannot
//! know its inputs and always runs it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Exit;
use crate::fail;
use crate::plan::{Expectation, Kernel, Vm};
use crate::report::CellResult;

/// Everything a cell's result depends on. Serialized in field order, so the key is stable.
#[derive(Debug, Serialize)]
pub struct KeyInputs<'a> {
    /// Bumped when the cache's format or meaning changes.
    pub format: u32,
    /// orca's version.
    pub orca: &'a str,
    /// The kernel's catalog key and its id (`kernel::kernel_id`: a sha256 over its parts' sha256s).
    pub kernel: &'a str,
    pub kernel_id: String,
    /// The image the cell runs on.
    pub image: &'a str,
    /// [`files_digest`] of every object.
    pub objects: &'a str,
    /// The sha256 of the orca binary that runs the suite in the guest.
    pub suite: &'a str,
    /// The command as the spec writes it, plus the `--test` filters.
    pub command: &'a str,
    pub test_filters: &'a [String],
    pub expectations: &'a [Expectation],
    pub timeout_secs: u64,
    /// The VM spec, when the test names one (resources, mounts and modules change what runs).
    pub vm: Option<&'a Vm>,
}

/// The cache format; part of every key.
const FORMAT: u32 = 1;

impl<'a> KeyInputs<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kernel: &'a Kernel,
        image: &'a str,
        objects: &'a str,
        suite: &'a str,
        command: &'a str,
        test_filters: &'a [String],
        expectations: &'a [Expectation],
        timeout_secs: u64,
        vm: Option<&'a Vm>,
    ) -> KeyInputs<'a> {
        KeyInputs {
            format: FORMAT,
            orca: env!("CARGO_PKG_VERSION"),
            kernel: &kernel.version,
            kernel_id: crate::kernel::kernel_id(kernel),
            image,
            objects,
            suite,
            command,
            test_filters,
            expectations,
            timeout_secs,
            vm,
        }
    }

    /// The key: lowercase hex sha256 of the inputs' JSON.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("key inputs serialize");
        hex::encode(Sha256::digest(&json))
    }
}

/// The sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String> {
    crate::build::hash::file_sha256(path).with_context(|| format!("reading {}", path.display()))
}

/// One digest over several files: each file's name (as given) and the sha256 of its bytes, in
/// sorted order. A missing file is an error that says how to make it.
pub fn files_digest(root: &Path, files: &[PathBuf]) -> Result<String> {
    let mut sorted: Vec<&PathBuf> = files.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for f in sorted {
        let abs = root.join(f);
        if !abs.is_file() {
            return Err(fail!(Exit::Infra, "object {} is missing", f.display()));
        }
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(file_sha256(&abs)?.as_bytes());
        h.update([b'\n']);
    }
    Ok(hex::encode(h.finalize()))
}

/// The result store under `<cache>/results`.
pub struct ResultCache {
    dir: PathBuf,
}

impl ResultCache {
    pub fn open() -> Result<ResultCache> {
        Ok(ResultCache {
            dir: crate::paths::cache_dir("results")?,
        })
    }

    /// A store in `dir` (tests).
    pub fn at(dir: PathBuf) -> ResultCache {
        ResultCache { dir }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The stored result for `key`, marked cached. An unreadable entry counts as a miss.
    pub fn get(&self, key: &str) -> Option<CellResult> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let mut r: CellResult = serde_json::from_slice(&bytes).ok()?;
        r.cached = true;
        // Nothing booted for a cached result, so nothing was retried.
        r.flaky = None;
        Some(r)
    }

    /// Stores `result` under `key`, unless it is an infrastructure error.
    pub fn put(&self, key: &str, result: &CellResult) -> Result<()> {
        if result.outcome.is_infra() || result.cached {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(result)?;
        crate::paths::write_atomic(&self.path(key), &json)
    }

    /// The sha256 of the orca binary, remembered under its path, size, inode and modification
    /// time (in `file-hashes/` beside the results, where the pipeline keeps its memo too), so that
    /// a warm run does not re-read a binary that a debug build makes 100 MiB large.
    pub fn binary_sha256(&self, path: &Path) -> Result<String> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let id = format!(
            "{} {} {} {} {}",
            path.display(),
            meta.len(),
            meta.ino(),
            meta.mtime(),
            meta.mtime_nsec()
        );
        let memo = self
            .dir
            .join("file-hashes")
            .join(crate::build::hash::sha256(id.as_bytes()));
        if let Ok(h) = std::fs::read_to_string(&memo)
            && h.len() == 64
        {
            return Ok(h);
        }
        let h = file_sha256(path)?;
        crate::paths::write_atomic(&memo, h.as_bytes())?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::KernelSource;
    use crate::report::Outcome;

    fn kernel() -> Kernel {
        Kernel {
            version: "6.1".into(),
            release: Some("6.1.0-37-amd64".into()),
            sources: vec![KernelSource::Debian {
                package: "linux-image-6.1.0-37-amd64-unsigned".into(),
                version: Some("6.1.140-1".into()),
                suite: "bookworm".into(),
                sha256: "aa".repeat(32),
            }],
            nixpkgs: None,
        }
    }

    fn base() -> KeyInputs<'static> {
        let k: &'static Kernel = Box::leak(Box::new(kernel()));
        let exp: &'static [Expectation] = Box::leak(Box::new([Expectation {
            test: "cgroup_*".into(),
            min_kernel: "5.17".into(),
            reason: None,
        }]));
        let mut inputs = KeyInputs::new(k, "host", "objs", "suite", "make test", &[], exp, 600, None);
        inputs.orca = "0.0.0";
        inputs
    }

    fn key_with(f: impl FnOnce(&mut KeyInputs<'static>)) -> String {
        let mut inputs = base();
        f(&mut inputs);
        inputs.key()
    }

    #[test]
    fn the_key_is_stable() {
        // A golden value: if this changes, old cache entries are silently orphaned, so change
        // FORMAT on purpose rather than by accident.
        assert_eq!(key_with(|_| {}), key_with(|_| {}));
        assert_eq!(
            key_with(|_| {}),
            "5904fd21c7a679c2d335f7612217860db824012dedfa792a5e00057c4a314250"
        );
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = key_with(|_| {});
        let filters: &'static [String] = Box::leak(Box::new(["xdp_*".to_string()]));
        let changed = [
            key_with(|i| i.objects = "objs2"),
            key_with(|i| i.suite = "suite2"),
            key_with(|i| i.command = "make test V=1"),
            key_with(|i| i.test_filters = filters),
            key_with(|i| i.expectations = &[]),
            key_with(|i| i.timeout_secs = 601),
            key_with(|i| i.orca = "0.0.1"),
            key_with(|i| i.image = "other"),
            key_with(|i| i.kernel_id = "bb".into()),
            key_with(|i| i.kernel = "6.2"),
        ];
        for (n, k) in changed.iter().enumerate() {
            assert_ne!(k, &base, "input #{n} does not reach the key");
        }
    }

    #[test]
    fn files_digest_follows_bytes_not_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.o"), b"one").unwrap();
        std::fs::write(d.path().join("b.o"), b"two").unwrap();
        let ab = files_digest(d.path(), &["a.o".into(), "b.o".into()]).unwrap();
        assert_eq!(ab, files_digest(d.path(), &["b.o".into(), "a.o".into()]).unwrap());
        std::fs::write(d.path().join("b.o"), b"TWO").unwrap();
        assert_ne!(ab, files_digest(d.path(), &["a.o".into(), "b.o".into()]).unwrap());
        let err = files_digest(d.path(), &["c.o".into()]).unwrap_err();
        assert!(err.to_string().contains("c.o is missing"), "{err}");
    }

    #[test]
    fn stores_results_but_not_infrastructure_errors() {
        let d = tempfile::tempdir().unwrap();
        let cache = ResultCache::at(d.path().to_path_buf());
        let mut r = CellResult {
            id: "6.1/0".into(),
            kernel: Some("6.1".into()),
            release: None,
            command: "make test".into(),
            outcome: Outcome::Fail,
            duration_ms: 1000,
            cached: false,
            tests: vec![],
            message: None,
            output: None,
            steps: Vec::new(),
            flaky: Some("first boot failed (exit 6): ...".into()),
        };
        cache.put("k1", &r).unwrap();
        let got = cache.get("k1").unwrap();
        assert!(got.cached);
        assert_eq!(
            got.flaky, None,
            "a cached result booted nothing, so nothing was retried"
        );
        assert_eq!(got.outcome, Outcome::Fail);
        r.outcome = Outcome::Error;
        cache.put("k2", &r).unwrap();
        assert!(cache.get("k2").is_none());
        std::fs::write(d.path().join("k3.json"), b"{torn").unwrap();
        assert!(cache.get("k3").is_none(), "a damaged entry is a miss");
    }

    #[test]
    fn the_binary_hash_is_remembered_until_the_binary_changes() {
        let d = tempfile::tempdir().unwrap();
        let cache = ResultCache::at(d.path().join("results"));
        let bin = d.path().join("orca");
        std::fs::write(&bin, b"one").unwrap();
        let first = cache.binary_sha256(&bin).unwrap();
        assert_eq!(first, file_sha256(&bin).unwrap());
        assert_eq!(cache.binary_sha256(&bin).unwrap(), first);
        std::fs::write(&bin, b"two, longer").unwrap();
        assert_ne!(
            cache.binary_sha256(&bin).unwrap(),
            first,
            "a rebuilt binary is hashed again"
        );
    }
}
