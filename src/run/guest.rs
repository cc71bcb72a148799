//! The [`CellRunner`] that runs cells in QEMU guests.
//!
//! A cell boots its kernel with the test's VM spec (resources, mounts, modules), runs its command
//! in the project root with the usual guest environment (`vm::setup::command_env`: orca's folder
//! first on `PATH`), and shuts the guest down. Its deadline, `timeout × Machine::scale()` (×6 under
//! TCG), counts from the start of the boot.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;

use super::classify::CellOutput;
use super::matrix::{CellRunner, Job};
use super::{results, script};
use crate::error::{Exit, exit_of};
use crate::plan::{self, Plan};
use crate::vm::{Accel, ExecRequest, Machine, Stream, setup};

pub struct GuestRunner<'a> {
    plan: &'a Plan,
    root: PathBuf,
    accel: Accel,
    /// The acceleration the first guest booted with.
    seen: Mutex<Option<String>>,
}

impl<'a> GuestRunner<'a> {
    /// A runner for `plan`'s cells in the project at `root`; `accel` is `--accel`.
    pub fn new(plan: &'a Plan, root: &Path, accel: &str) -> Result<GuestRunner<'a>> {
        Ok(GuestRunner {
            plan,
            root: root.to_path_buf(),
            accel: crate::vm::accel::parse(accel)?,
            seen: Mutex::new(None),
        })
    }
}

impl CellRunner for GuestRunner<'_> {
    type Kernel = ();

    fn prepare(&self, kernel: &plan::Kernel) -> Result<()> {
        crate::kernel::prepare_in(kernel, &self.root).map(|_| ())
    }

    fn guest(&self, job: &Job) -> Result<Option<super::cache::Guest>> {
        let image = &job.cell.image;
        let Some(plan::Image {
            kind: plan::ImageKind::Distro(_),
            ..
        }) = crate::plan::images::find(self.plan, image)
        else {
            // The host's root (or an image not in the catalog, which running names as an error).
            return Ok(None);
        };
        let ready = crate::image::ensure(
            self.plan,
            image,
            &crate::image::lock_path(&self.root),
            crate::image::Pinning::Follow,
        )?;
        let default_vm;
        let vm = match job.vm {
            Some(v) => v,
            None => {
                default_vm = plan::Vm::default_for_tests(&self.root);
                &default_vm
            }
        };
        let provision = match vm.provision.as_slice() {
            [] => None,
            lines => Some(crate::vm::provision::identity(&crate::vm::provision::key(
                &ready.content_sha256,
                lines,
            ))?),
        };
        Ok(Some(super::cache::Guest {
            image_sha256: ready.content_sha256,
            provision,
            env: cell_env()?,
        }))
    }

