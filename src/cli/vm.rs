//! `orca run`, `start`, `stop`, `exec`, `cp`, `shell`: the VM commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{CpArgs, ExecArgs, RunArgs, ShellArgs, StartArgs, StopArgs, VmOpts};
use crate::error::{Exit, Fail};
use crate::fail;
use crate::plan::{self, Plan};
use crate::vm::{self, ExecRequest, Machine, Stream, setup};

/// The default deadline of a guest command under KVM (scaled under TCG).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

fn overrides(o: &VmOpts) -> Result<setup::Overrides> {
    Ok(setup::Overrides {
        kernel: o.kernel.clone(),
        cpus: o.cpus,
        memory_mib: o.memory.as_deref().map(setup::memory).transpose()?,
        network: o.network,
        accel: vm::accel::parse(&o.accel)?,
    })
}

/// The plan and the VM spec for a command that takes an optional spec file.
fn load(spec: Option<&Path>, root: &Path) -> Result<(Plan, Option<plan::Vm>)> {
    match spec {
        Some(s) => {
            if !s.is_file() {
                return Err(crate::error::usage(
                    format!("spec file {} does not exist", s.display()),
                    "name a VM spec such as configs/ebpf-test.hcl",
                ));
            }
            let plan = plan::load_with_project(root, &[s.to_path_buf()])?;
            let vm = setup::vm_in_file(&plan, s, root)?.clone();
            Ok((plan, Some(vm)))
        }
        None => Ok((plan::load_project(root)?, None)),
    }
}

/// Boots with a progress line.
fn boot(cfg: vm::VmConfig) -> Result<Machine> {
    let step = crate::ui::Step::start(format!("booting {} on kernel {}", cfg.name, cfg.kernel.version));
    let m = Machine::boot(cfg)?;
    step.done(format!("ready ({}, {})", m.release(), m.accel().name()));
    Ok(m)
}

/// Streams guest output to this process's stdout and stderr, separately.
fn to_host(stream: Stream, bytes: &[u8]) {
    match stream {
        Stream::Stdout => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(bytes);
            let _ = o.flush();
        }
        Stream::Stderr => {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(bytes);
        }
    }
}

fn cwd_string() -> Option<String> {
    std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned())
}

pub fn run(a: RunArgs) -> Result<u8> {
    let root = crate::paths::project_root();
    let (plan, spec) = load(a.spec.as_deref(), &root)?;
    let timeout = a
        .timeout
        .as_deref()
        .map(|t| setup::duration("--timeout", t))
        .transpose()?
        .unwrap_or(COMMAND_TIMEOUT);
    let env = setup::command_env(&a.env)?;
    let cmd = match (&a.command, a.argv.is_empty()) {
        (Some(c), _) => Some(ExecRequest::shell(c.clone())),
        (None, false) => Some(ExecRequest::argv(a.argv.clone())),
        (None, true) => None,
    };
    if cmd.is_none() && spec.is_none() {
        return Err(crate::error::usage(
            "nothing to run",
            "give a command: orca run -- uname -r, or orca run SPEC --command 'make'",
        ));
    }
    let cfg = setup::config(&plan, spec.as_ref(), &overrides(&a.vm)?, &root)?;
    let mut m = boot(cfg)?;
    let cwd = a.cwd.clone().or_else(cwd_string);
    if let Some(v) = &spec {
        for p in &v.provision {
            let req = ExecRequest {
                env: env.clone(),
                cwd: cwd.clone(),
                ..ExecRequest::shell(p.clone())
            };
            let deadline = Instant::now() + COMMAND_TIMEOUT.mul_f64(m.scale());
            let res = m.exec_until(&req, &mut |_, b| to_host(Stream::Stderr, b), Some(deadline))?;
            if !res.success() {
                return Err(fail!(
                    Exit::TestFailed,
                    "provision command `{p}` of {} failed ({res})",
                    v.name
                ));
            }
        }
    }
    let code = match &cmd {
        Some(c) => {
            let req = ExecRequest { env, cwd, ..c.clone() };
            let deadline = Instant::now() + timeout.mul_f64(m.scale());
            m.exec_until(&req, &mut to_host, Some(deadline))?.exit_code()
        }
        None => 0,
    };
    if let Some(v) = &spec {
        for art in &v.artifacts {
            let dest = vm::transfer::host_path(&art.destination, &root)?;
            match m.copy_out(&art.source, &dest) {
                Ok(()) => crate::ui::status(format!("artifact {} → {}", art.source, art.destination.display())),
                Err(e) if code == 0 => return Err(e.context(format!("copying artifact {}", art.source))),
                Err(e) => crate::ui::warn(format!("artifact {}: {e:#}", art.source)),
            }
        }
    }
    m.shutdown()?;
    Ok(code.clamp(0, 255) as u8)
}

pub fn start(_a: StartArgs) -> Result<u8> {
    Err(super::not_yet("orca start"))
}
pub fn stop(_a: StopArgs) -> Result<u8> {
    Err(super::not_yet("orca stop"))
}
pub fn exec(_a: ExecArgs) -> Result<u8> {
    Err(super::not_yet("orca exec"))
}
pub fn cp(_a: CpArgs) -> Result<u8> {
    Err(super::not_yet("orca cp"))
}
pub fn shell(_a: ShellArgs) -> Result<u8> {
    Err(super::not_yet("orca shell"))
}

#[allow(dead_code)]
fn unused(_: PathBuf, _: Fail) {}
