//! Running a matrix: every selected cell from the result cache or in a guest, within the host's
//! budget, into one [`Report`].
//!
//! For each cell, in order:
//! 1. unavailable here (no kernel source, unknown image) → reported `n/a` with the reason;
//! 2. with the result cache in use, its key ([`cache::CellKey`]) is made from the plan, the
//!    guest's identity (the runner's [`CellRunner::guest`]) and the mounted trees (hashed once,
//!    before any cell runs); a stored result under that key is the cell's, marked cached;
//! 3. otherwise it waits for its kernel (each kernel is prepared once, ahead of the cells that
//!    need it, before any of their clocks start) and runs under the budget.
//!
//! After the run the mounted trees are hashed again: when no cell changed them, each passing
//! cell is stored under its key (a failure is never stored, so it always runs again).
//!
//! The guest is reached through a [`CellRunner`], so this file knows nothing of QEMU.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::budget::{Budget, Cost};
use super::cache::{self, ResultCache};
use super::classify::{self, CellOutput};
use super::command::{self, Resolved};
use super::expect::Expectations;
use super::live::Live;
use super::schedule;
use crate::plan::{self, Cell, Plan, TestSpec};
use crate::report::{CellResult, Outcome, Report};

/// One cell, ready for a guest.
pub struct Job<'a> {
    pub cell: &'a Cell,
    pub command: &'a Resolved,
    /// The VM spec the test names, if any: resources, mounts, modules, network.
    pub vm: Option<&'a plan::Vm>,
    /// The test's deadline under KVM; the runner scales it by the acceleration in use.
    pub timeout: Duration,
    /// Globs of the JUnit files the script writes (`results`), collected after it.
    pub results: &'a [String],
    /// Whether the guests the budget lets run at once have more vCPUs than the host has cores:
    /// then each guest's vCPUs had better share one host thread under TCG.
    pub crowded: bool,
}

/// Runs cells in guests. The matrix's only door to the VM layer.
pub trait CellRunner: Sync {
    /// A kernel made ready to boot.
    type Kernel: Send + Sync;
    /// Fetches and prepares a kernel; called once per kernel, before the clocks of its cells.
    fn prepare(&self, kernel: &plan::Kernel) -> Result<Self::Kernel>;
    /// What the cell reads from its guest beyond the plan, for the result cache: the image's
    /// content hash, the provisioned root it boots, the script's environment. `Ok(None)`: the
    /// cell boots the host's root, which orca cannot hash, so its result is never reused. An `Err`
    /// is what running the cell would have met (an image that cannot be had here).
    fn guest(&self, job: &Job) -> Result<Option<cache::Guest>>;
    /// Boots `kernel`, runs the job's command, shuts the guest down. The whole of it, boot
    /// included, must end within the job's timeout scaled for the acceleration in use. `state`
    /// reports progress (`booting`, `running`). An `Err` is an infrastructure failure (boot
    /// failure, guest panic, deadline).
    fn run(&self, kernel: &Self::Kernel, job: &Job, state: &dyn Fn(&str)) -> Result<CellOutput>;
    /// `kvm` or `tcg`, once known.
    fn accel(&self) -> Option<String>;
}

/// What a matrix run is asked to do.
pub struct Run<'a> {
    pub plan: &'a Plan,
    /// The project root: where the guest's commands run and the objects are.
    pub root: &'a Path,
    pub test: &'a TestSpec,
    /// The selected cells, in report order.
    pub cells: Vec<Cell>,
    /// `--test` globs, passed to the suite.
    pub tests: Vec<String>,
    pub budget: Budget,
    /// The result cache, unless the test block says `cache = false` (then nothing is looked up
    /// or stored).
    pub cache: Option<&'a ResultCache>,
    /// Whether stored results are taken (false with `--no-cache`: every cell runs, and passing
    /// ones are stored afresh).
    pub reuse: bool,
}

