//! The matrix's result cache: a cell whose every input is unchanged is not run again.
//!
//! A cell's key ([`CellKey::key`]) is the sha256 of a JSON document that names everything its
//! result can depend on:
//! - orca's version and the sha256 of the orca binary (the guest's agent is that binary);
//! - the entry (name, image, kernel) and the kernel's catalog entry, with its parts' sha256s;
//! - the test block (script lines, `results` globs, timeout, expectations) and the `--test` globs;
//! - the VM spec the cells boot with (resources, mounts, provision lines, modules, network, workdir);
//! - the guest ([`Guest`]): the image's content hash, the provisioned root's key when the VM is
//!   provisioned, and the environment the script gets;
//! - every mounted folder's content ([`tree_digest`]): each file under a share's source that the
//!   project's `.gitignore` rules do not ignore (`.git` excluded), by path, mode and bytes.
//!
//! Only passing cells are stored: a failure, an error or an unavailable cell always runs again.
//! A cell on the host's root is never stored (the host's whole filesystem is its input, and orca
//! cannot hash that), nor is a cell of a test block with `cache = false` (a test that reads the
//! network or anything else outside the project). Entries live in `<cache>/results/matrix/<key>.json`,
//! written atomically (temporary file + rename), so a run killed at any moment leaves the old
//! entry or the new one, never a torn one; an unreadable entry is a miss.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::build::hash::Keyed;
use crate::plan::{Cell, Kernel, TestSpec, Vm};
use crate::report::{CellResult, Outcome};

/// Bumped when the cache's format or meaning changes; part of every key.
pub const FORMAT: u32 = 2;

/// What a cell reads from its guest beyond the plan: told by the runner, which boots it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guest {
    /// The image's content hash (sha256 of the image tar).
    pub image_sha256: String,
    /// The key of the provisioned root the cell boots, when the VM has provision lines.
    pub provision: Option<String>,
    /// The environment the script gets, in order.
    pub env: Vec<(String, String)>,
}

/// One mounted folder's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tree {
    /// The share's source on the host (absolute).
    pub source: PathBuf,
    /// [`tree_digest`] of it.
    pub digest: String,
}

/// Everything a cell's result depends on. Serialized in field order, so the key is stable.
#[derive(Debug, Serialize)]
pub struct CellKey<'a> {
    pub format: u32,
    /// orca's version and the sha256 of its binary.
    pub orca: &'a str,
    pub orca_sha256: &'a str,
    /// The matrix entry: its name, image and kernel, and the script as written.
    pub entry: &'a Cell,
    /// The kernel's catalog entry (version, release, each part's sha256).
    pub kernel: &'a Kernel,
    /// The test block: lines, results globs, timeout, expectations.
    pub test: &'a TestSpec,
    /// `--test` globs.
    pub test_filters: &'a [String],
    /// The VM the cells boot with: the test's `vm`, or the default one.
    pub vm: &'a Vm,
    pub guest: &'a Guest,
    /// Each share's content, in the VM's mount order.
    pub trees: &'a [Tree],
}

impl CellKey<'_> {
    /// The key: lowercase hex sha256 of the inputs' JSON.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).expect("key inputs serialize");
        hex::encode(Sha256::digest(&json))
    }
}

