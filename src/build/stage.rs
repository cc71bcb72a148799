//! The staging tree clang compiles in: a snapshot of the project's sources at a path whose
//! length is the same on every machine, for every user and every checkout.
//!
//! Why a snapshot and not the checkout itself: clang stores the real path of every file it opens
//! (it reads `/proc/self/fd/N`) in heap-allocated strings, and the BPF backend of newer clangs
//! (seen with clang 19; clang 14 is not affected) emits forward-declared BTF types in the order of
//! their metadata nodes' heap addresses. So the length of the checkout's path moves the heap
//! layout, and with it the order of `FWD` types in `.BTF`: the same sources built in `/src/a` and
//! in `/home/me/work/project` gave different objects. Compiled from
//! `/tmp/orca-stage-<pid, 10 digits>-<6 random>`, they do not.
//!
//! The snapshot also makes cache keys exact: the key hashes the staged copies, which are exactly
//! what clang read, even when a file is edited while the build runs.
//!
//! What is copied: every file below the sources' directories and the relative include
//! directories (hidden entries, the output directory and `target/` excepted). Every other top-level
//! entry of the project is a symlink in the stage, so an unusual `#include "../x.h"` still works.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::files;
use crate::plan::{Program, Toolchain};

/// Where stages live: `/tmp` itself, not `$TMPDIR`, whose path differs between users.
const STAGE_PARENT: &str = "/tmp";
const PREFIX: &str = "orca-stage-";

/// A staged snapshot, removed when dropped.
pub struct Stage {
    dir: tempfile::TempDir,
    copied: BTreeSet<String>,
}

impl Stage {
    /// Copies `files` (project-relative) from `root` into a new stage and links the rest. Stages
    /// left by killed orca processes are removed first.
    pub fn create(root: &Path, files: &BTreeSet<String>) -> Result<Stage> {
        sweep();
        let pid = format!("{:010}-", std::process::id());
        let fixed = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{pid}"))
            .rand_bytes(6)
            .tempdir_in(STAGE_PARENT);
        let dir = match fixed {
            Ok(d) => d,
            Err(e) => {
                // Still builds, but the objects may then depend on where this user's scratch is.
                crate::ui::warn(format!(
                    "cannot stage in {STAGE_PARENT} ({e}); objects may not be reproducible"
                ));
                tempfile::Builder::new()
                    .prefix(PREFIX)
                    .tempdir_in(crate::paths::scratch_dir()?)
                    .context("creating a staging directory for clang")?
            }
        };
        for f in files {
            let dest = dir.path().join(f);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            }
            std::fs::copy(root.join(f), &dest).with_context(|| format!("staging {f}"))?;
        }
        if let Ok(rd) = std::fs::read_dir(root) {
            for e in rd.flatten() {
                let dest = dir.path().join(e.file_name());
                if !e.file_name().to_string_lossy().starts_with('.') && !dest.exists() {
                    std::os::unix::fs::symlink(e.path(), &dest)
                        .with_context(|| format!("linking {} into the stage", e.path().display()))?;
                }
            }
        }
        Ok(Stage {
            dir,
            copied: files.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Whether `input` (as clang named it) is a staged copy, rather than a system file or a file
    /// reached through a symlink.
    pub fn holds(&self, input: &str) -> bool {
        self.copied.contains(input)
    }
}

/// The project-relative files a stage needs: the sources' directories, the relative include
/// directories, and every other project file the last build's records list as an input.
pub fn files_to_stage(root: &Path, tc: &Toolchain, programs: &[Program]) -> BTreeSet<String> {
    let out_dir = root.join(&tc.out_dir);
    let skip = [out_dir.clone(), root.join("target"), root.join("build")];
    let mut dirs: Vec<PathBuf> = programs
        .iter()
        .filter_map(|p| p.source.parent())
        .map(|d| root.join(d))
        .collect();
    dirs.extend(tc.include_dirs.iter().filter(|d| d.is_relative()).map(|d| root.join(d)));
    let mut out = BTreeSet::new();
    for d in dirs {
        let found = files::list_files(root, &d, &[""], &skip);
        if d == root {
            // A source at the top level: the top-level files only, not the whole project.
            out.extend(found.into_iter().filter(|f| !f.contains('/')));
        } else {
            out.extend(found);
        }
    }
    for p in programs.iter().filter(|p| root.join(&p.source).is_file()) {
        out.insert(p.source.display().to_string());
        if let Some(r) = super::record::load(&out_dir, &p.name) {
            out.extend(
                r.inputs
                    .into_iter()
                    .map(|i| i.path)
                    .filter(|i| !i.starts_with('/') && root.join(i).is_file()),
            );
        }
    }
    out
}

/// Removes the stages of orca processes that are gone (killed before they could clean up).
pub fn sweep() {
    let Ok(rd) = std::fs::read_dir(STAGE_PARENT) else {
        return;
    };
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let mine = e.metadata().is_ok_and(|m| m.uid() == me);
        if mine && !files::alive(pid) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_have_one_path_length_and_copy_or_link() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ebpf/include")).unwrap();
        std::fs::create_dir_all(d.path().join("other")).unwrap();
        std::fs::write(d.path().join("ebpf/a.c"), "int a;").unwrap();
        std::fs::write(d.path().join("ebpf/include/a.h"), "").unwrap();
        std::fs::write(d.path().join("other/x.h"), "").unwrap();
        let files: BTreeSet<String> = ["ebpf/a.c", "ebpf/include/a.h"].iter().map(|s| s.to_string()).collect();
        let s = Stage::create(d.path(), &files).unwrap();
        let t = Stage::create(d.path(), &files).unwrap();
        assert_eq!(s.path().as_os_str().len(), t.path().as_os_str().len());
        assert_ne!(s.path(), t.path());
        assert_eq!(std::fs::read_to_string(s.path().join("ebpf/a.c")).unwrap(), "int a;");
        assert!(!std::fs::symlink_metadata(s.path().join("ebpf")).unwrap().is_symlink());
        assert!(std::fs::symlink_metadata(s.path().join("other")).unwrap().is_symlink());
        assert!(s.holds("ebpf/a.c") && !s.holds("other/x.h"));
        let p = s.path().to_path_buf();
        drop(s);
        assert!(!p.exists(), "the stage is removed when dropped");
    }
}