/// What the keys of a run's cells share.
struct Keying<'a> {
    store: &'a ResultCache,
    orca_sha256: String,
    /// The VM the cells boot with: the test's, or the default one.
    vm: plan::Vm,
    /// The mounted trees as they were before any cell ran.
    trees: Vec<cache::Tree>,
}

/// A cell that must run.
struct Pending<'a> {
    index: usize,
    cell: &'a Cell,
    kernel: &'a plan::Kernel,
    command: Resolved,
    /// What the runner said of the cell's guest, when the result cache is in use.
    guest: Option<Result<Option<cache::Guest>>>,
}

/// Kernels prepared at most once each, whoever asks first.
struct Kernels<'a, K> {
    slots: Vec<(&'a plan::Kernel, OnceLock<Prepared<K>>)>,
}

/// A kernel prepared for the cells, or why not with the failure's exit code.
type Prepared<K> = Result<K, (String, crate::error::Exit)>;

impl<'a, K> Kernels<'a, K> {
    /// The prepared kernel, or why not and the failure's exit code.
    fn get(&self, version: &str, runner: &impl CellRunner<Kernel = K>) -> Result<&K, &(String, crate::error::Exit)> {
        let (k, slot) = self
            .slots
            .iter()
            .find(|(k, _)| k.version == version)
            .expect("every pending kernel has a slot");
        slot.get_or_init(|| runner.prepare(k).map_err(|e| (chain(&e), crate::error::exit_of(&e))))
            .as_ref()
    }
}