/// orca's version, as the key writes it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The digest of a folder as a guest sees it through a share: every file, folder and symlink
/// under `dir` that the project's `.gitignore` rules do not ignore, by relative path, kind and
/// permission bits, files by the sha256 of their bytes and symlinks by their target. The rules are
/// those of the project at `root` (its `.gitignore` files from `root` down) when `dir` lies in
/// it, else those of `dir` and below; nothing above either counts (a project kept inside another
/// repository's ignored folder is still hashed). `.git` is left out; hidden files are in. A file
/// that cannot be read is an error (the key would otherwise not say what the guest saw).
pub fn tree_digest(dir: &Path, root: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir.canonicalize().with_context(|| format!("reading {}", dir.display()))?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let base = if dir.starts_with(&root) { root } else { dir.clone() };
    let inside = dir.clone();
    let walk = ignore::WalkBuilder::new(&base)
        .hidden(false)
        .ignore(false)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .parents(false)
        .follow_links(false)
        // Only `dir`, and the folders on the way to it (for their .gitignore files).
        .filter_entry(move |e| e.file_name() != ".git" && (e.path().starts_with(&inside) || inside.starts_with(e.path())))
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    let mut h = Keyed::new("matrix-tree-v1");
    for entry in walk {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(&dir) else { continue };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let meta = std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let (kind, content) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).with_context(|| format!("reading {}", path.display()))?;
            ("link", target.to_string_lossy().into_owned())
        } else if meta.is_dir() {
            ("dir", String::new())
        } else if meta.is_file() {
            ("file", file_sha256(path)?)
        } else {
            // A socket or fifo: only its name and kind count.
            ("other", String::new())
        };
        h.str(&rel.to_string_lossy()).str(kind).str(&format!("{mode:o}")).str(&content);
    }
    Ok(h.finish())
}

/// [`tree_digest`] of every share of `vm` (sources made absolute against `root`), in mount order.
pub fn trees(plan: &crate::plan::Plan, root: &Path, vm: &Vm) -> Result<Vec<Tree>> {
    let mut out = Vec::new();
    for m in &vm.mounts {
        if let crate::plan::Mount::Share { source, .. } = m {
            let source = plan.absolute(source, root);
            let digest = tree_digest(&source, root)?;
            out.push(Tree { source, digest });
        }
    }
    Ok(out)
}

/// The sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String> {
    crate::build::hash::file_sha256(path).with_context(|| format!("reading {}", path.display()))
}

