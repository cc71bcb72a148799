//! The pipeline's result cache and artifact store.
//!
//! - Artifact files are stored by content (`<cache>/results/blobs/<sha256>`), so a stage's output
//!   is kept once however many runs produced it.
//! - A passed stage is recorded under its key (`<cache>/results/pipeline/<key>.json`): the same
//!   definition with the same inputs is taken from here instead of running again.
//! - The project keeps, per pipeline and stage, the last stored result
//!   (`build/pipeline/latest/<pipeline>/<stage>.json`), so `--only` and `--from` can restore an
//!   earlier stage's artifacts even when its inputs have changed since.
//!
//! Every write is atomic (temporary file + rename): a cache killed midway holds old entries or new
//! ones, never torn ones. An entry whose blobs are gone is treated as absent.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::build::hash::Keyed;
use crate::plan::{Plan, Stage};
use crate::run::cache::file_sha256;

/// One stored artifact file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    /// Project-relative path, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Whether the file was executable; restored with the same bit.
    pub executable: bool,
}

/// A passed stage as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStage {
    pub stage: String,
    pub key: String,
    /// The run that produced it.
    pub run_id: String,
    pub duration_ms: u64,
    pub artifacts: Vec<ArtifactFile>,
    /// The test cases of the stage's result files, shown again when the result is reused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<crate::report::TestResult>,
}

/// The store: the shared cache area plus this project's "latest" pointers.
pub struct Store {
    cache: PathBuf,
    project: PathBuf,
}

impl Store {
    /// Opens the store in `paths::cache_dir("results")` for the project at `project`.
    pub fn open(project: &Path) -> Result<Store> {
        Ok(Store::open_in(&crate::paths::cache_dir("results")?, project))
    }

    /// Opens the store with its cache area at `cache`.
    pub fn open_in(cache: &Path, project: &Path) -> Store {
        Store {
            cache: cache.to_path_buf(),
            project: project.to_path_buf(),
        }
    }

    fn blob(&self, sha: &str) -> PathBuf {
        self.cache.join("blobs").join(&sha[..2]).join(sha)
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.cache.join("pipeline").join(format!("{key}.json"))
    }

    fn latest_path(&self, pipeline: &str, stage: &str) -> PathBuf {
        self.project
            .join("build/pipeline/latest")
            .join(safe_name(pipeline))
            .join(format!("{}.json", safe_name(stage)))
    }

    /// Stores the project file `rel` as a blob and describes it.
    pub fn put(&self, rel: &str) -> Result<ArtifactFile> {
        let abs = self.project.join(rel);
        let bytes = std::fs::read(&abs).with_context(|| format!("reading artifact {rel}"))?;
        let sha = crate::build::hash::sha256(&bytes);
        let blob = self.blob(&sha);
        if !blob.is_file() {
            crate::paths::write_atomic(&blob, &bytes)?;
        }
        let executable = std::fs::metadata(&abs)?.permissions().mode() & 0o111 != 0;
        Ok(ArtifactFile {
            path: rel.to_string(),
            sha256: sha,
            size: bytes.len() as u64,
            executable,
        })
    }

    /// The cached result for `key`, if every one of its blobs is still there.
    pub fn lookup(&self, key: &str) -> Option<StoredStage> {
        self.read_entry(&self.entry(key))
    }

    /// The last stored result of `stage` in `pipeline` in this project, whatever its key.
    pub fn latest(&self, pipeline: &str, stage: &str) -> Option<StoredStage> {
        self.read_entry(&self.latest_path(pipeline, stage))
    }

    fn read_entry(&self, path: &Path) -> Option<StoredStage> {
        let text = std::fs::read(path).ok()?;
        let stored: StoredStage = serde_json::from_slice(&text).ok()?;
        stored
            .artifacts
            .iter()
            .all(|a| self.blob(&a.sha256).is_file())
            .then_some(stored)
    }