/// Runs the matrix and returns its report. `Err` only for what stops the whole run (a bad
/// expectation, missing objects, Ctrl-C); a cell's own failure is in its result.
pub fn execute<R: CellRunner>(run: &Run, runner: &R) -> Result<Report> {
    let start = Instant::now();
    let expectations = Expectations::new(&run.test.expectations)?;
    if !run.tests.is_empty() && run.test.results.is_empty() {
        // Per-test results come from the JUnit files a test block declares in `results`; a cell
        // without them is one pass/fail, which `--test` cannot narrow.
        return Err(crate::error::usage(
            format!("--test {} cannot narrow these cells: their commands report no testcases", run.tests.join(" ")),
            "declare the JUnit files the test command writes with `results = [\"...\"]`, or drop --test",
        ));
    }
    let wanted: Vec<glob::Pattern> = run.tests.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect();
    let vm = run.test.vm.as_deref().and_then(|v| run.plan.vm(v));
    let ids: Vec<&str> = run.cells.iter().map(|c| c.id.as_str()).collect();
    let live = Live::new(&ids);

    let mut results: Vec<Option<CellResult>> = run.cells.iter().map(|_| None).collect();
    let mut pending = Vec::new();
    for (index, cell) in run.cells.iter().enumerate() {
        let resolved = command::resolve(&run.test.commands, run.root);
        let kernel = run.plan.kernel(&cell.kernel);
        let why_not = cell.unavailable.clone().or_else(|| {
            kernel
                .is_none()
                .then(|| format!("kernel {} is not in the catalog (configs/kernels.hcl)", cell.kernel))
        });
        let (Some(kernel), None) = (kernel, why_not.as_ref()) else {
            let r = classify::bare(cell, &cell.command, Outcome::Unavailable, why_not);
            live.finished(&r);
            results[index] = Some(r);
            continue;
        };
        pending.push(Pending {
            index,
            cell,
            kernel,
            command: resolved,
            guest: None,
        });
    }

    let mut kernels: Kernels<R::Kernel> = Kernels { slots: Vec::new() };
    for p in &pending {
        if !kernels.slots.iter().any(|(k, _)| k.version == p.kernel.version) {
            kernels.slots.push((p.kernel, OnceLock::new()));
        }
    }
    // A test without a VM spec boots with the VM layer's defaults.
    let cost = vm.map(|v| Cost::guest(v.cpus, v.memory_mib)).unwrap_or(Cost::guest(
        crate::vm::setup::DEFAULT_CPUS,
        crate::vm::setup::DEFAULT_MEMORY_MIB,
    ));
    let budget = if run.test.parallel {
        run.budget
    } else {
        run.budget.limit_jobs(1)
    };
    let timeout = Duration::from_secs(run.test.timeout_secs);
    let crowded = budget.crowded(cost, pending.len());
    let keying = match run.cache {
        Some(store) if run.test.cache && !pending.is_empty() => {
            // Each cell's guest first: the first use of an image builds it and pins it in the
            // project (configs/images.lock), orca's own write, before the trees are hashed.
            for p in &mut pending {
                live.state(&p.cell.id, "preparing image");
                let g = runner.guest(&job_of(p, vm, &run.test.results, timeout, crowded));
                p.guest = Some(g);
            }
            // Cells on the host's root have no key: nothing to hash for them.
            let keyed = pending.iter().any(|p| matches!(p.guest, Some(Ok(Some(_)))));
            keyed.then(|| keying(run, store, vm)).flatten()
        }
        _ => None,
    };
    let ran = std::thread::scope(|scope| {
        // Prepare kernels in the order cells need them, ahead of the cells.
        let kernels = &kernels;
        scope.spawn(move || {
            for (k, _) in &kernels.slots {
                if crate::process::interrupted() {
                    break;
                }
                let _ = kernels.get(&k.version, runner);
            }
        });
        schedule::run_all(
            pending,
            budget,
            |_| cost,
            |mut p: Pending| {
                let guest = p.guest.take();
                let job = job_of(&p, vm, &run.test.results, timeout, crowded);
                let t0 = Instant::now();
                let key_of = |g: &cache::Guest| {
                    keying.as_ref().map(|k| {
                        cache::CellKey {
                            format: cache::FORMAT,
                            orca: cache::VERSION,
                            orca_sha256: &k.orca_sha256,
                            entry: p.cell,
                            kernel: p.kernel,
                            test: run.test,
                            test_filters: &run.tests,
                            vm: &k.vm,
                            guest: g,
                            trees: &k.trees,
                        }
                        .key()
                    })
                };
                let hit = match &guest {
                    Some(Ok(Some(g))) if run.reuse => key_of(g).and_then(|key| keying.as_ref()?.store.get(&key)),
                    _ => None,
                };
                if let Some(mut r) = hit {
                    r.id = p.cell.id.clone();
                    live.finished(&r);
                    return (p.index, r, None);
                }
                let keyed = matches!(guest, Some(Ok(Some(_))));
                let r = match guest {
                    Some(Err(e)) => failed(p.cell, &e),
                    _ => {
                        live.state(&p.cell.id, &format!("preparing kernel {}", p.kernel.version));
                        match kernels.get(&p.kernel.version, runner) {
                            // A kernel that cannot be had here (its archive out of reach, unpinned, not the
                            // pinned bytes: exit 4) makes its cells unavailable, with why; any other failure to
                            // prepare it is an error.
                            Err((why, crate::error::Exit::KernelUnavailable)) => {
                                classify::bare(p.cell, &p.cell.command, Outcome::Unavailable, Some(why.clone()))
                            }
                            Err((why, _)) => {
                                let msg = format!("kernel {} could not be prepared: {why}", p.kernel.version);
                                classify::bare(p.cell, &p.cell.command, Outcome::Error, Some(msg))
                            }
                            Ok(k) => {
                                live.started(&p.cell.id);
                                let out = runner.run(k, &job, &|s| live.state(&p.cell.id, s));
                                let mut r = match out {
                                    Ok(o) => classify::script(
                                        p.cell,
                                        &p.cell.command,
                                        &o,
                                        run.test.commands.len(),
                                        &expectations,
                                    ),
                                    Err(e) => failed(p.cell, &e),
                                };
                                r.duration_ms = t0.elapsed().as_millis() as u64;
                                if !wanted.is_empty() && !r.tests.is_empty() {
                                    // `--test`: only the testcases the globs name, and the cell as
                                    // bad as the worst of those.
                                    r.tests.retain(|t| wanted.iter().any(|g| g.matches(&t.name)));
                                    if r.outcome != Outcome::Error {
                                        r.outcome = Outcome::of_tests(r.tests.iter().map(|t| t.outcome));
                                    }
                                }
                                r
                            }
                        }
                    }
                };
                // Stored under the guest as it is now: a cell that provisioned its image ran on
                // what is now its kept root.
                let key = match r.outcome {
                    Outcome::Pass if keyed && keying.is_some() => {
                        live.state(&p.cell.id, "keeping the result");
                        runner.guest(&job).ok().flatten().and_then(|g| key_of(&g))
                    }
                    _ => None,
                };
                live.finished(&r);
                (p.index, r, key)
            },
        )
    });
    drop(live);
    crate::process::check_interrupted()?;
    let mut keep = Vec::new();
    for (index, r, key) in ran.into_iter().flatten() {
        if let Some(key) = key {
            keep.push((key, index));
        }
        results[index] = Some(r);
    }
    if let Some(k) = &keying
        && !keep.is_empty()
    {
        store(run, k, &keep, &results);
    }
    Ok(Report {
        kind: "matrix".into(),
        backend: "native".into(),
        accel: runner.accel(),
        wall_ms: start.elapsed().as_millis() as u64,
        cells: results
            .into_iter()
            .map(|r| r.expect("every cell has a result after an uninterrupted run"))
            .collect(),
    })
}

