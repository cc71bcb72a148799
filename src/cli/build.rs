//! `orca build` and `orca clean`.
//!
//! Exit codes: 0 built; 1 a program failed to compile or its object failed validation (a checked
//! step failed, like a failing test); 2 bad arguments or specs, or a program's source missing; 3 no usable
//! toolchain or another infrastructure failure; 124 clang passed its deadline; 130 interrupted.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use super::{Backend, BuildArgs, CleanArgs};
use crate::build::{self, Outcome, ProgramResult, Summary};
use crate::error::{Exit, usage};
use crate::plan::{Program, Toolchain};
use crate::ui;

pub fn run(a: BuildArgs) -> Result<u8> {
    if a.jobs == Some(0) {
        return Err(usage(
            "-j/--jobs must be at least 1",
            "omit it to run one clang per core",
        ));
    }
    let root = crate::paths::project_root();
    let plan = crate::plan::load_project(&root)?;
    if a.backend == Backend::Nix {
        return nix(&root, &plan, a.json);
    }
    let tc = toolchain_of(plan.toolchain)?;
    let programs = select(&plan.programs, &a.programs)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));

    if a.verify_reproducible {
        return verify(&root, &tc, &programs, jobs, a.json);
    }

    let total = programs.len();
    let step = ui::Step::start(format!("building {total} program{}", plural(total)));
    let finished = AtomicUsize::new(0);
    let on_done = |r: &ProgramResult| {
        let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
        step.set(format!("{n}/{total}, {} {}", r.name, r.outcome.as_str()));
    };
    let summary = build::build(
        &root,
        &tc,
        &programs,
        &build::Options {
            jobs,
            on_done: &on_done,
        },
    );
    drop(step);
    let summary = summary?;
    print_summary(&summary);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    match summary.exit() {
        Exit::Ok => Ok(0),
        Exit::Interrupted => Err(crate::fail!(
            Exit::Interrupted,
            "interrupted; objects not rebuilt are left as they were"
        )),
        exit => {
            let failed: Vec<&str> = summary
                .programs
                .iter()
                .filter(|p| p.outcome == Outcome::Failed)
                .map(|p| p.name.as_str())
                .collect();
            Err(crate::fail!(
                exit,
                "{} of {total} programs failed to build: {}",
                failed.len(),
                failed.join(", ")
            ))
        }
    }
}

fn toolchain_of(tc: Option<Toolchain>) -> Result<Toolchain> {
    tc.ok_or_else(|| {
        usage(
            "no `toolchain { }` block in configs/*.hcl, so there is no pinned clang to build with",
            "add one to configs/build.hcl: `toolchain { ... }` with clang_version = \"14\", target = \"bpf\" and cflags = [\"-O2\", \"-g\"], one per line",
        )
    })
}

/// The programs named with `--program`, in plan order; all of them when none is named.
fn select(all: &[Program], names: &[String]) -> Result<Vec<Program>> {
    if all.is_empty() {
        return Err(usage(
            "configs/*.hcl declares no `program \"NAME\" { }` block",
            "add one per eBPF source, e.g. program \"xdp_pass\" { source = \"ebpf/xdp_pass.c\" }",
        ));
    }
    for n in names {
        if !all.iter().any(|p| &p.name == n) {
            let near = all
                .iter()
                .map(|p| p.name.as_str())
                .max_by(|a, b| strsim::jaro_winkler(n, a).total_cmp(&strsim::jaro_winkler(n, b)));
            let known: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            let hint = match near.filter(|m| strsim::jaro_winkler(n, m) > 0.8) {
                Some(m) => format!("did you mean `{m}`? programs: {}", known.join(", ")),
                None => format!("programs: {}", known.join(", ")),
            };
            return Err(usage(format!("no program named `{n}` in configs/*.hcl"), hint));
        }
    }
    Ok(all
        .iter()
        .filter(|p| names.is_empty() || names.contains(&p.name))
        .cloned()
        .collect())
}

fn print_summary(s: &Summary) {
    let width = s.programs.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &s.programs {
        let time = ui::duration(std::time::Duration::from_secs_f64(p.seconds));
        let what = match (&p.info, p.outcome) {
            (Some(i), _) => format!(
                "{}  {} program{}, {} map{}",
                p.object.display(),
                i.programs.len(),
                plural(i.programs.len()),
                i.maps.len(),
                plural(i.maps.len())
            ),
            _ => p.source.display().to_string(),
        };
        ui::status(format!(
            "  {:width$}  {:10}  {time:>6}  {what}",
            p.name,
            p.outcome.as_str()
        ));
        for text in [&p.warnings, &p.error].into_iter().flatten() {
            for line in text.lines() {
                eprintln!("      {line}");
            }
        }
    }
    let mut parts = Vec::new();
    for (n, label) in [
        (s.compiled, "built"),
        (s.cached, "from the cache"),
        (s.up_to_date, "up to date"),
        (s.failed, "failed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    ui::status(format!(
        "{} program{}: {} ({}, {})",
        s.programs.len(),
        plural(s.programs.len()),
        parts.join(", "),
        s.toolchain.version,
        ui::duration(std::time::Duration::from_secs_f64(s.seconds))
    ));
}

