//! The native eBPF build: the pinned clang, incremental rebuilds, a content-addressed cache, and
//! validation of every object the way the loader reads it.
//!
//! For each program, in this order:
//! 1. **up to date**: the record in `<out_dir>/.orca/<name>.json` has the same manifest key (source
//!    path, flags, toolchain identity, header names) and every input it lists still has the bytes
//!    it had, and the object still has its recorded sha256. Nothing runs.
//! 2. **cached**: for each input list known for this manifest key (the record's, then the cache's
//!    manifest), the inputs are hashed into the object key; an entry under it is restored.
//! 3. **built**: clang compiles in the stage (a snapshot of the sources at a fixed-length path,
//!    see `stage.rs`), its DWARF is stripped, the object is validated, installed atomically and
//!    its record written; a writer thread stores it in the cache while the next program compiles.
//!
//! The names of the header files (`*.h`) in the project's include directories and in the
//! directories of the sources are part of the manifest key: a new header that shadows an old one
//! changes what `#include` finds without changing any file clang read before.
//!
//! Builds of one tree take turns (an flock on `<out_dir>/.orca/lock`); builds of different trees
//! share the cache, whose writes are atomic renames.

pub mod cache;
pub mod clean;
pub mod compile;
pub mod depfile;
pub mod files;
pub mod hash;
pub mod record;
pub mod reproducible;
pub mod stage;
pub mod strip;
pub mod toolchain;
pub mod validate;

mod pool;
mod step;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::error::Exit;
use crate::plan::{Program, Toolchain};
pub use toolchain::Clang;
pub use validate::ObjectInfo;

/// How a program's object came to be in this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// clang compiled it.
    Built,
    /// Restored from the object cache.
    Cached,
    /// Nothing changed since the last build of this tree.
    UpToDate,
    /// Compiling or validating failed; `error` says why.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Built => "built",
            Outcome::Cached => "cached",
            Outcome::UpToDate => "up-to-date",
            Outcome::Failed => "failed",
        }
    }
}

/// One program's result.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramResult {
    pub name: String,
    /// The C source, project-relative.
    pub source: PathBuf,
    /// The object, project-relative.
    pub object: PathBuf,
    pub outcome: Outcome,
    /// Wall time spent on this program.
    pub seconds: f64,
    /// The object's sha256 and size, when there is one.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// Programs and maps found by validation.
    pub info: Option<ObjectInfo>,
    /// clang's warnings for a compile that succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<String>,
    /// Why it failed: clang's diagnostics, or the validation problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The exit code the failure maps to.
    #[serde(skip)]
    pub exit: Exit,
}

impl ProgramResult {
    fn new(p: &Program) -> ProgramResult {
        ProgramResult {
            name: p.name.clone(),
            source: p.source.clone(),
            object: p.object.clone(),
            outcome: Outcome::Failed,
            seconds: 0.0,
            sha256: None,
            size: None,
            info: None,
            warnings: None,
            error: None,
            exit: Exit::Ok,
        }
    }
}

/// The whole build's result; `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub programs: Vec<ProgramResult>,
    /// How many programs clang compiled (0 for a no-op rebuild or a full cache hit).
    pub compiled: usize,
    pub cached: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub seconds: f64,
    pub toolchain: ToolchainInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolchainInfo {
    pub clang: PathBuf,
    pub version: String,
    pub sha256: String,
}

impl Summary {
    /// The exit code the worst failure maps to (`Exit::Ok` when none failed). A compile or
    /// validation error is `Exit::TestFailed`; a missing source is `Exit::Usage`; a timeout, an
    /// interruption or an infrastructure failure keeps its own code.
    pub fn exit(&self) -> Exit {
        let rank = |e: Exit| match e {
            Exit::Ok => 0,
            Exit::TestFailed => 1,
            Exit::Usage => 2,
            Exit::Timeout => 4,
            Exit::Interrupted => 5,
            _ => 3,
        };
        self.programs
            .iter()
            .map(|p| p.exit)
            .max_by_key(|e| rank(*e))
            .unwrap_or(Exit::Ok)
    }
}

/// Build options.
pub struct Options<'a> {
    /// clang processes at once (at least 1).
    pub jobs: usize,
    /// Called from worker threads as each program finishes.
    pub on_done: &'a (dyn Fn(&ProgramResult) + Sync),
}

/// Builds `programs` (a subset of the plan's, in plan order) in the project at `root`.
/// Per-program failures are in the summary; `Err` is for failures of the whole build (no clang,
/// a locked tree that never frees, an unwritable output directory).
pub fn build(root: &Path, tc: &Toolchain, programs: &[Program], opts: &Options<'_>) -> Result<Summary> {
    let start = Instant::now();
    let clang = toolchain::resolve(tc, root)?;
    let out_dir = root.join(&tc.out_dir);
    let _lock = files::TreeLock::acquire(&out_dir.join(".orca").join("lock"), || {
        crate::ui::status(format!(
            "waiting for another orca build of {} to finish",
            out_dir.display()
        ))
    })?;
    // Temporary files of builds that were killed before they could rename them into place.
    files::sweep_temps(&out_dir, ".tmp-");
    files::sweep_temps(&out_dir.join(".orca"), ".tmp-");
    let cache = cache::ObjectCache::open()?;
    let (store, stores) = std::sync::mpsc::channel::<step::Store>();
    let results = std::thread::scope(|s| {
        // Cache writes (fsync included) overlap the next compiles instead of delaying them.
        let writer = s.spawn(|| stores.into_iter().for_each(|job| job.write(&cache)));
        let ctx = step::Ctx {
            root,
            tc,
            clang: &clang,
            cache: &cache,
            headers: header_names(root, tc, programs, &out_dir),
            programs,
            stage: Default::default(),
            out_dir: out_dir.clone(),
            hashes: Default::default(),
            store,
        };
        let results = pool::map(programs, opts.jobs, |p| {
            let r = step::build_one(&ctx, p);
            (opts.on_done)(&r);
            r
        });
        drop(ctx);
        let _ = writer.join();
        results
    });
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    Ok(Summary {
        compiled: count(Outcome::Built),
        cached: count(Outcome::Cached),
        up_to_date: count(Outcome::UpToDate),
        failed: count(Outcome::Failed),
        programs: results,
        seconds: start.elapsed().as_secs_f64(),
        toolchain: ToolchainInfo {
            clang: clang.command.clone(),
            version: clang.version.clone(),
            sha256: clang.sha256.clone(),
        },
    })
}

/// The sorted names of the headers that `#include` could find in the project: those under the
/// relative include directories and the sources' directories.
fn header_names(root: &Path, tc: &Toolchain, programs: &[Program], out_dir: &Path) -> String {
    let mut dirs: Vec<PathBuf> = tc
        .include_dirs
        .iter()
        .filter(|d| d.is_relative())
        .map(|d| root.join(d))
        .collect();
    dirs.extend(programs.iter().filter_map(|p| p.source.parent()).map(|d| root.join(d)));
    dirs.sort();
    dirs.dedup();
    let mut names: Vec<String> = dirs
        .iter()
        .flat_map(|d| files::list_files(root, d, &[".h"], &[out_dir.to_path_buf(), root.join("target")]))
        .collect();
    names.sort();
    names.dedup();
    names.join("\n")
}