    fn run(&self, _: &(), job: &Job, state: &dyn Fn(&str)) -> Result<CellOutput> {
        let start = Instant::now();
        let overrides = setup::Overrides {
            kernel: Some(job.cell.kernel.clone()),
            accel: self.accel,
            image: Some(job.cell.image.clone()),
            ..Default::default()
        };
        // A test without a VM spec boots with the project mounted read-write at /<its folder name>,
        // and its script starts there; with one, where the VM mounts the project root, if it does.
        let default_vm;
        let (vm, workdir) = match job.vm {
            Some(v) => (Some(v), v.workdir().map(str::to_string)),
            None => {
                default_vm = plan::Vm::default_for_tests(&self.root);
                let dest = match &default_vm.mounts[0] {
                    plan::Mount::Share { destination, .. } => Some(destination.clone()),
                    _ => None,
                };
                (Some(&default_vm), dest)
            }
        };
        // The kernel is prepared already: this reads its manifest back from the cache.
        // On a distro image: built on first use (one that cannot be had here makes the cell
        // unavailable, exit 4), and booted on its provisioned root when the VM's provision ran
        // before.
        state("preparing image");
        let booting = setup::prepare(self.plan, vm, &overrides, &self.root)?;
        let mut cfg = booting.cfg;
        let on_image = matches!(cfg.root, crate::vm::machine::Root::Image(_));
        cfg.name = guest_name(&job.cell.id);
        cfg.tcg_single_thread = job.crowded;
        // Both are KVM-time and scaled alike: the boot cannot outlive the cell's deadline.
        cfg.boot_timeout = cfg.boot_timeout.min(job.timeout);
        // The cell's deadline covers its boots and its command: running out of it in either is the
        // cell passing its deadline, said one way.
        let past_deadline = |e: anyhow::Error, limit: std::time::Duration| {
            if exit_of(&e) != Exit::Timeout {
                return e;
            }
            e.context(format!(
                "cell {} passed its deadline of {}",
                job.cell.id,
                crate::ui::duration(limit)
            ))
        };
        state("booting");
        // The cell's deadline bounds both boots together.
        let mut machine = Machine::boot_or_retry(cfg, job.timeout, |e| {
            crate::ui::warn(format!(
                "cell {}: the guest failed before its agent was ready (first try: exit {}); booting once more",
                job.cell.id,
                exit_of(e).code()
            ));
            state("booting again");
        })
        .map_err(|e| past_deadline(e, job.timeout.mul_f64(crate::vm::accel::last_scale())))?;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| machine.accel().name().to_string());
        let flaky = machine.flaky().map(String::from);
        let limit = job.timeout.mul_f64(machine.scale());
        let deadline = start + limit;
        state(&format!(
            "running (booted in {})",
            crate::ui::duration(machine.boot_time())
        ));
        // The VM's provision, as `orca run` does it: once per image and lines on an image (kept),
        // on every boot on the host root; from where the script starts.
        if booting.provision != crate::vm::provision::Provision::None {
            let cwd = match on_image {
                true => workdir.clone().or_else(|| Some("/root".into())),
                false => workdir.clone().or_else(|| Some(job.command.cwd.display().to_string())),
            };
            state("provisioning");
            let mut out = Vec::new();
            crate::vm::provision::run(
                &mut machine,
                &booting.provision,
                &job.cell.id,
                &setup::command_env(&[])?,
                cwd,
                deadline,
                crate::vm::provision::Io {
                    output: &mut |b| out.extend_from_slice(b),
                    note: &|n| crate::ui::status(format!("cell {}: {n}", job.cell.id)),
                },
            )
            .map_err(|e| past_deadline(e, limit))?;
        }
        let workdir = if on_image { workdir.or_else(|| Some("/root".into())) } else { workdir };
        let req = ExecRequest {
            argv: job.command.argv.clone(),
            env: cell_env()?,
            cwd: Some(workdir.unwrap_or_else(|| job.command.cwd.display().to_string())),
            ..Default::default()
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut splitter = job.command.script.splitter();
        let ran = machine.exec_until(
            &req,
            &mut |stream, bytes| match stream {
                Stream::Stdout => stdout.extend(splitter.feed(script::STDOUT, bytes, Instant::now())),
                Stream::Stderr => stderr.extend(splitter.feed(script::STDERR, bytes, Instant::now())),
            },
            Some(deadline),
        );
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let res = match ran {
            Ok(res) => res,
            // The command started: nothing from here on is retried, and a kernel panic is the
            // command's failure (it may well be what the command did). A passed deadline stays an
            // infrastructure error, as the host may simply be too slow.
            Err(e) if exit_of(&e) == Exit::GuestPanic => {
                stdout.extend(splitter.flush(script::STDOUT));
                stderr.extend(splitter.flush(script::STDERR));
                let steps = splitter.finish(None, Instant::now());
                return Ok(CellOutput {
                    exit_code: None,
                    stdout: text(&stdout),
                    stderr: text(&stderr),
                    duration: start.elapsed(),
                    fault: Some(format!(
                        "the guest failed while the command ran: {}",
                        e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
                    )),
                    flaky,
                    steps,
                    ..Default::default()
                });
            }
            Err(e) => return Err(past_deadline(e, limit)),
        };
        stdout.extend(splitter.flush(script::STDOUT));
        stderr.extend(splitter.flush(script::STDERR));
        let steps = splitter.finish(res.code, Instant::now());
        if res.code.is_none() {
            // Killed in the guest (the OOM killer, a crash): the kernel's log says by what.
            let console = crate::vm::machine::console_tail(&machine.dir().join("console.log"), 30);
            stderr.extend_from_slice(console.as_bytes());
        }
        // The user's own JUnit files, where the script wrote them.
        let results = if job.results.is_empty() {
            None
        } else {
            state("collecting results");
            Some(collect_results(&mut machine, job.results, &req, deadline).map_err(|e| past_deadline(e, limit))?)
        };
        state("shutting down");
        let release = Some(machine.release().to_string()).filter(|r| !r.is_empty());
        let _ = machine.shutdown();
        Ok(CellOutput {
            exit_code: res.code,
            signal: res.signal,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            duration: start.elapsed(),
            steps,
            results,
            fault: None,
            flaky,
            release,
        })
    }

    fn accel(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The environment of a cell's script: the guest's usual one, strict whatever the host's CI says
/// (a cell whose suite skipped a test would pass without having shown it on this kernel, and a
/// suite that reads `CI` fails a skip).
fn cell_env() -> Result<Vec<(String, String)>> {
    setup::command_env(&[format!("{}=true", crate::ci::VAR)])
}

/// Lists what the result globs match where the script ran, and reads each file (a matrix cell's,
/// or a VM pipeline stage's).
pub(crate) fn collect_results(
    machine: &mut Machine,
    globs: &[String],
    script: &ExecRequest,
    deadline: Instant,
) -> Result<results::Collected> {
    let read = |machine: &mut Machine, program: String| -> Result<(Option<i32>, String)> {
        let req = ExecRequest {
            shell: Some(program),
            env: script.env.clone(),
            cwd: script.cwd.clone(),
            ..Default::default()
        };
        let mut out = Vec::new();
        let res = machine.exec_until(
            &req,
            &mut |stream, bytes| {
                if stream == Stream::Stdout {
                    out.extend_from_slice(bytes)
                }
            },
            Some(deadline),
        )?;
        Ok((res.code, String::from_utf8_lossy(&out).into_owned()))
    };
    let (_, listing) = read(machine, results::list_program(globs))?;
    let (files, unmatched) = results::parse_listing(&listing);
    let mut c = results::Collected {
        files: Vec::new(),
        unmatched,
    };
    for f in files {
        let (code, text) = read(machine, format!("cat -- {}", script::quote(&f)))?;
        if code != Some(0) {
            anyhow::bail!("cannot read the result file {f} in the guest");
        }
        c.files.push((f, text));
    }
    Ok(c)
}

/// The guest's hostname for a cell: `cell-6-1-0` for `6.1/0`.
fn guest_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("cell-{safe}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn guest_names_are_hostnames() {
        assert_eq!(super::guest_name("6.1/0"), "cell-6-1-0");
        assert_eq!(super::guest_name("Debian 12/3"), "cell-debian-12-3");
    }
}