/// The results store under `<cache>/results`.
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
        self.dir.join("matrix").join(format!("{key}.json"))
    }

    /// The stored result for `key`, marked cached, with its original duration. An unreadable
    /// entry counts as a miss.
    pub fn get(&self, key: &str) -> Option<CellResult> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let mut r: CellResult = serde_json::from_slice(&bytes).ok()?;
        if r.outcome != Outcome::Pass {
            return None; // never written so; an entry from elsewhere is not trusted
        }
        r.cached = true;
        // Nothing booted for a cached result, so nothing was retried.
        r.flaky = None;
        Some(r)
    }

    /// Stores `result` under `key` when it passed (a failure always runs again).
    pub fn put(&self, key: &str, result: &CellResult) -> Result<()> {
        if result.outcome != Outcome::Pass || result.cached {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(result)?;
        crate::paths::write_atomic(&self.path(key), &json)
    }

    /// The sha256 of the binary at `path`, remembered under its path, size, inode and
    /// modification time (in `file-hashes/`), so that a warm run does not re-read a binary that a
    /// debug build makes 100 MiB large.
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

/// The running orca's sha256, hashed once per process and remembered across runs
/// ([`ResultCache::binary_sha256`]): part of the matrix's keys and of pipeline stages that run
/// orca.
pub fn orca_sha256() -> Result<String> {
    static HASH: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    HASH.get_or_init(|| {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let cache = ResultCache::open().map_err(|e| format!("{e:#}"))?;
        cache
            .binary_sha256(&exe)
            .map_err(|e| format!("hashing {}: {e:#}", exe.display()))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Expectation, KernelSource, Mount};
    use std::os::unix::fs::PermissionsExt;

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

    fn cell() -> Cell {
        Cell {
            id: "deb12".into(),
            name: "deb12".into(),
            image: "debian-12".into(),
            kernel: "6.1".into(),
            command: "make test".into(),
            unavailable: None,
        }
    }

    fn test() -> TestSpec {
        TestSpec {
            parallel: true,
            timeout_secs: 600,
            commands: vec!["make test".into()],
            vm: None,
            expectations: vec![Expectation {
                test: "cgroup_*".into(),
                min_kernel: "5.17".into(),
                reason: None,
            }],
            results: vec![],
            cache: true,
        }
    }

    fn guest() -> Guest {
        Guest {
            image_sha256: "cc".repeat(32),
            provision: None,
            env: vec![("PATH".into(), "/usr/bin".into())],
        }
    }

    /// The key of the base inputs, changed by `f`.
    fn key_with(f: impl FnOnce(&mut Cell, &mut Kernel, &mut TestSpec, &mut Vm, &mut Guest, &mut Vec<Tree>)) -> String {
        let (mut c, mut k, mut t, mut g) = (cell(), kernel(), test(), guest());
        let mut vm = Vm::default_for_tests(Path::new("/p/flywall"));
        let mut trees = vec![Tree {
            source: "/p/flywall".into(),
            digest: "dd".repeat(32),
        }];
        f(&mut c, &mut k, &mut t, &mut vm, &mut g, &mut trees);
        CellKey {
            format: FORMAT,
            orca: "0.0.0",
            orca_sha256: "orca",
            entry: &c,
            kernel: &k,
            test: &t,
            test_filters: &[],
            vm: &vm,
            guest: &g,
            trees: &trees,
        }
        .key()
    }

    #[test]
    fn the_key_is_stable() {
        // A golden value: if this changes, old cache entries are silently orphaned, so change
        // FORMAT on purpose rather than by accident.
        let base = key_with(|_, _, _, _, _, _| {});
        assert_eq!(base, key_with(|_, _, _, _, _, _| {}));
        assert_eq!(base, "c8de8cf38fdbf9d508a6310f95e3e53f3784fefd697c8eb9f293d7ddb40e4664");
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = key_with(|_, _, _, _, _, _| {});
        let changed = [
            key_with(|c, _, _, _, _, _| c.image = "debian-11".into()),
            key_with(|c, _, _, _, _, _| c.name = "other".into()),
            key_with(|_, k, _, _, _, _| {
                k.sources = vec![KernelSource::File {
                    path: "k.deb".into(),
                    sha256: "bb".repeat(32),
                }]
            }),
            key_with(|_, _, t, _, _, _| t.commands.push("make more".into())),
            key_with(|_, _, t, _, _, _| t.results.push("out/*.xml".into())),
            key_with(|_, _, t, _, _, _| t.timeout_secs = 601),
            key_with(|_, _, t, _, _, _| t.expectations.clear()),
            key_with(|_, _, _, v, _, _| v.memory_mib += 1),
            key_with(|_, _, _, v, _, _| v.provision.push("apt-get update".into())),
            key_with(|_, _, _, _, g, _| g.image_sha256 = "ee".repeat(32)),
            key_with(|_, _, _, _, g, _| g.provision = Some("ff".repeat(32))),
            key_with(|_, _, _, _, g, _| g.env.push(("CI".into(), "true".into()))),
            key_with(|_, _, _, _, _, t| t[0].digest = "00".repeat(32)),
        ];
        for (n, k) in changed.iter().enumerate() {
            assert_ne!(k, &base, "input #{n} does not reach the key");
        }
    }

    #[test]
    fn a_tree_is_its_files_paths_modes_and_bytes_less_what_gitignore_ignores() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("src")).unwrap();
        std::fs::create_dir_all(p.join("target/release")).unwrap();
        std::fs::create_dir_all(p.join(".git")).unwrap();
        std::fs::write(p.join(".gitignore"), "/target\n*.o\n").unwrap();
        std::fs::write(p.join("src/main.c"), "int main(void) { return 0; }\n").unwrap();
        std::fs::write(p.join("target/release/suite"), "one").unwrap();
        std::fs::write(p.join("src/x.o"), "obj").unwrap();
        std::fs::write(p.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let base = tree_digest(p, p).unwrap();
        assert_eq!(base, tree_digest(p, p).unwrap());

        // Ignored files and .git do not count.
        std::fs::write(p.join("target/release/suite"), "two").unwrap();
        std::fs::write(p.join("src/x.o"), "obj2").unwrap();
        std::fs::write(p.join(".git/HEAD"), "ref: refs/heads/other\n").unwrap();
        assert_eq!(base, tree_digest(p, p).unwrap(), "ignored files and .git are not inputs");

        // Bytes, modes, names and new files do.
        std::fs::write(p.join("src/main.c"), "int main(void) { return 1; }\n").unwrap();
        let bytes = tree_digest(p, p).unwrap();
        assert_ne!(base, bytes, "a file's bytes");
        std::fs::set_permissions(p.join("src/main.c"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mode = tree_digest(p, p).unwrap();
        assert_ne!(bytes, mode, "a file's mode");
        std::fs::write(p.join(".env"), "A=1\n").unwrap();
        let hidden = tree_digest(p, p).unwrap();
        assert_ne!(mode, hidden, "a hidden file");
        std::fs::rename(p.join(".env"), p.join(".env2")).unwrap();
        assert_ne!(hidden, tree_digest(p, p).unwrap(), "a file's name");
    }

    #[test]
    fn a_share_below_the_project_follows_the_project_gitignore_and_nothing_above_the_project() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("sub/build")).unwrap();
        std::fs::write(p.join(".gitignore"), "build/\n").unwrap();
        std::fs::write(p.join("sub/a.c"), "a").unwrap();
        let base = tree_digest(&p.join("sub"), p).unwrap();
        std::fs::write(p.join("sub/build/out"), "x").unwrap();
        assert_eq!(base, tree_digest(&p.join("sub"), p).unwrap());
        std::fs::write(p.join("outside"), "x").unwrap();
        assert_eq!(base, tree_digest(&p.join("sub"), p).unwrap(), "files beside the share are not in it");
        std::fs::write(p.join("sub/a.c"), "b").unwrap();
        assert_ne!(base, tree_digest(&p.join("sub"), p).unwrap());

        // A project inside a folder that an outer .gitignore ignores is still hashed.
        std::fs::write(p.join(".gitignore"), "build/\nnested/\n").unwrap();
        std::fs::create_dir_all(p.join("nested/project")).unwrap();
        std::fs::write(p.join("nested/project/a.c"), "a").unwrap();
        let q = p.join("nested/project");
        let before = tree_digest(&q, &q).unwrap();
        std::fs::write(q.join("a.c"), "b").unwrap();
        assert_ne!(before, tree_digest(&q, &q).unwrap());
    }

    #[test]
    fn trees_hash_every_share_in_mount_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/f"), "1").unwrap();
        let mut vm = Vm::default_for_tests(d.path());
        vm.mounts.push(Mount::Tmpfs {
            destination: "/tmp".into(),
            size_mib: 16,
        });
        let plan = crate::plan::Plan::default();
        let t = trees(&plan, d.path(), &vm).unwrap();
        assert_eq!(t.len(), 1, "tmpfs mounts have no host content");
        assert_eq!(t[0].source, d.path());
        assert_eq!(t[0].digest, tree_digest(d.path(), d.path()).unwrap());
    }

    fn result(outcome: Outcome) -> CellResult {
        CellResult {
            id: "deb12".into(),
            kernel: Some("6.1".into()),
            release: None,
            command: "make test".into(),
            outcome,
            duration_ms: 1000,
            cached: false,
            tests: vec![],
            message: None,
            output: None,
            steps: Vec::new(),
            flaky: Some("first boot failed (exit 6): ...".into()),
        }
    }

    #[test]
    fn stores_passing_cells_only() {
        let d = tempfile::tempdir().unwrap();
        let cache = ResultCache::at(d.path().to_path_buf());
        cache.put("k1", &result(Outcome::Pass)).unwrap();
        let got = cache.get("k1").unwrap();
        assert!(got.cached);
        assert_eq!(got.duration_ms, 1000, "the original duration is kept");
        assert_eq!(got.flaky, None, "a cached result booted nothing, so nothing was retried");
        for (key, outcome) in [
            ("k2", Outcome::Fail),
            ("k3", Outcome::Error),
            ("k4", Outcome::Unavailable),
            ("k5", Outcome::UnexpectedPass),
        ] {
            cache.put(key, &result(outcome)).unwrap();
            assert!(cache.get(key).is_none(), "{outcome:?} is never stored");
            assert!(!d.path().join("matrix").join(format!("{key}.json")).exists());
        }
        std::fs::write(d.path().join("matrix/k6.json"), b"{torn").unwrap();
        assert!(cache.get("k6").is_none(), "a damaged entry is a miss");
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
