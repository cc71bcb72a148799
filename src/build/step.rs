//! Building one program: up to date, else from the cache, else with clang.

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Instant;

use super::cache::ObjectCache;
use super::hash::{FileHashes, Keyed, sha256};
use super::record::{self, Input, Record};
use super::stage::Stage;
use super::toolchain::Clang;
use super::validate::{ObjectInfo, validate};
use super::{Outcome, ProgramResult, compile};
use crate::error::{Exit, exit_of};
use crate::plan::{Program, Toolchain};

/// What every program of one build shares.
pub(super) struct Ctx<'a> {
    pub root: &'a Path,
    pub tc: &'a Toolchain,
    pub clang: &'a Clang,
    pub cache: &'a ObjectCache,
    pub out_dir: PathBuf,
    pub hashes: FileHashes,
    /// The names of the headers in the project's include and source directories (see `mod.rs`).
    pub headers: String,
    /// The programs of this build, and the stage, made when the first of them needs clang.
    pub programs: &'a [Program],
    pub stage: OnceLock<Result<Stage, String>>,
    /// Where compiled objects go to be written into the cache.
    pub store: mpsc::Sender<Store>,
}

/// An object to write into the cache, with the input list for its manifest.
pub(super) struct Store {
    pub program: String,
    pub key: String,
    pub manifest_key: String,
    pub inputs: Vec<String>,
    pub object: Vec<u8>,
}

impl Store {
    /// Writes the entry, then the manifest that leads to it. A failure costs a later cache miss,
    /// not the build.
    pub fn write(&self, cache: &ObjectCache) {
        let r = cache
            .put(&self.key, &self.object)
            .and_then(|_| cache.add_variant(&self.manifest_key, &self.inputs));
        if let Err(e) = r {
            crate::ui::warn(format!("{}: not stored in the object cache: {e:#}", self.program));
        }
    }
}

impl Ctx<'_> {
    fn stage(&self) -> anyhow::Result<&Stage> {
        self.stage
            .get_or_init(|| {
                let files = super::stage::files_to_stage(self.root, self.tc, self.programs);
                Stage::create(self.root, &files).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| crate::fail!(Exit::Infra, "{e}"))
    }
}

pub(super) fn build_one(ctx: &Ctx<'_>, program: &Program) -> ProgramResult {
    let start = Instant::now();
    let mut r = ProgramResult::new(program);
    let done = |mut r: ProgramResult, outcome: Outcome| {
        r.outcome = outcome;
        r.seconds = start.elapsed().as_secs_f64();
        r
    };
    match run(ctx, program) {
        Ok((outcome, object, info, warnings)) => {
            r.sha256 = Some(sha256(&object));
            r.size = Some(object.len() as u64);
            r.info = Some(info);
            r.warnings = warnings.filter(|w| !w.trim().is_empty());
            done(r, outcome)
        }
        Err(e) => {
            r.exit = exit_of(&e);
            // A program that fails to compile or validate leaves no object behind: a stale one
            // would be loaded as if it were current. An interrupted build leaves objects alone.
            if r.exit == Exit::TestFailed {
                let _ = std::fs::remove_file(ctx.root.join(&program.object));
                record::remove(&ctx.out_dir, &program.name);
            }
            let mut text = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            if let Some(h) = crate::error::find_fail(&e).and_then(|f| f.hint.as_ref()) {
                text.push_str(&format!("\nhint: {h}"));
            }
            r.error = Some(text);
            done(r, Outcome::Failed)
        }
    }
}

type Built = (Outcome, Vec<u8>, ObjectInfo, Option<String>);

