//! The pipeline executor: a pipeline's stages run as a DAG.
//!
//! - Stages start as soon as their dependencies passed, in parallel within the host's budget
//!   (a host stage takes one CPU; a VM stage its VM's CPUs and memory).
//! - Before a stage runs, its dependencies' artifacts are restored into the project tree at their
//!   paths; VM stages see them too, since the guest sees the host's tree.
//! - A stage whose key ([`cache::stage_key`]) is in the result cache is not run: it is reported as
//!   cached and its artifacts are restored.
//! - A failed stage's dependants are skipped with the reason; independent branches still finish.
//! - `--from`/`--only` narrow the run: the chosen stages always run, the stages they need come
//!   from the cache or their last stored result, and the rest are reported as not selected.
//! - Each stage's output goes to `build/pipeline/logs/<stage>.log` (characters a file name
//!   cannot hold become `_`).

mod cache;
mod files;
mod host;
pub mod junit;
mod select;
pub mod summary;
mod view;
mod vm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::budget::{Budget, Cost};
use crate::plan::{Pipeline, Plan, Stage};
use crate::report::{CellResult, Outcome, Report};
use cache::{ArtifactFile, KeyInputs, Store, StoredStage};
use host::Ran;
use select::Selection;
use view::View;

/// How to run a pipeline.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project root: commands run here and artifact paths are relative to it.
    pub root: PathBuf,
    /// `--from STAGE`: it and its dependants run.
    pub from: Option<String>,
    /// `--only STAGE`: only it runs.
    pub only: Option<String>,
    /// At most this many stages at once. Default: the host's CPU and memory budget alone.
    pub jobs: Option<usize>,
    /// Run every selected stage even when the cache has it.
    pub no_cache: bool,
    /// Acceleration for VM stages: `auto`, `kvm` or `tcg`.
    pub accel: String,
    /// Where the result cache lives. Default: `paths::cache_dir("results")`.
    pub cache_dir: Option<PathBuf>,
}

/// A stage that has ended, and the artifacts its dependants may use (`None`: they may not run).
struct Done {
    result: CellResult,
    artifacts: Option<Vec<ArtifactFile>>,
}

/// What the workers share.
struct Ctx {
    plan: Plan,
    pipeline: String,
    root: PathBuf,
    store: Store,
    run_id: String,
    logs: PathBuf,
    accel: String,
    /// The acceleration VM stages actually got (`kvm` or `tcg`), once one booted.
    resolved_accel: std::sync::Mutex<Option<String>>,
    env: Vec<(String, String)>,
}

