//! `orca matrix run` and `orca test`: build the objects, run the cells, print the table, write
//! the JUnit and JSON reports.
//!
//! Exit codes: 0 every cell matched its expectations · 1 a test failed (or passed where it was
//! expected to fail, or its command panicked the guest, or a program failed to build) · 2 bad
//! arguments or specs · 3 an infrastructure failure (a guest failed to boot twice or passed its
//! deadline, a kernel could not be prepared) and no test failed · 4 a cell could not run here (no
//! kernel source, unknown image) and nothing failed, unless `--allow-unavailable`; `orca test` on
//! a kernel this host cannot have · 130 Ctrl-C.

use std::path::Path;

use anyhow::Result;

use super::{Backend, MatrixRunArgs, ReportOpts, TestArgs};
use crate::error::{Exit, usage};
use crate::plan::{self, Cell, Plan, TestSpec};
use crate::report::{self, Report};
use crate::run::budget::Budget;
use crate::run::guest::GuestRunner;
use crate::run::matrix;
use crate::run::select;
use crate::run::shard::Shard;
use crate::{fail, ui};

/// The matrix file `orca matrix run` takes when none is given.
const DEFAULT_MATRIX: &str = "configs/ebpf-test-matrix.hcl";

pub fn run(a: MatrixRunArgs) -> Result<u8> {
    let shard = a.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    check_jobs(a.jobs)?;
    select::test_globs(&a.tests)?;
    let root = crate::paths::project_root();
    // A folder stands for its one file that declares the matrix.
    let file = match &a.file {
        Some(f) if f.is_dir() => Some(plan::load::pick(f, "test_matrix")?),
        Some(f) if !f.is_file() => {
            return Err(usage(
                format!("no matrix file at {}", f.display()),
                format!("name one, such as {DEFAULT_MATRIX}"),
            ));
        }
        other => other.clone(),
    };
    let (plan, base) = match &file {
        Some(f) => {
            let files = plan::load::with_project(&root, std::slice::from_ref(f))?;
            (plan::load(&files)?, plan::load::plan_root(&files))
        }
        None => (plan::load_project(&root)?, root.clone()),
    };
    let Some(m) = plan.matrix.as_ref() else {
        let searched = file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "configs/*.hcl".into());
        return Err(usage(
            format!("no `test_matrix` in {searched}"),
            format!(
                "declare test_matrix = [ {{ name image kernel_version }} ... ] and a test {{ }} block, as {DEFAULT_MATRIX} does"
            ),
        ));
    };
    // A FILE without a matrix would otherwise run the project's own one instead.
    if let Some(f) = &file
        && !same_file(f, &base.join(&m.file))
    {
        return Err(usage(
            format!("{} declares no `test_matrix`", f.display()),
            format!("name a matrix file such as {DEFAULT_MATRIX}, or omit FILE to run the project's matrix"),
        ));
    }
    let mut cells = select::cells(&m.cells, &a.kernels)?;
    if let Some(s) = shard {
        let selected = cells.len();
        cells = s.select(cells, |c| c.id.as_str());
        ui::status(format!("shard {s}: {} of {selected} cells", cells.len()));
    }
    if a.backend == Backend::Nix {
        // Each cell is a NixOS test of the flake: it runs the whole suite, and Nix caches it.
        if !a.tests.is_empty() {
            return Err(usage(
                "--test cannot narrow cells run through nix: each cell is a NixOS test of the whole suite",
                "drop --test, or use the native backend",
            ));
        }
        let report = crate::nix::run_matrix(&root, &plan, &cells)?;
        emit(&report, &a.report)?;
        return Ok(exit_code(&report, &a.report));
    }
    run_cells(&root, &plan, &m.test, cells, a.tests, a.jobs, &a.report, &a.accel)
}

pub fn test(a: TestArgs) -> Result<u8> {
    select::test_globs(&a.tests)?;
    let root = crate::paths::project_root();
    let plan = plan::load_project(&root)?;
    let Some(m) = plan.matrix.as_ref() else {
        return Err(usage(
            "`orca test` runs the project's matrix test on one kernel, and no spec in configs/ declares a `test_matrix`",
            "write one (see docs/specs.md), or start a project with `orca init`",
        ));
    };
    let version = match &a.kernel {
        Some(v) => v.clone(),
        None => default_kernel(&plan, m).ok_or_else(|| {
            anyhow::Error::new(
                crate::error::Fail::new(
                    Exit::KernelUnavailable,
                    "no kernel of the matrix has a source on this host",
                )
                .hint("pin one with `orca kernel pin VERSION --debian PACKAGE --suite SUITE`"),
            )
        })?,
    };
    let Some(kernel) = plan.kernel(&version) else {
        let known: Vec<&str> = plan.kernels.iter().map(|k| k.version.as_str()).collect();
        return Err(select::unknown_kernel(
            &version,
            &known,
            &format!("kernel {version} is not in the catalog (configs/kernels.hcl)"),
        ));
    };
    if kernel.sources.is_empty() {
        return Err(anyhow::Error::new(
            crate::error::Fail::new(
                Exit::KernelUnavailable,
                format!("kernel {} has no source in the catalog", kernel.version),
            )
            .hint(format!(
                "pin one with `orca kernel pin {} --debian PACKAGE --suite SUITE`",
                kernel.version
            )),
        ));
    }
    let cells = quick_cells(m, &kernel.version);
    run_cells(&root, &plan, &m.test, cells, a.tests, None, &a.report, &a.accel)
}

