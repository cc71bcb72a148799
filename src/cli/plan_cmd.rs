//! `orca plan`: print the resolved plan, saying plainly what this host cannot resolve.

use std::fmt::Write;

use super::PlanArgs;
use crate::plan::{self, ImageKind, KernelSource, Mount, Plan};

pub fn run(a: PlanArgs) -> anyhow::Result<u8> {
    let plan = if a.files.is_empty() {
        plan::load_project(&crate::paths::project_root())?
    } else {
        plan::load(&plan::load::expand(&a.files)?)?
    };
    if a.json {
        super::validate::write_out(&format!("{}\n", serde_json::to_string_pretty(&plan)?))?;
    } else {
        super::validate::write_out(&render(&plan))?;
    }
    Ok(0)
}

fn secs(s: u64) -> String {
    match s {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The plan as text, one section per kind.
pub fn render(p: &Plan) -> String {
    let mut o = String::new();
    let files: Vec<String> = p.files.iter().map(|f| f.display().to_string()).collect();
    let _ = writeln!(
        o,
        "Plan from {} file{}: {}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        files.join(", ")
    );

    if let Some(t) = &p.toolchain {
        let _ = writeln!(
            o,
            "\nToolchain\n  clang {} ({}), target {}, out {}",
            t.clang_major,
            t.clang.as_deref().unwrap_or("found on PATH"),
            t.target,
            t.out_dir.display()
        );
        let _ = writeln!(o, "  cflags   {}", t.cflags.join(" "));
        if !t.include_dirs.is_empty() {
            let dirs: Vec<String> = t.include_dirs.iter().map(|d| d.display().to_string()).collect();
            let _ = writeln!(o, "  includes {}", dirs.join(" "));
        }
    }
    if !p.programs.is_empty() {
        let _ = writeln!(o, "\nPrograms ({})", p.programs.len());
        let w = p.programs.iter().map(|x| x.name.len()).max().unwrap_or(0);
        for x in &p.programs {
            let extra = if x.cflags.is_empty() {
                String::new()
            } else {
                format!("  (+ {})", x.cflags.join(" "))
            };
            let _ = writeln!(
                o,
                "  {:w$}  {} -> {}{extra}",
                x.name,
                x.source.display(),
                x.object.display()
            );
        }
    }
    if !p.kernels.is_empty() {
        let _ = writeln!(o, "\nKernels ({})", p.kernels.len());
        for k in &p.kernels {
            let rel = k.release.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            let nix = k
                .nixpkgs
                .as_deref()
                .map(|n| format!(", nixpkgs {n}"))
                .unwrap_or_default();
            let _ = writeln!(o, "  {}{rel}{nix}", k.version);
            if k.sources.is_empty() {
                let _ = writeln!(o, "    no source: cannot be booted here");
            }
            for s in &k.sources {
                let line = match s {
                    KernelSource::Debian {
                        package,
                        version,
                        suite,
                        sha256,
                    } => {
                        let v = version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
                        format!("debian {package}{v} from {suite}, sha256 {}", short(sha256))
                    }
                    KernelSource::Ubuntu {
                        package,
                        version,
                        suite,
                        sha256,
                    } => {
                        let v = version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
                        match sha256 {
                            Some(h) => format!("ubuntu {package}{v} from {suite}, sha256 {}", short(h)),
                            None => format!("ubuntu {package}{v} from {suite}, unpinned (`orca kernel pin {}`)", k.version),
                        }
                    }
                    KernelSource::Url { url, sha256 } => format!("url {url}, sha256 {}", short(sha256)),
                    KernelSource::File { path, sha256 } => format!("file {}, sha256 {}", path.display(), short(sha256)),
                };
                let _ = writeln!(o, "    {line}");
            }
        }
    }
    let _ = writeln!(o, "\nImages");
    for i in &p.images {
        let what = match &i.kind {
            ImageKind::Host => "the host root, read-only over 9p, with a tmpfs overlay".to_string(),
            ImageKind::Distro(d) => {
                let pkgs = if d.packages.is_empty() {
                    "essential packages only".to_string()
                } else {
                    format!("+ {}", d.packages.join(" "))
                };
                let kernel = d.kernel.as_deref().map(|k| format!(", kernel {k}")).unwrap_or_default();
                format!("{} {} (mmdebstrap, {pkgs}){kernel}", d.archive, d.suite)
            }
        };
        let _ = writeln!(o, "  {}: {what}", i.name);
    }
    for v in &p.vms {
        let kernel = v
            .kernel
            .as_deref()
            .map(|k| format!("kernel {k}"))
            .unwrap_or_else(|| "newest kernel".into());
        let disk = v.disk_mib.map(|d| format!(", disk {d} MiB")).unwrap_or_default();
        let net = if v.network { ", network" } else { "" };
        let _ = writeln!(
            o,
            "\nVM {} ({})\n  image {}, {kernel}, {} cpu, {} MiB{disk}{net}",
            v.name,
            v.file.display(),
            v.image,
            v.cpus,
            v.memory_mib
        );
        for m in &v.mounts {
            let line = match m {
                Mount::Share {
                    source,
                    destination,
                    readonly,
                } => {
                    format!(
                        "share {} at {destination}{}",
                        source.display(),
                        if *readonly { " (read-only)" } else { " (writable)" }
                    )
                }
                Mount::Tmpfs { destination, size_mib } => format!("tmpfs {size_mib} MiB at {destination}"),
            };
            let _ = writeln!(o, "  mount    {line}");
        }
        if !v.modules.is_empty() {
            let _ = writeln!(o, "  modules  {}", v.modules.join(", "));
        }
        for c in &v.provision {
            let _ = writeln!(o, "  provision {c}");
        }
        for a in &v.artifacts {
            let _ = writeln!(o, "  artifact {} -> {}", a.source, a.destination.display());
        }
    }
    if let Some(m) = &p.matrix {
        let t = &m.test;
        let runnable = m.cells.iter().filter(|c| c.unavailable.is_none()).count();
        let vm = t.vm.as_deref().map(|v| format!(", vm {v}")).unwrap_or_default();
        let mode = if t.parallel { "parallel" } else { "one at a time" };
        let _ = writeln!(
            o,
            "\nMatrix ({}): {} cells, {runnable} runnable here; {mode}, timeout {}{vm}",
            m.file.display(),
            m.cells.len(),
            secs(t.timeout_secs)
        );
        let w = m.cells.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &m.cells {
            let state = c
                .unavailable
                .as_deref()
                .map(|u| format!("  UNAVAILABLE: {u}"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  {:w$}  kernel {:5}  image {}  {}{state}",
                c.id, c.kernel, c.image, c.command
            );
        }
        for e in &t.expectations {
            let why = e.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            let _ = writeln!(o, "  expect {} to need kernel {} or newer{why}", e.test, e.min_kernel);
        }
    }
    for pl in &p.pipelines {
        let _ = writeln!(
            o,
            "\nPipeline {} ({}): {}",
            pl.name,
            pl.file.display(),
            pl.order.join(" -> ")
        );
        let w = pl.stages.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for name in &pl.order {
            let Some(s) = pl.stages.iter().find(|s| &s.name == name) else {
                continue;
            };
            let place = match (&s.vm, &s.kernel) {
                (Some(vm), Some(k)) => format!("vm {vm}, kernel {k}"),
                (Some(vm), None) => format!("vm {vm}, no kernel"),
                (None, _) => "host".to_string(),
            };
            let after = if s.dependencies.is_empty() {
                String::new()
            } else {
                format!(", after {}", s.dependencies.join(", "))
            };
            let _ = writeln!(
                o,
                "  {:w$}  {place}{after}, timeout {}: {}",
                s.name,
                secs(s.timeout_secs),
                s.commands.join(" && ")
            );
            if !s.artifacts.is_empty() {
                let _ = writeln!(o, "  {:w$}  artifacts {}", "", s.artifacts.join(", "));
            }
        }
    }
    if p.unresolved.is_empty() {
        let _ = writeln!(o, "\nEverything the plan names can be resolved here.");
    } else {
        let _ = writeln!(o, "\nCannot be resolved here ({}):", p.unresolved.len());
        for u in &p.unresolved {
            let _ = writeln!(o, "  {}: {}", u.what, u.reason);
        }
    }
    o
}
