//! `orca kernel list | fetch | pin`: the kernel catalog and its cache.

use anyhow::Result;
use serde::Serialize;

use super::KernelCommand;
use crate::error::{Exit, Fail, exit_of, usage};
use crate::kernel::{self, fetch};
use crate::plan::{self, Kernel, KernelSource, Plan};
use crate::ui;

mod pin;

pub fn run(c: KernelCommand) -> Result<u8> {
    let root = crate::paths::project_root();
    match c {
        KernelCommand::List { json } => list(&plan::load_project(&root)?, json),
        KernelCommand::Fetch { versions } => fetch_all(&plan::load_project(&root)?, &versions),
        KernelCommand::Pin {
            version,
            packages,
            suite,
            catalog,
        } => {
            let catalog = catalog.unwrap_or_else(|| root.join("configs/kernels.hcl"));
            pin::run(&root, &version, &packages, &suite, &catalog)
        }
    }
}

/// One catalog kernel as `orca kernel list` shows it (the same struct feeds `--json`).
#[derive(Debug, Serialize)]
struct Row {
    version: String,
    release: Option<String>,
    nixpkgs: Option<String>,
    sources: Vec<KernelSource>,
    /// Where the entry comes from: `built-in`, or the catalog file that declares it.
    from: String,
    /// Every part verified in the cache and the tree unpacked.
    cached: bool,
    /// Whether every part is pinned (only an Ubuntu part can lack a sha256).
    pinned: bool,
    /// Why the kernel cannot be had here, when it cannot (its archive is out of reach, or a part
    /// is unpinned). Checked without the network.
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
    #[serde(flatten)]
    state: kernel::CacheState,
}

fn list(plan: &Plan, json: bool) -> Result<u8> {
    let mut rows = Vec::new();
    for k in &plan.kernels {
        let state = kernel::cache_state(k)?;
        let cached = !k.sources.is_empty() && state.parts_cached == k.sources.len() && state.unpacked;
        let unavailable = if cached {
            None
        } else {
            k.sources
                .iter()
                .find_map(|s| fetch::unavailable(&k.version, s))
                .map(|e| crate::error::find_fail(&e).map(|f| f.message.clone()).unwrap_or_else(|| format!("{e:#}")))
        };
        rows.push(Row {
            version: k.version.clone(),
            release: k.release.clone().or_else(|| state.release.clone()),
            nixpkgs: k.nixpkgs.clone(),
            sources: k.sources.clone(),
            from: plan
                .kernel_origins
                .get(&k.version)
                .cloned()
                .unwrap_or_else(|| crate::spec::BUILTIN.into()),
            cached,
            pinned: k.sources.iter().all(|s| s.pinned()),
            unavailable,
            state,
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        ui::status("the catalog has no kernels; add one with `orca kernel pin VERSION --debian PACKAGE --suite SUITE`");
        return Ok(0);
    }
    let from_w = rows.iter().map(|r| r.from.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<8} {:<24} {:<22} {:<from_w$} SOURCES",
        "VERSION", "RELEASE", "CACHED", "FROM"
    );
    for r in &rows {
        let cached = if r.sources.is_empty() {
            "no source".to_string()
        } else if r.cached {
            format!("yes ({})", ui::bytes(r.state.parts_bytes + r.state.unpacked_bytes))
        } else if r.unavailable.as_deref().is_some_and(|u| u.contains("is not pinned")) {
            "n/a: unpinned".to_string()
        } else if r.unavailable.is_some() {
            "n/a: no archive".to_string()
        } else if r.state.parts_cached > 0 {
            format!("{}/{} parts", r.state.parts_cached, r.sources.len())
        } else {
            "no".to_string()
        };
        let sources: Vec<String> = r.sources.iter().map(fetch::describe).collect();
        println!(
            "{:<8} {:<24} {:<22} {:<from_w$} {}",
            r.version,
            r.release.as_deref().unwrap_or("?"),
            cached,
            r.from,
            sources.join(" + ")
        );
    }
    for r in &rows {
        if let Some(why) = &r.unavailable {
            ui::status(format!("{}: {why}", r.version));
        }
    }
    Ok(0)
}

/// The catalog kernel named `version`, or a usage error listing the known ones.
pub(crate) fn find<'a>(plan: &'a Plan, version: &str) -> Result<&'a Kernel> {
    plan.kernel(version).ok_or_else(|| {
        let known: Vec<&str> = plan.kernels.iter().map(|k| k.version.as_str()).collect();
        let files: Vec<String> = plan.files.iter().map(|f| f.display().to_string()).collect();
        usage(
            format!("kernel {version} is not in the catalog ({})", files.join(", ")),
            if known.is_empty() {
                "the catalog has no kernels; add one with `orca kernel pin`".to_string()
            } else {
                format!(
                    "known versions: {}; add others with `orca kernel pin {version} --debian PACKAGE --suite SUITE`",
                    known.join(", ")
                )
            },
        )
    })
}

fn fetch_all(plan: &Plan, versions: &[String]) -> Result<u8> {
    let kernels: Vec<&Kernel> = if versions.is_empty() {
        // Every kernel that can be had here: one whose archive is out of reach (Ubuntu's, from
        // machines without it) or that is unpinned is named and left out, not an error.
        plan.kernels
            .iter()
            .filter(|k| !k.sources.is_empty())
            .filter(|k| match k.sources.iter().find_map(|s| fetch::unavailable(&k.version, s)) {
                Some(e) => {
                    ui::warn(format!("skipping {}", crate::error::find_fail(&e).map(|f| f.message.clone()).unwrap_or_else(|| format!("{e:#}"))));
                    false
                }
                None => true,
            })
            .collect()
    } else {
        versions.iter().map(|v| find(plan, v)).collect::<Result<_>>()?
    };
    if kernels.is_empty() {
        ui::status("the catalog has no kernels with sources; nothing to fetch");
        return Ok(0);
    }
    if let [only] = kernels[..] {
        println!("{}", fetch_one(only)?);
        return Ok(0);
    }
    let mut failed: Vec<(String, Exit)> = Vec::new();
    for k in kernels {
        match fetch_one(k) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                super::report_error(&e);
                failed.push((k.version.clone(), exit_of(&e)));
            }
        }
    }
    // Each failure was reported as it happened; the first one decides the exit code.
    match failed.first() {
        None => Ok(0),
        Some((_, exit)) => {
            let names: Vec<&str> = failed.iter().map(|(v, _)| v.as_str()).collect();
            Err(anyhow::Error::new(Fail::new(
                *exit,
                format!("could not make ready kernel(s) {}", names.join(", ")),
            )))
        }
    }
}

/// Prepares a kernel and checks that orca can boot it: its config and its boot modules.
fn fetch_one(k: &Kernel) -> Result<String> {
    let p = kernel::prepare(k)?;
    kernel::check_config(&p, &kernel::boot_needs())?;
    // The share a boot would use here; where that needs a virtiofsd this host lacks, the kernel's own.
    let share = crate::vm::virtiofs::choose(&p)
        .unwrap_or_else(|_| p.config.share_fs().unwrap_or(kernel::kconfig::ShareFs::NineP));
    let mods = kernel::module_closure(&p, &kernel::boot_modules(share))?;
    let image = std::fs::metadata(&p.vmlinuz).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "{:<8} {:<24} ready: image {}, {} modules, boot needs {} module(s): {}",
        p.version,
        p.release,
        ui::bytes(image),
        p.modules.len(),
        mods.len(),
        mods.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" ")
    ))
}