fn verify(root: &Path, tc: &Toolchain, programs: &[Program], jobs: usize, json: bool) -> Result<u8> {
    let step = ui::Step::start("building twice in separate trees");
    let v = build::reproducible::verify(root, tc, programs, jobs);
    drop(step);
    let v = v?;
    let width = v.programs.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &v.programs {
        let sha = |i: usize| c.sha256[i].as_deref().map(|s| &s[..16]).unwrap_or("-").to_string();
        let line = match (&c.error, c.identical) {
            (Some(_), _) => "failed to build".to_string(),
            (None, true) => format!("identical  sha256 {}…", sha(0)),
            (None, false) => format!(
                "DIFFERENT  {} vs {}, differing: {}",
                sha(0),
                sha(1),
                c.differing_sections.join(", ")
            ),
        };
        ui::status(format!("  {:width$}  {line}", c.name));
        if let Some(e) = &c.error {
            for l in e.lines() {
                eprintln!("      {l}");
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    if v.reproducible {
        ui::status(format!(
            "{} object{} byte-identical across two trees ({})",
            v.programs.len(),
            plural(v.programs.len()),
            ui::duration(std::time::Duration::from_secs_f64(v.seconds))
        ));
        Ok(0)
    } else {
        let bad: Vec<&str> = v
            .programs
            .iter()
            .filter(|c| !c.identical)
            .map(|c| c.name.as_str())
            .collect();
        Err(crate::fail!(Exit::TestFailed, "not reproducible: {}", bad.join(", ")))
    }
}

/// `--backend nix`: the flake builds (src/nix), then the objects are validated like native ones.
fn nix(root: &Path, plan: &crate::plan::Plan, json: bool) -> Result<u8> {
    let built = crate::nix::build(root, plan)?;
    let mut failed = Vec::new();
    let mut report = Vec::new();
    for object in &built.objects {
        let bytes = std::fs::read(root.join(object))?;
        match build::validate::validate(&bytes) {
            Ok(info) => {
                ui::status(format!(
                    "  {}  {} programs, {} maps",
                    object.display(),
                    info.programs.len(),
                    info.maps.len()
                ));
                report
                    .push(serde_json::json!({ "object": object, "sha256": build::hash::sha256(&bytes), "info": info }));
            }
            Err(m) => {
                ui::status(format!("  {}  {m}", object.display()));
                failed.push(object.display().to_string());
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "backend": "nix", "store_path": built.out_path, "objects": report })
            )?
        );
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(crate::fail!(
            Exit::TestFailed,
            "invalid objects from nix: {}",
            failed.join(", ")
        ))
    }
}

pub fn clean(a: CleanArgs) -> Result<u8> {
    let root = crate::paths::project_root();
    // Clean works even when the specs do not load: it then removes build/ only.
    let plan = crate::plan::load_project(&root).ok();
    let out_dir = plan
        .as_ref()
        .and_then(|p| p.toolchain.as_ref())
        .map(|t| t.out_dir.clone());
    let scope = build::clean::Scope {
        cache: a.cache,
        kernels: a.kernels,
        all: a.all,
    };
    let mut targets = build::clean::targets(&root, out_dir.as_deref(), scope)?;
    if a.unused && !a.all {
        if plan.is_none() {
            ui::warn("the specs do not load, so only old cache layouts are removed, not unused kernels");
        }
        let unused = build::clean::unused(plan.as_ref().map(|p| p.kernels.as_slice()));
        // Inside an area that goes anyway, a path would only be counted twice.
        let extra: Vec<_> = unused
            .into_iter()
            .filter(|u| !targets.iter().any(|t| u.starts_with(t)))
            .collect();
        targets.extend(extra);
    }
    let removed = build::clean::remove(&targets, out_dir.map(|o| root.join(o)).as_deref())?;
    if removed.is_empty() {
        ui::status("nothing to remove");
        return Ok(0);
    }
    let total: u64 = removed.iter().map(|r| r.bytes).sum();
    for r in &removed {
        let slash = if r.dir { "/" } else { "" };
        ui::status(format!(
            "removed {}{slash} ({})",
            crate::paths::display_rel(&r.path, &root),
            ui::bytes(r.bytes)
        ));
    }
    ui::status(format!("freed {}", ui::bytes(total)));
    Ok(0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