/// Runs `pipeline` from `plan`. The report has one cell per stage, in the pipeline's order; its
/// `exit_code()` is the run's.
pub fn run(plan: &Plan, pipeline: &Pipeline, opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let selection = select::select(pipeline, opts.from.as_deref(), opts.only.as_deref())?;
    let logs = opts.root.join("build/pipeline/logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let run_id = run_id();
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        pipeline: pipeline.name.clone(),
        root: opts.root.clone(),
        store: match &opts.cache_dir {
            Some(c) => Store::open_in(c, &opts.root),
            None => Store::open(&opts.root)?,
        },
        env: stage_env(&pipeline.name, &run_id, &opts.root),
        run_id,
        logs,
        accel: opts.accel.clone(),
        resolved_accel: Default::default(),
    });
    let stage = |n: &str| pipeline.stages.iter().find(|s| s.name == n);
    // The matrix's budget: one stage per core, VM stages within the vCPUs and memory available.
    let budget = match opts.jobs {
        Some(j) => Budget::from_host().limit_jobs(j),
        None => Budget::from_host(),
    };
    let mut view = View::new();
    let mut done: HashMap<String, Done> = HashMap::new();
    let mut ready: Vec<(String, String, Option<String>)> = Vec::new();
    let mut running: HashMap<String, Cost> = HashMap::new();
    let (tx, rx) = mpsc::channel::<(String, Done)>();

    loop {
        // Settle every stage whose dependencies have ended: skipped, cached, or ready to run.
        for name in &pipeline.order {
            let Some(s) = stage(name) else { continue };
            if done.contains_key(name) || running.contains_key(name) || ready.iter().any(|r| &r.0 == name) {
                continue;
            }
            if !s.dependencies.iter().all(|d| done.contains_key(d)) {
                continue;
            }
            match prepare(&ctx, pipeline, s, selection.as_ref(), opts.no_cache, &done) {
                Ok(Prepared::Settled(d)) => {
                    let d = *d;
                    view.finished(&d.result);
                    done.insert(name.clone(), d);
                }
                Ok(Prepared::Run { key, kernel }) => ready.push((name.clone(), key, kernel)),
                Err(e) => {
                    let d = settled(s, Outcome::Error, format!("{e:#}"), None);
                    view.finished(&d.result);
                    done.insert(name.clone(), d);
                }
            }
        }
        // Start what the budget allows, in order; a smaller stage may pass a bigger waiting one.
        let mut i = 0;
        while i < ready.len() {
            let s = stage(&ready[i].0).expect("ready stages exist");
            let cost = cost(&ctx.plan, s);
            if !fits(&budget, &running, cost) {
                i += 1;
                continue;
            }
            let (name, key, kernel) = ready.remove(i);
            view.started(&name, &place(s, kernel.as_deref()));
            let busy: u32 = running.values().map(|c| c.cpus).sum();
            let crowded = busy + cost.cpus > budget.cores();
            running.insert(name.clone(), cost);
            let (ctx, s, tx) = (ctx.clone(), s.clone(), tx.clone());
            std::thread::spawn(move || {
                // A panic must still report the stage, or the loop would wait for it forever.
                let run = std::panic::AssertUnwindSafe(|| execute(&ctx, &s, key, kernel, crowded));
                let d = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                    settled(&s, Outcome::Error, "orca failed while running the stage".into(), None)
                });
                let _ = tx.send((s.name.clone(), d));
            });
        }
        if running.is_empty() && ready.is_empty() {
            break;
        }
        if let Ok((name, d)) = rx.recv_timeout(Duration::from_millis(200)) {
            running.remove(&name);
            view.finished(&d.result);
            done.insert(name, d);
        }
    }
    drop(view);
    crate::process::check_interrupted()?;

    let cells = pipeline
        .stages
        .iter()
        .map(|s| match done.remove(&s.name) {
            Some(d) => d.result,
            // Only a plan that bypassed validation (a cycle, an unknown dependency) gets here.
            None => {
                settled(
                    s,
                    Outcome::Error,
                    "never became ready: its dependencies form a cycle or name no stage".into(),
                    None,
                )
                .result
            }
        })
        .collect::<Vec<_>>();
    let order: HashMap<&str, usize> = pipeline
        .order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut cells = cells;
    cells.sort_by_key(|c| order.get(c.id.as_str()).copied().unwrap_or(usize::MAX));
    let accel = ctx.resolved_accel.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(Report {
        kind: format!("pipeline:{}", pipeline.name),
        backend: "native".into(),
        accel,
        wall_ms: started.elapsed().as_millis() as u64,
        cells,
    })
}

enum Prepared {
    Settled(Box<Done>),
    Run { key: String, kernel: Option<String> },
}

/// Decides what becomes of a stage whose dependencies have all ended.
fn prepare(
    ctx: &Ctx,
    pipeline: &Pipeline,
    s: &Stage,
    sel: Option<&Selection>,
    no_cache: bool,
    done: &HashMap<String, Done>,
) -> Result<Prepared> {
    if crate::process::interrupted() {
        return Ok(Prepared::Settled(Box::new(settled(s, Outcome::Skip, "interrupted".into(), None))));
    }
    if let Some(sel) = sel
        && !sel.run.contains(&s.name)
        && !sel.needed.contains(&s.name)
    {
        return Ok(Prepared::Settled(Box::new(settled(
            s,
            Outcome::Skip,
            format!("not selected ({})", sel.label),
            None,
        ))));
    }
    for d in &s.dependencies {
        let dep = &done[d];
        if dep.artifacts.is_none() {
            let (outcome, why) = match dep.result.outcome {
                Outcome::Skip
                    if dep
                        .result
                        .message
                        .as_deref()
                        .is_some_and(|m| m.starts_with("not selected")) =>
                {
                    (
                        Outcome::Error,
                        format!("dependency {d} has no stored result; run it first (e.g. `--from {d}`)"),
                    )
                }
                Outcome::Skip | Outcome::Unavailable => (
                    Outcome::Skip,
                    format!(
                        "dependency {d} did not run: {}",
                        dep.result.message.as_deref().unwrap_or("skipped")
                    ),
                ),
                _ => (Outcome::Skip, format!("dependency {d} failed")),
            };
            return Ok(Prepared::Settled(Box::new(settled(s, outcome, why, None))));
        }
    }
    let kernel = match stage_kernel(&ctx.plan, s) {
        Ok(k) => k,
        Err(why) => return Ok(Prepared::Settled(Box::new(settled(s, Outcome::Unavailable, why, None)))),
    };
    // A stage sees the artifacts of every stage before it, not only of its direct dependencies:
    // `integration` after `unit` after `build` reads build's objects.
    let ancestors = ancestors(pipeline, s);
    let artifacts_of = |d: &str| done.get(d).and_then(|x| x.artifacts.as_deref()).unwrap_or_default();
    for d in &ancestors {
        ctx.store
            .restore(artifacts_of(d))
            .with_context(|| format!("restoring the artifacts of {d}"))?;
    }
    let inputs = files::expand(&ctx.root, &s.inputs, false).map_err(|e| anyhow::anyhow!("inputs: {e}"))?;
    let deps: Vec<(&str, &[ArtifactFile])> = ancestors.iter().map(|d| (d.as_str(), artifacts_of(d))).collect();
    let key = cache::stage_key(
        &ctx.plan,
        s,
        &ctx.root,
        &KeyInputs {
            kernel: kernel.as_deref(),
            dependencies: deps,
            input_files: &inputs,
        },
    )?;
    let forced = sel.is_some_and(|sel| sel.run.contains(&s.name));
    if !forced
        && !no_cache
        && let Some(stored) = ctx.store.lookup(&key)
    {
        ctx.store
            .restore(&stored.artifacts)
            .with_context(|| format!("restoring the cached artifacts of {}", s.name))?;
        let mut d = settled(
            s,
            Outcome::Pass,
            format!("cached from run {}", stored.run_id),
            Some(stored.artifacts),
        );
        d.result.cached = true;
        d.result.duration_ms = stored.duration_ms;
        d.result.tests = stored.tests;
        d.result.kernel = kernel;
        return Ok(Prepared::Settled(Box::new(d)));
    }
    if let Some(sel) = sel.filter(|sel| !sel.run.contains(&s.name)) {
        // Needed by the selection but not part of it: its last stored result stands in.
        return Ok(Prepared::Settled(Box::new(match ctx.store.latest(&ctx.pipeline, &s.name) {
            Some(stored) => {
                ctx.store.restore(&stored.artifacts)?;
                let why = format!(
                    "not selected ({}); artifacts restored from run {}",
                    sel.label, stored.run_id
                );
                settled(s, Outcome::Skip, why, Some(stored.artifacts))
            }
            None => settled(
                s,
                Outcome::Skip,
                format!("not selected ({}) and no stored result", sel.label),
                None,
            ),
        })));
    }
    Ok(Prepared::Run { key, kernel })
}