/// The newest kernel among the matrix's cells that has a source here, else the catalog's newest.
fn default_kernel(plan: &Plan, m: &crate::plan::Matrix) -> Option<String> {
    m.cells
        .iter()
        .filter(|c| c.unavailable.is_none())
        .filter_map(|c| plan.kernel(&c.kernel))
        .filter(|k| !k.sources.is_empty())
        .max_by_key(|k| crate::plan::KernelVersion::parse(&k.version))
        .or_else(|| plan.newest_kernel())
        .map(|k| k.version.clone())
}

/// `orca test`'s cells: the matrix's cells on `kernel`; when the matrix has none there, its test
/// on that kernel and the host image, as one cell.
fn quick_cells(m: &crate::plan::Matrix, kernel: &str) -> Vec<Cell> {
    let from_matrix: Vec<Cell> = m.cells.iter().filter(|c| c.kernel == kernel).cloned().collect();
    if !from_matrix.is_empty() {
        return from_matrix;
    }
    vec![Cell {
        id: kernel.to_string(),
        name: kernel.to_string(),
        image: "host".into(),
        kernel: kernel.to_string(),
        command: m.test.commands.join("\n"),
        unavailable: None,
    }]
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn check_jobs(jobs: Option<usize>) -> Result<()> {
    if jobs == Some(0) {
        return Err(usage(
            "-j/--jobs must be at least 1",
            "omit it to size the run from the host's cores and memory",
        ));
    }
    Ok(())
}

/// Builds the objects, runs `cells`, renders the reports; returns the run's exit code.
#[allow(clippy::too_many_arguments)]
fn run_cells(
    root: &Path,
    plan: &Plan,
    test: &TestSpec,
    cells: Vec<Cell>,
    tests: Vec<String>,
    jobs: Option<usize>,
    opts: &ReportOpts,
    accel: &str,
) -> Result<u8> {
    if cells.iter().any(|c| c.unavailable.is_none()) {
        build_objects(root, plan)?;
    }
    let mut budget = Budget::from_host();
    if let Some(j) = jobs {
        budget = budget.limit_jobs(j);
    }
    let store = crate::run::cache::ResultCache::open()?;
    let run = matrix::Run {
        plan,
        root,
        test,
        cells,
        tests,
        budget,
        cache: Some(&store),
        reuse: !opts.no_cache,
    };
    let runner = GuestRunner::new(plan, root, accel)?;
    let report = matrix::execute(&run, &runner)?;
    emit(&report, opts)?;
    Ok(exit_code(&report, opts))
}

/// The run's exit code: a cell that could not run makes it 4 unless `--allow-unavailable`, and
/// the reason is said once more below the table.
fn exit_code(report: &Report, opts: &ReportOpts) -> u8 {
    let code = report.exit_code_with(opts.allow_unavailable);
    let n = report.unavailable().len();
    if n > 0 && code == Exit::KernelUnavailable.code() {
        ui::warn(format!(
            "{n} of {} cells could not run on this host (the n/a lines above say why): exit {code}; \
             pass --allow-unavailable to accept a partial run",
            report.cells.len()
        ));
    }
    code
}

/// Builds every program, the way `orca build` does, so the cells test what the sources say.
fn build_objects(root: &Path, plan: &Plan) -> Result<()> {
    let (Some(tc), false) = (plan.toolchain.as_ref(), plan.programs.is_empty()) else {
        return Ok(());
    };
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let step = ui::Step::start("eBPF objects");
    let summary = crate::build::build(
        root,
        tc,
        &plan.programs,
        &crate::build::Options { jobs, on_done: &|_| {} },
    );
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            drop(step);
            return Err(e.context("building the eBPF objects"));
        }
    };
    let failed: Vec<&crate::build::ProgramResult> = summary
        .programs
        .iter()
        .filter(|p| p.outcome == crate::build::Outcome::Failed)
        .collect();
    if !failed.is_empty() {
        drop(step);
        for p in &failed {
            eprintln!("  {}: {}", p.name, p.error.as_deref().unwrap_or("failed"));
        }
        let names: Vec<&str> = failed.iter().map(|p| p.name.as_str()).collect();
        return Err(fail!(
            summary.exit(),
            "{} of {} programs failed to build: {}",
            failed.len(),
            summary.programs.len(),
            names.join(", ")
        ));
    }
    let counts = [
        (summary.compiled, "built"),
        (summary.cached, "from the cache"),
        (summary.up_to_date, "up to date"),
    ];
    let parts: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    step.done(format!("ready: {}", parts.join(", ")));
    Ok(())
}

/// The table on stdout (stderr when the JSON goes to stdout), then the JUnit and JSON files.
fn emit(report: &Report, opts: &ReportOpts) -> Result<()> {
    let table = report::table::render(report);
    if opts.json.as_deref() == Some(Path::new("-")) {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(path) = &opts.junit {
        report::write(path, &report::junit::render(report)?)?;
        ui::status(format!("JUnit written to {}", path.display()));
    }
    if let Some(path) = &opts.json {
        report::write(path, &report::json::render(report))?;
        if path != Path::new("-") {
            ui::status(format!("results written to {}", path.display()));
        }
    }
    if report
        .cells
        .iter()
        .all(|c| c.outcome == crate::report::Outcome::Unavailable)
        && !report.cells.is_empty()
    {
        ui::warn("no cell could run on this host: every cell is unavailable (the n/a lines say why)");
    }
    Ok(())
}