    /// Records a passed stage under its key and as the project's latest for that stage.
    pub fn record(&self, pipeline: &str, stored: &StoredStage) -> Result<()> {
        let json = serde_json::to_vec_pretty(stored)?;
        crate::paths::write_atomic(&self.entry(&stored.key), &json)?;
        crate::paths::write_atomic(&self.latest_path(pipeline, &stored.stage), &json)
    }

    /// Writes stored artifacts back into the project tree, at their paths. Files that already
    /// hold the right bytes are left alone.
    pub fn restore(&self, files: &[ArtifactFile]) -> Result<()> {
        for f in files {
            let dest = self.project.join(&f.path);
            let same = std::fs::metadata(&dest).is_ok_and(|m| m.len() == f.size)
                && file_sha256(&dest).is_ok_and(|s| s == f.sha256);
            if !same {
                let bytes =
                    std::fs::read(self.blob(&f.sha256)).with_context(|| format!("reading stored {}", f.path))?;
                crate::paths::write_atomic(&dest, &bytes).with_context(|| format!("restoring {}", f.path))?;
            }
            let mode = if f.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }
}

/// What a stage's cache key is made of, beyond its own definition.
pub struct KeyInputs<'a> {
    /// The kernel the stage boots (catalog key), for VM stages.
    pub kernel: Option<&'a str>,
    /// Each dependency's name and stored artifacts.
    pub dependencies: Vec<(&'a str, &'a [ArtifactFile])>,
    /// Project-relative files matched by the stage's `inputs` globs, sorted.
    pub input_files: &'a [String],
}

/// The stage's result-cache key: sha256 over its definition (commands, VM spec, kernel and its
/// pinned sources, timeout), its dependencies' artifact bytes, its input files' bytes, orca's
/// version, and the orca binary itself when a command runs orca.
pub fn stage_key(plan: &Plan, stage: &Stage, root: &Path, k: &KeyInputs) -> Result<String> {
    let mut h = Fields(Keyed::new("pipeline-stage-v1"));
    h.field("version", env!("CARGO_PKG_VERSION").as_bytes());
    h.field("commands", serde_json::to_string(&stage.commands)?.as_bytes());
    h.field("artifacts", serde_json::to_string(&stage.artifacts)?.as_bytes());
    h.field("timeout", stage.timeout_secs.to_string().as_bytes());
    if let Some(vm) = stage.vm.as_deref() {
        h.field("vm", serde_json::to_string(&plan.vm(vm))?.as_bytes());
    }
    if let Some(kernel) = k.kernel {
        h.field("kernel", serde_json::to_string(&plan.kernel(kernel))?.as_bytes());
    }
    for (name, files) in &k.dependencies {
        h.field("dependency", name.as_bytes());
        for f in files.iter() {
            h.field(
                "artifact",
                format!("{} {} {}", f.path, f.sha256, f.executable).as_bytes(),
            );
        }
    }
    for rel in k.input_files {
        h.field("input", rel.as_bytes());
        h.field("bytes", file_sha256(&root.join(rel))?.as_bytes());
    }
    if stage.commands.iter().any(|c| runs_orca(c)) {
        h.field("orca-binary", crate::run::cache::orca_sha256()?.as_bytes());
    }
    Ok(h.0.finish())
}

/// Named, length-prefixed fields, so that no two different field lists hash alike.
struct Fields(Keyed);

impl Fields {
    fn field(&mut self, name: &str, value: &[u8]) {
        self.0.str(name).field(value);
    }
}

/// True when a shell command mentions orca as a word (`orca build`, `./target/debug/orca ...`).
fn runs_orca(command: &str) -> bool {
    command
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`' | '$' | '"' | '\''))
        .any(|w| w == "orca" || w.ends_with("/orca"))
}

/// A name made safe for one path component.
pub(super) fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_run_orca_are_recognised() {
        assert!(runs_orca("orca build"));
        assert!(runs_orca("cd x && ./target/debug/orca test"));
        assert!(runs_orca("sudo orca install"));
        assert!(!runs_orca("make orcas"));
        assert!(!runs_orca("echo killer-whale"));
    }
}