/// Runs one stage to its end (in a worker thread) and stores its artifacts if it passed.
/// Runs one stage. `crowded`: the stages running beside it already hold the host's cores, so a
/// VM stage's guest runs single-threaded TCG (see `VmConfig::tcg_single_thread`).
fn execute(ctx: &Ctx, s: &Stage, key: String, kernel: Option<String>, crowded: bool) -> Done {
    let start = Instant::now();
    let log_path = ctx.logs.join(format!("{}.log", cache::safe_name(&s.name)));
    let mut env = ctx.env.clone();
    env.push(("ORCA_STAGE".to_string(), s.name.clone()));
    let ran = match std::fs::File::create(&log_path) {
        Err(e) => Ran::new(Outcome::Error, format!("cannot write {}: {e}", log_path.display())),
        Ok(mut log) => match &s.vm {
            None => {
                let deadline = start + Duration::from_secs(s.timeout_secs);
                host::run(&s.commands, &s.results, &ctx.root, &env, &mut log, deadline)
            }
            Some(vm) => {
                let guest = vm::Guest {
                    plan: &ctx.plan,
                    vm,
                    kernel: kernel.as_deref().unwrap_or_default(),
                    accel: &ctx.accel,
                    root: &ctx.root,
                    env: &env,
                    crowded,
                };
                vm::run(&guest, s, &mut log)
            }
        },
    };
    let mut artifacts = None;
    let ran = if ran.outcome == Outcome::Pass {
        match store_artifacts(ctx, s, &key, start.elapsed(), &ran.tests) {
            Ok(a) => {
                artifacts = Some(a);
                ran
            }
            Err(why) => Ran::new(Outcome::Fail, why),
        }
    } else {
        ran
    };
    let output = (ran.outcome != Outcome::Pass)
        .then(|| log_tail(&log_path, 40))
        .flatten();
    if let Some(a) = &ran.accel {
        *ctx.resolved_accel.lock().unwrap_or_else(|e| e.into_inner()) = Some(a.clone());
    }
    let mut d = settled(s, ran.outcome, ran.message.unwrap_or_default(), artifacts);
    d.result.duration_ms = start.elapsed().as_millis() as u64;
    d.result.kernel = kernel;
    d.result.release = ran.release;
    d.result.flaky = ran.flaky;
    d.result.output = output;
    d.result.steps = ran.steps;
    d.result.tests = ran.tests;
    if d.result.outcome == Outcome::Pass {
        d.result.message = None;
    }
    d
}

