//! `orca pipeline run [FILE]`: load the pipeline with the project's other specs, run it, report.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::PipelineRunArgs;
use crate::error::usage;
use crate::plan::resolve::normalise;
use crate::run::pipeline::{self, Options};

pub fn run(a: PipelineRunArgs) -> Result<u8> {
    let root = crate::paths::project_root();
    let file = match a.file.clone() {
        // A folder stands for its one file that declares a pipeline.
        Some(f) if f.is_dir() => crate::plan::load::pick(&f, "pipeline")?,
        Some(f) => f,
        None => root.join("configs/ebpf-test-pipeline.hcl"),
    };
    if !file.is_file() {
        return Err(usage(
            format!("no pipeline file at {}", file.display()),
            "name one: orca pipeline run configs/my-pipeline.hcl",
        ));
    }
    // The catalog, toolchain and VMs come from configs/ beside the pipeline file.
    let files = crate::plan::load::with_project(&root, std::slice::from_ref(&file))?;
    let plan = crate::plan::load(&files)?;
    // Plan paths are relative to the files' common folder: the project root, unless the pipeline
    // file lies outside the project.
    let base = crate::plan::load::plan_root(&files);
    let wanted = absolute(&file);
    let Some(p) = plan.pipelines.iter().find(|p| absolute(&base.join(&p.file)) == wanted) else {
        return Err(usage(
            format!("{} declares no pipeline", file.display()),
            "add a `pipeline { ... }` block to it, with `name = \"...\"` and `stages = [ ... ]` on lines of their own",
        ));
    };
    let opts = Options {
        root: root.clone(),
        from: a.from,
        only: a.only,
        jobs: a.jobs,
        no_cache: a.report.no_cache,
        accel: a.accel,
        cache_dir: None,
    };
    let report = pipeline::run(&plan, p, &opts)?;
    if let Some(dest) = &a.report.junit {
        crate::report::write(dest, &pipeline::junit::render(&report)?)?;
    }
    let json_on_stdout = a.report.json.as_deref() == Some(Path::new("-"));
    if let Some(dest) = &a.report.json {
        crate::report::write(dest, &crate::report::json::render(&report))?;
    }
    let summary = pipeline::summary::render(&report);
    if json_on_stdout {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    crate::ui::status(format!(
        "stage logs are in {}",
        root.join("build/pipeline/logs").display()
    ));
    Ok(exit_code(&report, a.report.allow_unavailable))
}

/// The report's exit code, except that a stage which could not run fails the pipeline with exit 4
/// (kernel unavailable), unless `--allow-unavailable`: as a matrix does.
fn exit_code(report: &crate::report::Report, allow_unavailable: bool) -> u8 {
    let code = report.exit_code();
    if allow_unavailable {
        return code;
    }
    let unavailable: Vec<_> = report
        .cells
        .iter()
        .filter(|c| c.outcome == crate::report::Outcome::Unavailable)
        .collect();
    if code != 0 || unavailable.is_empty() {
        return code;
    }
    for c in &unavailable {
        let why = c.message.as_deref().unwrap_or("its kernel is unavailable");
        crate::ui::warn(format!("stage {} could not run: {why}", c.id));
    }
    crate::error::Exit::KernelUnavailable.code()
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        normalise(p)
    } else {
        normalise(&std::env::current_dir().unwrap_or_default().join(p))
    }
}
