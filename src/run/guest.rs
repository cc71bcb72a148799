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

    fn run(&self, _: &(), job: &Job, state: &dyn Fn(&str)) -> Result<CellOutput> {
        let start = Instant::now();
        let overrides = setup::Overrides {
            kernel: Some(job.cell.kernel.clone()),
            accel: self.accel,
            ..Default::default()
        };
        // The kernel is prepared already: this reads its manifest back from the cache.
        let mut cfg = setup::config(self.plan, job.vm, &overrides, &self.root)?;
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
        let req = ExecRequest {
            argv: job.command.argv.clone(),
            env: setup::command_env(&[])?,
            cwd: Some(job.command.cwd.display().to_string()),
            ..Default::default()
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let ran = machine.exec_until(
            &req,
            &mut |stream, bytes| match stream {
                Stream::Stdout => stdout.extend_from_slice(bytes),
                Stream::Stderr => stderr.extend_from_slice(bytes),
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
                    ..Default::default()
                });
            }
            Err(e) => return Err(past_deadline(e, limit)),
        };
        if res.code.is_none() {
            // Killed in the guest (the OOM killer, a crash): the kernel's log says by what.
            let console = crate::vm::machine::console_tail(&machine.dir().join("console.log"), 30);
            stderr.extend_from_slice(console.as_bytes());
        }
        state("shutting down");
        let _ = machine.shutdown();
        Ok(CellOutput {
            exit_code: res.code,
            signal: res.signal,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            duration: start.elapsed(),
            fault: None,
            flaky,
        })
    }

    fn accel(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
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