fn store_artifacts(
    ctx: &Ctx,
    s: &Stage,
    key: &str,
    took: Duration,
    tests: &[crate::report::TestResult],
) -> Result<Vec<ArtifactFile>, String> {
    let rels = files::expand(&ctx.root, &s.artifacts, true).map_err(|e| format!("artifact {e}"))?;
    let mut out = Vec::new();
    for rel in &rels {
        out.push(
            ctx.store
                .put(rel)
                .map_err(|e| format!("storing artifact {rel}: {e:#}"))?,
        );
    }
    let stored = StoredStage {
        stage: s.name.clone(),
        key: key.to_string(),
        run_id: ctx.run_id.clone(),
        duration_ms: took.as_millis() as u64,
        artifacts: out.clone(),
        tests: tests.to_vec(),
    };
    ctx.store
        .record(&ctx.pipeline, &stored)
        .map_err(|e| format!("recording the result: {e:#}"))?;
    Ok(out)
}

/// A stage's result with everything but the outcome left at its default.
fn settled(s: &Stage, outcome: Outcome, message: String, artifacts: Option<Vec<ArtifactFile>>) -> Done {
    let result = CellResult {
        id: s.name.clone(),
        kernel: None,
        release: None,
        command: s.commands.join("\n"),
        outcome,
        duration_ms: 0,
        cached: false,
        tests: vec![],
        message: (!message.is_empty()).then_some(message),
        output: None,
        steps: Vec::new(),
        flaky: None,
    };
    Done { result, artifacts }
}

/// The kernel a VM stage boots: its own, else its VM's, else the catalog's newest with sources.
fn stage_kernel(plan: &Plan, s: &Stage) -> Result<Option<String>, String> {
    let Some(vm) = &s.vm else { return Ok(None) };
    let spec = plan
        .vm(vm)
        .ok_or_else(|| format!("VM `{vm}` is not defined in the specs"))?;
    match s.kernel.clone().or_else(|| spec.kernel.clone()) {
        Some(k) => match plan.kernel(&k) {
            Some(kk) if !kk.sources.is_empty() => Ok(Some(k)),
            _ => Err(format!("kernel {k} has no source in the catalog for this host")),
        },
        None => plan
            .newest_kernel()
            .map(|k| Some(k.version.clone()))
            .ok_or_else(|| "no kernel in the catalog has a source for this host".to_string()),
    }
}

/// Every stage `s` depends on, directly or not, in the pipeline's order.
fn ancestors(p: &Pipeline, s: &Stage) -> Vec<String> {
    let mut found: Vec<&str> = Vec::new();
    let mut todo: Vec<&str> = s.dependencies.iter().map(String::as_str).collect();
    while let Some(n) = todo.pop() {
        if !found.contains(&n) {
            found.push(n);
            todo.extend(
                p.stages
                    .iter()
                    .filter(|x| x.name == n)
                    .flat_map(|x| x.dependencies.iter().map(String::as_str)),
            );
        }
    }
    p.order
        .iter()
        .filter(|n| found.contains(&n.as_str()))
        .cloned()
        .collect()
}

fn place(s: &Stage, kernel: Option<&str>) -> String {
    match &s.vm {
        None => "host".into(),
        Some(vm) => format!("vm {vm}, kernel {}", kernel.unwrap_or("?")),
    }
}

/// The environment every stage command gets (plus `ORCA_STAGE`, the stage's name). PATH starts with this orca's folder, so a stage
/// that runs `orca` runs the same binary the cache key hashed.
fn stage_env(pipeline: &str, run_id: &str, root: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("ORCA_PIPELINE".to_string(), pipeline.to_string()),
        ("ORCA_RUN_ID".to_string(), run_id.to_string()),
        ("ORCA_PROJECT_ROOT".to_string(), root.display().to_string()),
    ];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let path = std::env::var("PATH").unwrap_or_default();
        env.push(("PATH".to_string(), format!("{}:{path}", dir.display())));
    }
    env
}

fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}-{}", std::process::id())
}

fn log_tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    let tail: Vec<&str> = text.lines().rev().take(lines).collect();
    Some(tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
}

/// What a running stage takes from the host: a core for a host stage, its VM for a VM stage.
fn cost(plan: &Plan, s: &Stage) -> Cost {
    match s.vm.as_deref().and_then(|v| plan.vm(v)) {
        Some(vm) => Cost::guest(vm.cpus, vm.memory_mib),
        None => Cost { cpus: 1, memory_mib: 0 },
    }
}

/// Whether a stage costing `next` may start beside the running ones.
fn fits(budget: &Budget, running: &HashMap<String, Cost>, next: Cost) -> bool {
    let used = running.values().fold(Cost::default(), |a, c| Cost {
        cpus: a.cpus + c.cpus,
        memory_mib: a.memory_mib + c.memory_mib,
    });
    budget.fits(running.len(), used, next)
}

#[cfg(test)]
mod tests;
