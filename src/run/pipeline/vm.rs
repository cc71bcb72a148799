//! VM stages: boot the stage's VM on its kernel, run its `provision` (as `orca run` does), run
//! the commands in the guest where the VM starts (its workdir, else where it mounts the project
//! root, else the project root's own path), read the JUnit files its `results` globs match there,
//! then copy the stage's project-relative artifacts out of the guest's view of the project root.
//!
//! The guest sees the host's tree (so it sees the dependencies' restored artifacts), but it writes
//! into a tmpfs overlay: what a stage produces exists only in the guest until it is copied out.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::host::Ran;
use crate::error::{Exit, exit_of};
use crate::plan::{Plan, Stage};
use crate::report::Outcome;
use crate::run::script::{STDERR, STDOUT, Script, Step};
use crate::vm::{ExecRequest, Machine, Stream, setup};

/// Everything a VM stage needs besides the stage itself.
pub struct Guest<'a> {
    pub plan: &'a Plan,
    pub vm: &'a str,
    pub kernel: &'a str,
    pub accel: &'a str,
    pub root: &'a Path,
    /// The stage environment (`ORCA_*`), on top of the usual guest environment.
    pub env: &'a [(String, String)],
    /// Other stages hold the host's cores: under TCG the guest's vCPUs share one host thread.
    pub crowded: bool,
}

pub fn run(g: &Guest, s: &Stage, log: &mut File) -> Ran {
    let start = Instant::now();
    let mut booted = None;
    let result = run_in_guest(g, s, log, start, &mut booted);
    let mut ran = result.unwrap_or_else(|e| {
        let _ = writeln!(log, "orca: {e:#}");
        let outcome = match exit_of(&e) {
            Exit::KernelUnavailable | Exit::KernelConfig => Outcome::Unavailable,
            // A provision line failed: the user's script, as a failing command is.
            Exit::TestFailed => Outcome::Fail,
            _ => Outcome::Error,
        };
        Ran::new(outcome, format!("{e:#}"))
    });
    if let Some((release, accel, flaky)) = booted {
        ran.release = Some(release);
        ran.accel = Some(accel);
        ran.flaky = flaky;
    }
    ran
}

fn run_in_guest(
    g: &Guest,
    s: &Stage,
    log: &mut File,
    start: Instant,
    booted: &mut Option<(String, String, Option<String>)>,
) -> Result<Ran> {
    let spec = g.plan.vm(g.vm);
    let overrides = setup::Overrides {
        kernel: Some(g.kernel.to_string()),
        accel: crate::vm::accel::parse(g.accel)?,
        ..Default::default()
    };
    let _ = writeln!(log, "orca: booting vm {} on kernel {}", g.vm, g.kernel);
    let booting = setup::prepare(g.plan, spec, &overrides, g.root)?;
    let mut cfg = booting.cfg;
    let on_image = matches!(cfg.root, crate::vm::machine::Root::Image(_));
    cfg.tcg_single_thread = g.crowded;
    let mut machine = Machine::boot_or_retry(cfg, Duration::from_secs(s.timeout_secs), |e| {
        let _ = writeln!(log, "orca: warning: {}", crate::vm::machine::retry_note(e));
    })?;
    *booted = Some((
        machine.release().to_string(),
        machine.accel().name().to_string(),
        machine.flaky().map(String::from),
    ));
    let _ = writeln!(
        log,
        "orca: booted {} ({}) in {}",
        machine.release(),
        machine.accel().name(),
        crate::ui::duration(machine.boot_time())
    );
    // The stage's deadline covers the boot too, scaled like every guest deadline.
    let deadline = start + Duration::from_secs_f64(s.timeout_secs as f64 * machine.scale());
    let mut env = setup::command_env(&[])?;
    env.extend(g.env.iter().filter(|(k, _)| k != "PATH").cloned());
    // Where the VM mounts the project root, if it does; else the project root as the host sees it
    // (an image's root has no such folder: there, /root).
    let cwd = spec
        .and_then(|v| v.workdir())
        .map(str::to_string)
        .unwrap_or_else(|| if on_image { "/root".into() } else { g.root.display().to_string() });
    // The VM's provision, as `orca run` does it: on the host root on every boot, in the same
    // working directory as the commands; on an image once per image and lines, and kept (later
    // boots reuse the provisioned root and run nothing).
    crate::vm::provision::run(
        &mut machine,
        &booting.provision,
        g.vm,
        &env,
        Some(cwd.clone()),
        deadline,
        crate::vm::provision::Io {
            output: &mut |b| {
                let _ = log.write_all(b);
            },
            note: &|n| crate::ui::status(format!("stage {}: {n}", s.name)),
        },
    )?;
    // The commands are one script: one shell, line after line, the first failing line ends it.
    let script = Script::new(&s.commands);
    for (i, l) in s.commands.iter().enumerate() {
        let _ = writeln!(log, "$ [{}] {l}", i + 1);
    }
    let req = ExecRequest {
        shell: Some(script.text()),
        env,
        cwd: Some(cwd),
        ..Default::default()
    };
    let mut splitter = script.splitter();
    let mut sink = |stream: Stream, bytes: &[u8]| {
        let n = if stream == Stream::Stdout { STDOUT } else { STDERR };
        let _ = log.write_all(&splitter.feed(n, bytes, Instant::now()));
    };
    let res = match machine.exec_until(&req, &mut sink, Some(deadline)) {
        Ok(r) => r,
        Err(e) if exit_of(&e) == Exit::Timeout => {
            let steps = splitter.finish(None, Instant::now());
            let at = steps
                .last()
                .map(|st| format!(" in line {} `{}`", st.index + 1, st.command))
                .unwrap_or_default();
            let mut ran = Ran::new(Outcome::Error, format!("the stage's script passed its deadline{at}"));
            ran.steps = steps.iter().map(Step::result).collect();
            return Ok(ran);
        }
        // The script started: nothing from here on is retried; a kernel panic is the stage's
        // failure (it may well be what the script did).
        Err(e) if exit_of(&e) == Exit::GuestPanic => {
            let _ = writeln!(log, "orca: {e:#}");
            let steps = splitter.finish(None, Instant::now());
            let at = steps
                .last()
                .map(|st| format!(" in line {} `{}`", st.index + 1, st.command))
                .unwrap_or_default();
            let mut ran = Ran::new(Outcome::Fail, format!("the guest kernel panicked while the stage's script ran{at}"));
            ran.steps = steps.iter().map(Step::result).collect();
            return Ok(ran);
        }
        Err(e) => return Err(e),
    };
    for n in [STDOUT, STDERR] {
        let _ = log.write_all(&splitter.flush(n));
    }
    let steps = splitter.finish(res.code, Instant::now());
    let mut ran = Ran::of_script(&steps, s.commands.len(), res.code);
    if !s.results.is_empty() {
        // The user's own JUnit files, where the script wrote them; read whether it passed or not
        // (a runner exits non-zero when a test fails).
        let _ = writeln!(log, "orca: collecting results {}", s.results.join(" "));
        let collected = crate::run::guest::collect_results(&mut machine, &s.results, &req, deadline)
            .map_err(|e| format!("collecting the result files: {e:#}"));
        ran = ran.with_results(collected);
    }
    if ran.outcome != Outcome::Pass {
        let _ = writeln!(log, "orca: {}", ran.message.as_deref().unwrap_or_default());
        return Ok(ran);
    }
    // The artifacts are project-relative: the guest has the project where its VM mounts it, else
    // (on the host root) at the project's own path.
    let guest_root = spec
        .and_then(|v| v.project_mount())
        .map(str::to_string)
        .unwrap_or_else(|| g.root.display().to_string());
    copy_artifacts(&mut machine, &guest_root, g.root, &s.artifacts, deadline, log)?;
    let _ = machine.shutdown();
    Ok(ran)
}

