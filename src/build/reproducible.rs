//! `orca build --verify-reproducible`: build twice in two copies of the sources and compare.
//!
//! The copies differ in everything a careless build would leak: their absolute paths (and path
//! lengths; though clang runs in a stage of fixed path length either way, see `stage.rs`), the
//! time, `SOURCE_DATE_EPOCH`, `TZ` and the umask. The object cache and the records
//! are bypassed, so both builds really run clang. The project's own `build/` is not touched.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use object::{Object as _, ObjectSection as _};
use serde::Serialize;

use super::compile::{self, Env};
use super::hash::sha256;
use super::stage::{self, Stage};
use super::{pool, toolchain};
use crate::plan::{Program, Toolchain};

/// The comparison for one program.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub name: String,
    pub object: PathBuf,
    pub identical: bool,
    /// The object's sha256 in each tree.
    pub sha256: [Option<String>; 2],
    /// Sections whose bytes differ, or that only one object has.
    pub differing_sections: Vec<String>,
    /// Why a build failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub programs: Vec<Comparison>,
    pub reproducible: bool,
    pub seconds: f64,
}

/// Builds `programs` in two fresh copies of the project's sources and compares the objects.
pub fn verify(root: &Path, tc: &Toolchain, programs: &[Program], jobs: usize) -> Result<Verification> {
    let start = std::time::Instant::now();
    let clang = toolchain::resolve(tc, root)?;
    let a_tmp = crate::paths::temp_dir("repro-a-")?;
    let b_tmp = crate::paths::temp_dir("repro-b-")?;
    let trees = [
        a_tmp.path().join("src"),
        b_tmp.path().join("a/much/longer/path/to/another/checkout"),
    ];
    let files = stage::files_to_stage(root, tc, programs);
    for t in &trees {
        for f in &files {
            let dest = t.join(f);
            if let Some(d) = dest.parent() {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            }
            std::fs::copy(root.join(f), &dest).with_context(|| format!("copying {f} to {}", t.display()))?;
        }
    }
    let envs = [
        (
            Env {
                source_date_epoch: 1,
                tz: "UTC".into(),
            },
            0o022,
        ),
        (
            Env {
                source_date_epoch: 1_700_000_000,
                tz: "NZST-12".into(),
            },
            0o077,
        ),
    ];
    let mut objects: Vec<Vec<Result<Vec<u8>, String>>> = Vec::new();
    for (tree, (env, umask)) in trees.iter().zip(&envs) {
        // SAFETY: umask(2) cannot fail; it is restored below.
        let old = unsafe { libc::umask(*umask) };
        let stage = Stage::create(tree, &files);
        let built = pool::map(programs, jobs, |p| {
            let stage = stage.as_ref().map_err(|e| format!("{e:#}"))?;
            let args = compile::args(tree, stage.path(), tc, p);
            compile::compile(&clang, stage.path(), &args, env, p)
                .map(|c| c.object)
                .map_err(|e| format!("{e:#}"))
        });
        unsafe { libc::umask(old) };
        objects.push(built);
    }
    let programs: Vec<Comparison> = programs
        .iter()
        .zip(objects[0].iter().zip(&objects[1]))
        .map(|(p, (a, b))| compare(p, a, b))
        .collect();
    Ok(Verification {
        reproducible: programs.iter().all(|c| c.identical),
        programs,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn compare(p: &Program, a: &Result<Vec<u8>, String>, b: &Result<Vec<u8>, String>) -> Comparison {
    let mut c = Comparison {
        name: p.name.clone(),
        object: p.object.clone(),
        identical: false,
        sha256: [a.as_ref().ok().map(|o| sha256(o)), b.as_ref().ok().map(|o| sha256(o))],
        differing_sections: Vec::new(),
        error: None,
    };
    match (a, b) {
        (Ok(a), Ok(b)) => {
            c.identical = a == b;
            if !c.identical {
                c.differing_sections = differing_sections(a, b);
            }
        }
        (Err(e), _) | (_, Err(e)) => c.error = Some(e.clone()),
    }
    c
}

/// The names of the sections that differ between two objects (or `ELF headers` when the
/// sections are all equal but the files are not).
pub fn differing_sections(a: &[u8], b: &[u8]) -> Vec<String> {
    let sections = |bytes: &[u8]| -> Vec<(String, Vec<u8>)> {
        object::File::parse(bytes)
            .map(|f| {
                f.sections()
                    .map(|s| (s.name().unwrap_or("?").to_string(), s.data().unwrap_or(&[]).to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (sa, sb) = (sections(a), sections(b));
    let names: BTreeSet<&String> = sa.iter().chain(&sb).map(|(n, _)| n).collect();
    let find = |v: &'_ [(String, Vec<u8>)], n: &str| v.iter().find(|(m, _)| m == n).map(|(_, d)| d.clone());
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|n| find(&sa, n) != find(&sb, n))
        .cloned()
        .collect();
    if out.is_empty() {
        out.push("ELF headers".into());
    }
    out
}