fn job_of<'j>(
    p: &'j Pending,
    vm: Option<&'j plan::Vm>,
    results: &'j [String],
    timeout: Duration,
    crowded: bool,
) -> Job<'j> {
    Job {
        cell: p.cell,
        command: &p.command,
        vm,
        results,
        timeout,
        crowded,
    }
}

/// What the keys of this run's cells share, or `None` (said once) when the result cache cannot
/// be used: the orca binary or a mounted folder cannot be read.
fn keying<'a>(run: &Run, store: &'a ResultCache, vm: Option<&plan::Vm>) -> Option<Keying<'a>> {
    let vm = vm.cloned().unwrap_or_else(|| plan::Vm::default_for_tests(run.root));
    let made = cache::orca_sha256().and_then(|orca_sha256| {
        let trees = cache::trees(run.plan, run.root, &vm)?;
        Ok(Keying {
            store,
            orca_sha256,
            vm,
            trees,
        })
    });
    match made {
        Ok(k) => Some(k),
        Err(e) => {
            crate::ui::warn(format!("the result cache is not used in this run: {}", chain(&e)));
            None
        }
    }
}

/// Stores the passing cells `keep` (key, index into `results`), unless a cell changed a mounted
/// tree: then the keys no longer say what the cells saw, and nothing is kept.
fn store(run: &Run, k: &Keying, keep: &[(String, usize)], results: &[Option<CellResult>]) {
    match cache::trees(run.plan, run.root, &k.vm) {
        Ok(after) if after == k.trees => {}
        Ok(_) => {
            crate::ui::warn(
                "a mounted folder changed while the cells ran (a cell wrote files the project's .gitignore does not ignore): no result of this run is kept in the result cache",
            );
            return;
        }
        Err(e) => {
            crate::ui::warn(format!("no result of this run is kept in the result cache: {}", chain(&e)));
            return;
        }
    }
    for (key, index) in keep {
        if let Some(r) = &results[*index]
            && let Err(e) = k.store.put(key, r)
        {
            crate::ui::warn(format!("cell {}: its result is not kept in the result cache: {}", r.id, chain(&e)));
        }
    }
}

/// A cell's result when its guest could not be had or run: unavailable (an image or kernel that
/// cannot be had here, with why) or an infrastructure error.
fn failed(cell: &Cell, e: &anyhow::Error) -> CellResult {
    let outcome = match crate::error::exit_of(e) {
        crate::error::Exit::KernelUnavailable => Outcome::Unavailable,
        _ => Outcome::Error,
    };
    classify::bare(cell, &cell.command, outcome, Some(chain(e)))
}

/// An error's chain as one line.
fn chain(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

#[cfg(test)]
#[path = "matrix_tests.rs"]
mod tests;
