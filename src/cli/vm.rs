//! `orca run`, `start`, `stop`, `exec`, `cp`, `shell`: the VM commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{CpArgs, ExecArgs, RunArgs, ShellArgs, StartArgs, StopArgs, VmOpts};
use crate::error::Exit;
use crate::fail;
use crate::plan::{self, Plan};
use crate::vm::{self, ExecRequest, Machine, Stream, setup};

/// The default deadline of a guest command under KVM (scaled under TCG).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

fn overrides(o: &VmOpts, reprovision: bool) -> Result<setup::Overrides> {
    Ok(setup::Overrides {
        kernel: o.kernel.clone(),
        cpus: o.cpus,
        memory_mib: o.memory.as_deref().map(setup::memory).transpose()?,
        network: o.network,
        accel: vm::accel::parse(&o.accel)?,
        image: None,
        reprovision,
    })
}

/// The plan and the VM spec for a command that takes an optional spec file.
fn load(spec: Option<&Path>, root: &Path) -> Result<(Plan, Option<plan::Vm>)> {
    match spec {
        Some(s) => {
            // A folder stands for its one file that declares a VM.
            let picked = if s.is_dir() {
                Some(plan::load::pick(s, "vm")?)
            } else {
                None
            };
            let s = picked.as_deref().unwrap_or(s);
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

/// Boots with a progress line. A guest that panics or hangs before its agent is ready is booted
/// once more within `within` (KVM time), and the first try is shown.
fn boot(cfg: vm::VmConfig, within: Duration) -> Result<Machine> {
    let step = crate::ui::Step::start(format!("booting {} on kernel {}", cfg.name, cfg.kernel.version));
    let m = Machine::boot_or_retry(cfg, within, |e| step.warn(vm::machine::retry_note(e)))?;
    let flaky = if m.flaky().is_some() {
        ", flaky: second boot"
    } else {
        ""
    };
    step.done(format!("ready ({}, {}{flaky})", m.release(), m.accel().name()));
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

/// The command after `--`: one argument is a shell line (`orca exec vm -- "cd /x && make"`),
/// several are a program and its arguments, run as they are.
pub fn request_of(argv: &[String]) -> ExecRequest {
    match argv {
        [line] => ExecRequest::shell(line.clone()),
        _ => ExecRequest::argv(argv.iter().cloned()),
    }
}

/// Refuses `--interactive` when stdin is not a terminal, before anything boots.
fn need_terminal(command: &str) -> Result<()> {
    // SAFETY: isatty on fd 0 reads nothing but the descriptor's kind.
    if unsafe { libc::isatty(0) } == 1 {
        return Ok(());
    }
    Err(crate::error::usage(
        format!("`{command} --interactive` needs a terminal on stdin, and stdin is not one"),
        "run it from a terminal, or give the command instead: -- CMD",
    ))
}

/// What an interactive shell asks of the guest: this terminal's type and size.
fn shell_request(env: Vec<(String, String)>, cwd: Option<String>) -> vm::ShellRequest {
    let (rows, cols) = vm::term::size().unwrap_or((24, 80));
    vm::ShellRequest {
        term: std::env::var("TERM").ok(),
        rows,
        cols,
        env,
        cwd,
    }
}

/// Where a guest command starts by default: where orca was started, which an image's root does
/// not have; there, `/root`.
fn default_cwd(root: &vm::machine::Root) -> Option<String> {
    match root {
        vm::machine::Root::Host => cwd_string(),
        vm::machine::Root::Image(_) => Some("/root".into()),
    }
}

fn cwd_string() -> Option<String> {
    std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned())
}

/// The project root: the current directory's, or, when that has no `configs/`, the spec file's.
fn root_for(spec: Option<&Path>) -> PathBuf {
    let root = crate::paths::project_root();
    if root.join("configs").is_dir() {
        return root;
    }
    let from_spec = spec.and_then(|s| s.canonicalize().ok()).and_then(|s| {
        s.ancestors()
            .skip(1)
            .find(|d| d.join("configs").is_dir())
            .map(Path::to_path_buf)
    });
    from_spec.unwrap_or(root)
}

pub fn run(a: RunArgs) -> Result<u8> {
    if a.interactive {
        need_terminal("orca run")?;
    }
    let root = root_for(a.spec.as_deref());
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
        (None, false) => Some(request_of(&a.argv)),
        (None, true) => None,
    };
    if cmd.is_none() && spec.is_none() && !a.interactive {
        return Err(crate::error::usage(
            "nothing to run",
            "give a command: orca run -- uname -r, or orca run SPEC --command 'make', or --interactive for a shell",
        ));
    }
    let b = setup::prepare(&plan, spec.as_ref(), &overrides(&a.vm, a.reprovision)?, &root)?;
    let fallback_cwd = default_cwd(&b.cfg.root);
    let mut m = boot(b.cfg, timeout)?;
    // Where the spec mounts the project root, if it does; else where orca was started.
    let cwd = a
        .cwd
        .clone()
        .or_else(|| spec.as_ref().and_then(|v| v.workdir()).map(str::to_string))
        .or(fallback_cwd);
    if let Some(v) = &spec {
        provision(&mut m, &b.provision, v, &env, cwd.clone())?;
    }
    let code = match &cmd {
        None if a.interactive => m.shell(shell_request(env.clone(), cwd.clone()))?.exit_code(),
        Some(c) => {
            let req = ExecRequest { env, cwd, ..c.clone() };
            let deadline = Instant::now() + timeout.mul_f64(m.scale());
            if a.stdin {
                m.exec_with_stdin(&req, &mut to_host, Some(deadline), Box::new(std::io::stdin()))?
                    .exit_code()
            } else {
                m.exec_until(&req, &mut to_host, Some(deadline))?.exit_code()
            }
        }
        None => 0,
    };
    if let Some(v) = &spec {
        for art in &v.artifacts {
            // Resolved against the spec file's folder already; relative to the plan's base.
            let dest = plan.absolute(&art.destination, &root);
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

/// `orca start`: launches the daemon in its own session and relays its progress until the VM
/// is ready (or failed). The daemon is not started through `process::spawn` on purpose: it must
/// outlive this process; its own deadline is the TTL.
pub fn start(a: StartArgs) -> Result<u8> {
    if a.daemon_child {
        return daemon(a);
    }
    setup::duration("--ttl", &a.ttl)?;
    let exe = std::env::current_exe()?;
    let (r, w) = std::io::pipe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1)).arg("--daemon-child");
    cmd.stdin(std::process::Stdio::null()).stdout(w.try_clone()?).stderr(w);
    // SAFETY: setsid is async-signal-safe; the daemon leaves our session and terminal.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(cmd);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(r).lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    loop {
        if crate::process::interrupted() {
            // SAFETY: the daemon leads its own process group; it cleans up on SIGTERM.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
            return Err(fail!(Exit::Interrupted, "interrupted while starting the VM"));
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) if l == READY => return Ok(0),
            Ok(l) => eprintln!("{l}"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let st = child.wait()?;
                return Ok(st.code().unwrap_or(Exit::Infra.code() as i32).clamp(0, 255) as u8);
            }
        }
    }
}

/// What the daemon prints once the VM serves requests.
const READY: &str = "orca-daemon: ready";

fn daemon(a: StartArgs) -> Result<u8> {
    let root = root_for(Some(&a.spec));
    let (plan, vm) = load(Some(&a.spec), &root)?;
    let vm = vm.expect("load returns the spec's VM");
    let ttl = setup::duration("--ttl", &a.ttl)?;
    let claim = vm::state::claim(&vm.name)?;
    let mut st = vm::state::VmState {
        name: vm.name.clone(),
        pid: std::process::id(),
        qemu_pid: None,
        status: "booting".into(),
        spec: a.spec.clone(),
        kernel: String::new(),
        release: None,
        accel: None,
        cpus: 0,
        memory_mib: 0,
        started: vm::state::now(),
        expires: vm::state::now() + ttl.as_secs(),
        workdir: vm.workdir().map(str::to_string),
    };
    vm::state::write(&claim.dir, &st)?;
    let b = setup::prepare(&plan, Some(&vm), &overrides(&a.vm, a.reprovision)?, &root)?;
    let provision_cwd = vm.workdir().map(str::to_string).or(default_cwd(&b.cfg.root));
    let mut cfg = b.cfg;
    // Lives for hours while the host's files change: see them.
    cfg.cache_root = false;
    (st.kernel, st.cpus, st.memory_mib) = (cfg.kernel.version.clone(), cfg.cpus, cfg.memory_mib);
    let mut m = boot(cfg, COMMAND_TIMEOUT)?;
    let env = setup::command_env(&[])?;
    provision(&mut m, &b.provision, &vm, &env, provision_cwd)?;
    let expires = Instant::now() + ttl;
    (st.status, st.qemu_pid, st.release, st.accel) = (
        "running".into(),
        Some(m.qemu_pid()),
        Some(m.release().to_string()),
        Some(m.accel().name().into()),
    );
    let listener_ready = |m: &mut Machine| -> Result<()> {
        vm::state::write(&claim.dir, &st)?;
        crate::ui::status(format!(
            "VM {} is running (kernel {}, {}); stops after {} — orca exec {} -- CMD, orca stop {}",
            vm.name,
            m.release(),
            m.accel().name(),
            a.ttl,
            vm.name,
            vm.name
        ));
        println!("{READY}");
        redirect_output(&claim.dir.join("daemon.log"));
        Ok(())
    };
    let (end, err) = vm::daemon::serve(&mut m, &claim.dir, expires, listener_ready)?;
    crate::ui::status(format!("VM {}: {end:?}", vm.name));
    match end {
        vm::daemon::End::Died => Err(err.unwrap_or_else(|| fail!(Exit::Infra, "the VM stopped"))),
        vm::daemon::End::Interrupted => {
            drop(m);
            Err(fail!(Exit::Interrupted, "interrupted"))
        }
        _ => {
            m.shutdown()?;
            Ok(0)
        }
    }
}

/// Points stdout and stderr at `log` (the daemon has no terminal once `orca start` returns).
fn redirect_output(log: &Path) {
    use std::os::fd::AsRawFd;
    if let Ok(f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        // SAFETY: dup2 onto the standard descriptors; `f` stays open until they are duplicated.
        unsafe {
            libc::dup2(f.as_raw_fd(), 1);
            libc::dup2(f.as_raw_fd(), 2);
        }
    }
}

pub fn stop(a: StopArgs) -> Result<u8> {
    let targets = if a.all {
        vm::state::list()?
    } else {
        vec![vm::state::find(a.name.as_deref().unwrap_or_default())?]
    };
    if targets.is_empty() {
        crate::ui::status("no VMs running");
    }
    for e in targets {
        stop_one(&e)?;
        crate::ui::status(format!("stopped {}", e.state.name));
    }
    Ok(0)
}

fn stop_one(e: &vm::state::Entry) -> Result<()> {
    let pid = e.state.pid as i32;
    let asked = vm::state::connect(e).and_then(|c| {
        let (id, rx) = c.open();
        c.send(id, &vm::protocol::Request::Shutdown)?;
        let _ = rx.recv_timeout(Duration::from_secs(5));
        Ok(())
    });
    if asked.is_err() {
        // Still booting, or its socket is gone: SIGTERM makes the daemon kill QEMU and clean up.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let gone = |pid: i32| unsafe { libc::kill(pid, 0) } != 0;
    let by = Instant::now() + Duration::from_secs(30).mul_f64(e.scale());
    while !gone(pid) && Instant::now() < by {
        crate::process::check_interrupted()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    if !gone(pid) {
        crate::ui::warn(format!("VM {} did not stop in time; killing it", e.state.name));
        unsafe { libc::kill(pid, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&e.dir);
    Ok(())
}

/// A running VM's connection, with failures that name the VM.
fn remote(name: &str) -> Result<(vm::state::Entry, vm::conn::Conn)> {
    let e = vm::state::find(name)?;
    let c = vm::state::connect(&e)?;
    Ok((e, c))
}

/// Replaces "agent went away" with "the VM stopped".
fn remote_err(name: &str, e: anyhow::Error) -> anyhow::Error {
    if e.chain().any(|c| c.is::<vm::conn::AgentDown>()) {
        fail!(Exit::Infra, "VM {name} stopped while serving the request")
    } else {
        e
    }
}

pub fn exec(a: ExecArgs) -> Result<u8> {
    if a.interactive {
        need_terminal("orca exec")?;
        let (e, c) = remote(&a.name)?;
        let cwd = a.cwd.clone().or_else(|| e.state.workdir.clone()).or_else(cwd_string);
        let req = shell_request(setup::command_env(&a.env)?, cwd);
        let res = vm::ops::shell(&c, req).map_err(|err| remote_err(&a.name, err))?;
        return Ok(res.exit_code().clamp(0, 255) as u8);
    }
    let (e, c) = remote(&a.name)?;
    let timeout = a
        .timeout
        .as_deref()
        .map(|t| setup::duration("--timeout", t))
        .transpose()?
        .unwrap_or(COMMAND_TIMEOUT);
    let req = ExecRequest {
        env: setup::command_env(&a.env)?,
        cwd: a.cwd.clone().or_else(|| e.state.workdir.clone()).or_else(cwd_string),
        ..request_of(&a.argv)
    };
    let deadline = Instant::now() + timeout.mul_f64(e.scale());
    let res = if a.stdin {
        let c = std::sync::Arc::new(c);
        vm::ops::exec_with_stdin(&c, &req, &mut to_host, Some(deadline), Box::new(std::io::stdin()))
    } else {
        vm::ops::exec(&c, &req, &mut to_host, Some(deadline))
    };
    let res = res.map_err(|err| remote_err(&a.name, err))?;
    Ok(res.exit_code().clamp(0, 255) as u8)
}

/// One side of `orca cp`: `NAME:/abs/path` is a guest path, anything else a host path.
enum Side {
    Host(PathBuf),
    Guest(String, String),
}

fn side(s: &str) -> Side {
    if let Some((name, path)) = s.split_once(':')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && (path.starts_with('/') || path.is_empty() || !Path::new(s).exists())
    {
        return Side::Guest(name.to_string(), path.to_string());
    }
    Side::Host(PathBuf::from(s))
}

fn base_name(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn cp(a: CpArgs) -> Result<u8> {
    let cwd = std::env::current_dir()?;
    match (side(&a.src), side(&a.dest)) {
        (Side::Guest(name, src), Side::Host(dest)) => {
            let pattern = vm::transfer::guest_path(&src)?;
            let dest = vm::transfer::host_path(&dest, &cwd)?;
            let (e, c) = remote(&name)?;
            let deadline = Instant::now() + Duration::from_secs(300).mul_f64(e.scale());
            let sources = if is_glob(&pattern) {
                if a.dest.ends_with('/') {
                    std::fs::create_dir_all(&dest)
                        .map_err(|err| fail!(Exit::Infra, "cannot create {}: {err}", dest.display()))?;
                }
                expand_in_guest(&c, &name, &pattern, deadline)?
            } else {
                vec![pattern.clone()]
            };
            if sources.len() > 1 && !dest.is_dir() {
                return Err(crate::error::usage(
                    format!(
                        "{pattern} matches {} files in VM {name}, and {} is not a folder",
                        sources.len(),
                        dest.display()
                    ),
                    "copy them into a folder: end the destination with / (it is created), e.g. build/ebpf/",
                ));
            }
            for src in &sources {
                let to = if dest.is_dir() { dest.join(base_name(src)) } else { dest.clone() };
                vm::ops::copy_out(&c, src, &to, Some(deadline)).map_err(|err| remote_err(&name, err))?;
            }
        }
        (Side::Host(src), Side::Guest(name, dest)) => {
            let src = vm::transfer::host_path(&src, &cwd)?;
            if std::fs::symlink_metadata(&src).is_err() {
                return Err(crate::error::usage(
                    format!("{} does not exist", src.display()),
                    "name an existing file or folder",
                ));
            }
            let mut dest = vm::transfer::guest_path(&dest)?;
            let (e, c) = remote(&name)?;
            let deadline = Instant::now() + Duration::from_secs(300).mul_f64(e.scale());
            // Into an existing guest folder, as cp does.
            let probe = ExecRequest::argv(["test", "-d", dest.as_str()]);
            if vm::ops::exec(&c, &probe, &mut |_, _| {}, Some(deadline))
                .map(|r| r.success())
                .unwrap_or(false)
            {
                let name = src
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                dest = format!("{}/{name}", dest.trim_end_matches('/'));
            }
            vm::ops::copy_in(&c, &src, &dest, Some(deadline)).map_err(|err| remote_err(&name, err))?;
        }
        (Side::Guest(..), Side::Guest(..)) => {
            return Err(crate::error::usage(
                "both sides are guest paths",
                "copy between a VM and the host",
            ));
        }
        (Side::Host(..), Side::Host(..)) => {
            return Err(crate::error::usage(
                "neither side names a VM",
                "write the guest side as NAME:/path, e.g. orca cp ebpf-test:/tmp/log.txt ./",
            ));
        }
    }
    Ok(0)
}

/// Whether a guest path holds a shell pattern (`*`, `?`, `[...]`).
fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The guest paths a pattern matches, expanded by the guest's own shell, sorted as it sorts
/// them. No match is an error; every match is checked like a path given by hand.
fn expand_in_guest(c: &vm::conn::Conn, name: &str, pattern: &str, deadline: Instant) -> Result<Vec<String>> {
    // IFS= keeps a pattern with spaces one word while pathname expansion still applies; an
    // unmatched pattern stays as it is, which then does not exist.
    const SCRIPT: &str = r#"IFS=; for f in $1; do { [ -e "$f" ] || [ -L "$f" ]; } || exit 3; printf '%s\0' "$f"; done"#;
    let req = ExecRequest::argv(["/bin/sh", "-c", SCRIPT, "sh", pattern]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = vm::ops::exec(
        c,
        &req,
        &mut |s, b| match s {
            Stream::Stdout => out.extend_from_slice(b),
            Stream::Stderr => err.extend_from_slice(b),
        },
        Some(deadline),
    )
    .map_err(|e| remote_err(name, e))?;
    if res.exit_code() == 3 {
        let dir = pattern.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
        return Err(crate::error::usage(
            format!("nothing in VM {name} matches {pattern}"),
            format!("see what is there with: orca exec {name} -- ls -la {dir}"),
        ));
    }
    if !res.success() {
        return Err(fail!(
            Exit::Infra,
            "expanding {pattern} in VM {name} failed ({res}): {}",
            String::from_utf8_lossy(&err).trim()
        ));
    }
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| vm::transfer::guest_path(&String::from_utf8_lossy(p)))
        .collect()
}

pub fn shell(a: ShellArgs) -> Result<u8> {
    let req = |cwd: Option<String>| -> Result<vm::ShellRequest> { Ok(shell_request(setup::command_env(&[])?, cwd)) };
    if let Some(t) = &a.target
        && !Path::new(t).is_file()
    {
        let (_, c) = remote(t)?;
        let res = vm::ops::shell(&c, req(cwd_string())?).map_err(|err| remote_err(t, err))?;
        return Ok(res.exit_code().clamp(0, 255) as u8);
    }
    let spec = a.target.as_ref().map(PathBuf::from);
    let root = root_for(spec.as_deref());
    let (plan, vm) = load(spec.as_deref(), &root)?;
    let cfg = setup::config(&plan, vm.as_ref(), &overrides(&a.vm, false)?, &root)?;
    let cwd = default_cwd(&cfg.root);
    let mut m = boot(cfg, COMMAND_TIMEOUT)?;
    let res = m.shell(req(cwd)?)?;
    m.shutdown()?;
    Ok(res.exit_code().clamp(0, 255) as u8)
}

/// Runs a VM's `provision` as [`vm::provision::run`] says (every boot on the host root, once
/// per image and lines on an image), its output on stderr. A failing line is exit 1, named with
/// its index, text, exit code and the tail of its output.
fn provision(
    m: &mut Machine,
    p: &vm::provision::Provision,
    vm: &crate::plan::Vm,
    env: &[(String, String)],
    cwd: Option<String>,
) -> Result<()> {
    let deadline = Instant::now() + COMMAND_TIMEOUT.mul_f64(m.scale());
    vm::provision::run(
        m,
        p,
        &vm.name,
        env,
        cwd,
        deadline,
        vm::provision::Io {
            output: &mut |b| to_host(Stream::Stderr, b),
            note: &|s| crate::ui::status(s),
        },
    )
}