/// Copies the files the artifact globs match below `guest_root` in the guest to the same paths
/// below `root` on the host. The guest lists candidates below each glob's fixed prefix; the globs
/// are matched here.
fn copy_artifacts(
    m: &mut Machine,
    guest_root: &str,
    root: &Path,
    globs: &[String],
    deadline: Instant,
    log: &mut File,
) -> Result<()> {
    if globs.is_empty() {
        return Ok(());
    }
    let prefixes: Vec<String> = globs.iter().map(|g| quote(&fixed_prefix(g))).collect();
    let list = format!("find {} -type f 2>/dev/null; true", prefixes.join(" "));
    let req = ExecRequest {
        shell: Some(list),
        cwd: Some(guest_root.to_string()),
        ..Default::default()
    };
    let mut out = Vec::new();
    m.exec_until(
        &req,
        &mut |stream, bytes| {
            if stream == Stream::Stdout {
                out.extend_from_slice(bytes)
            }
        },
        Some(deadline),
    )?;
    let opts = glob::MatchOptions {
        require_literal_separator: true,
        ..Default::default()
    };
    let patterns: Vec<glob::Pattern> = globs.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect();
    let listed = String::from_utf8_lossy(&out);
    // Two globs may share a prefix: each file once.
    let files: std::collections::BTreeSet<&str> = listed.lines().map(|l| l.trim_start_matches("./")).collect();
    for rel in files {
        // A glob naming a folder takes everything below it, as on the host.
        let wanted = patterns.iter().any(|p| {
            p.matches_with(rel, opts)
                || Path::new(rel)
                    .ancestors()
                    .skip(1)
                    .any(|a| p.matches_with(&a.to_string_lossy(), opts))
        });
        if wanted {
            let _ = writeln!(log, "orca: copying artifact {rel} out of the guest");
            m.copy_out(&format!("{guest_root}/{rel}"), &root.join(rel))?;
        }
    }
    Ok(())
}

/// The part of a glob before its first wildcard, cut back to a whole path component: `build/ebpf`
/// for `build/ebpf/*.o`, `.` for `*.json`.
fn fixed_prefix(glob: &str) -> String {
    let cut = glob.find(['*', '?', '[']).unwrap_or(glob.len());
    if cut == glob.len() {
        return glob.to_string();
    }
    match glob[..cut].rfind('/') {
        Some(i) => glob[..i].to_string(),
        None => ".".to_string(),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_listed_from_their_fixed_prefix() {
        assert_eq!(fixed_prefix("build/ebpf/*.o"), "build/ebpf");
        assert_eq!(fixed_prefix("build/perf.json"), "build/perf.json");
        assert_eq!(fixed_prefix("*.json"), ".");
        assert_eq!(fixed_prefix("out/**/x?.txt"), "out");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