fn run(ctx: &Ctx<'_>, program: &Program) -> anyhow::Result<Built> {
    crate::process::check_interrupted()?;
    if !ctx.root.join(&program.source).is_file() {
        return Err(crate::error::Fail::new(
            Exit::Usage,
            format!(
                "{} does not exist (the source of program \"{}\")",
                program.source.display(),
                program.name
            ),
        )
        .hint("fix `source` in the program's block in configs/, or create the file")
        .into());
    }
    let key_args = compile::args(ctx.root, Path::new(compile::KEY_DIR), ctx.tc, program);
    let mkey = manifest_key(ctx, &key_args, program);
    let out = ctx.root.join(&program.object);

    // 1. Up to date: same manifest key, same input bytes, object untouched.
    let rec = record::load(&ctx.out_dir, &program.name).filter(|r| r.manifest_key == mkey);
    if let Some(rec) = &rec
        && rec
            .inputs
            .iter()
            .all(|i| ctx.hashes.get(&ctx.root.join(&i.path)).as_deref() == Some(i.sha256.as_str()))
        && let Ok(bytes) = std::fs::read(&out)
        && sha256(&bytes) == rec.object_sha256
    {
        return Ok((Outcome::UpToDate, bytes, rec.info.clone(), None));
    }

    // 2. The cache: for each input list this source had, hash the inputs and look the key up.
    let mut lists: Vec<Vec<String>> = rec
        .iter()
        .map(|r| r.inputs.iter().map(|i| i.path.clone()).collect())
        .collect();
    lists.extend(ctx.cache.variants(&mkey));
    for list in &lists {
        let Some(inputs) = hash_all(ctx, list) else { continue };
        let key = object_key(&mkey, &inputs);
        if let Some(bytes) = ctx.cache.get(&key)
            && let Ok(info) = validate(&bytes)
        {
            super::files::install(&out, &bytes)?;
            let rec = Record {
                schema: super::cache::SCHEMA,
                manifest_key: mkey,
                key,
                inputs,
                object_sha256: sha256(&bytes),
                info: info.clone(),
            };
            record::store(&ctx.out_dir, &program.name, &rec)?;
            return Ok((Outcome::Cached, bytes, info, None));
        }
    }

    // 3. clang.
    let stage = ctx.stage()?;
    let args = compile::args(ctx.root, stage.path(), ctx.tc, program);
    let c = compile::compile(ctx.clang, stage.path(), &args, &compile::Env::default(), program)?;
    let info = validate(&c.object).map_err(|m| crate::fail!(Exit::TestFailed, "{} {m}", program.object.display()))?;
    let (inputs, stable) = hash_after(ctx, stage, &c);
    let key = object_key(&mkey, &inputs);
    super::files::install(&out, &c.object)?;
    if stable {
        // Stored by the cache writer thread while the next program compiles (see `mod.rs`).
        let _ = ctx.store.send(Store {
            program: program.name.clone(),
            key: key.clone(),
            manifest_key: mkey.clone(),
            inputs: c.inputs.clone(),
            object: c.object.clone(),
        });
        let rec = Record {
            schema: super::cache::SCHEMA,
            manifest_key: mkey,
            key,
            inputs,
            object_sha256: sha256(&c.object),
            info: info.clone(),
        };
        record::store(&ctx.out_dir, &program.name, &rec)?;
    } else {
        crate::ui::warn(format!(
            "{}: its sources changed while clang ran; the object is not cached and will be rebuilt next time",
            program.name
        ));
        record::remove(&ctx.out_dir, &program.name);
    }
    Ok((Outcome::Built, c.object, info, Some(c.warnings)))
}

/// Everything an object depends on except its inputs' bytes.
fn manifest_key(ctx: &Ctx<'_>, canonical_args: &[String], program: &Program) -> String {
    let mut k = Keyed::new("manifest");
    k.str(&super::cache::SCHEMA.to_string())
        .str(&ctx.clang.identity())
        .str(&ctx.headers);
    k.str(&program.source.display().to_string());
    for a in canonical_args {
        k.str(a);
    }
    k.finish()
}

/// The object key: the manifest key and every input's path and content hash, in clang's order.
fn object_key(mkey: &str, inputs: &[Input]) -> String {
    let mut k = Keyed::new("object");
    k.str(mkey);
    for i in inputs {
        k.str(&i.path).str(&i.sha256);
    }
    k.finish()
}

/// Hashes of every file in `list`, or `None` when one is gone.
fn hash_all(ctx: &Ctx<'_>, list: &[String]) -> Option<Vec<Input>> {
    list.iter()
        .map(|p| {
            ctx.hashes.get(&ctx.root.join(p)).map(|sha256| Input {
                path: p.clone(),
                sha256,
            })
        })
        .collect()
}

/// Hashes the inputs clang reported, and says whether the hashes are certainly of what clang
/// read. Staged copies are (clang read them and nothing else touches them). Other inputs (system
/// headers, files reached through the stage's symlinks) must not have been modified after clang
/// started, nor differ from the hash this build took before. An edit racing the build must not
/// put a wrongly keyed object in the cache.
fn hash_after(ctx: &Ctx<'_>, stage: &Stage, c: &compile::Compiled) -> (Vec<Input>, bool) {
    let mut stable = true;
    let mut inputs = Vec::with_capacity(c.inputs.len());
    for p in &c.inputs {
        if stage.holds(p) {
            let sha = super::hash::file_sha256(&stage.path().join(p)).ok();
            stable &= sha.is_some();
            inputs.push(Input {
                path: p.clone(),
                sha256: sha.unwrap_or_default(),
            });
            continue;
        }
        let path = ctx.root.join(p);
        let sha = super::hash::file_sha256(&path).ok();
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let before = ctx.hashes.peek(&path);
        if sha.is_none() || modified.is_none_or(|m| m > c.started) || before.is_some_and(|b| b != sha) {
            stable = false;
        }
        inputs.push(Input {
            path: p.clone(),
            sha256: sha.unwrap_or_default(),
        });
    }
    (inputs, stable)
}
