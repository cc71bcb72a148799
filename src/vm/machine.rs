//! A running VM: QEMU, its QMP connection and the agent inside, with deadlines on every wait and
//! nothing left behind when it is dropped.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::accel::{self, Accel, Resolved};
use super::conn::{AgentDown, Conn, Incoming};
pub use super::diagnose::console_tail;
use super::diagnose::diagnose;
use super::protocol::{Event, ExecRequest, ExecResult, Request, ShellRequest, Stream};
use super::qemu::{self, MachineType};
use super::qmp::Qmp;
use super::{bootimage, initramfs, ops, virtiofs};
use crate::error::{Exit, Fail};
use crate::fail;
use crate::kernel::kconfig::ShareFs;
use crate::kernel::{self, Prepared};
use crate::plan::Mount;

/// What to boot. Build it with [`VmConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The VM's name: the guest's hostname and the name in messages.
    pub name: String,
    pub kernel: Prepared,
    /// Virtual CPUs. Default 1: under TCG a second CPU costs ~1 s of boot.
    pub cpus: u32,
    /// Memory in MiB. Default 1024.
    pub memory_mib: u64,
    /// Shares (sources absolute) and tmpfs mounts, in order.
    pub mounts: Vec<Mount>,
    /// Extra kernel modules to load at boot, with their dependencies (e.g. `veth`).
    pub modules: Vec<String>,
    /// A NIC with user networking. Default false.
    pub network: bool,
    /// Whether the guest caches the host root (9p `cache=loose`, virtiofsd `cache=always`): 1.7× faster on file-heavy
    /// work (compilers, headers), but changes made on the host while the VM runs may go unseen.
    /// Default true; long-lived VMs (`orca start`) turn it off so edits on the host show.
    pub cache_root: bool,
    pub accel: Accel,
    /// Under TCG, run all the guest's vCPUs on one host thread (`-accel tcg,thread=single`) rather
    /// than one thread each. Guests that share the host's cores with other guests do better so:
    /// a 4-kernel matrix of 2-vCPU guests on 2 cores took 14.2 s instead of 20.3 s. Default false;
    /// multi-vCPU guests get one thread anyway on a QEMU older than 8.1 (see `qemu`'s notes).
    pub tcg_single_thread: bool,
    /// The boot deadline under KVM (scaled for TCG). Default 10 s, so 60 s under TCG;
    /// `ORCA_BOOT_TIMEOUT` (seconds) changes the default.
    pub boot_timeout: Duration,
    /// Words appended to the guest kernel's command line (after `ORCA_VM_CMDLINE`'s).
    pub extra_cmdline: Vec<String>,
    /// The guest's root: the host's (default) or an image's root directory.
    pub root: Root,
    /// The size of the guest's write layer (the tmpfs under the root's overlay) in MiB; `None`
    /// leaves tmpfs's default (half the guest's memory).
    pub disk_mib: Option<u64>,
}

/// What a guest boots as its root file system, read-only under a tmpfs overlay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Root {
    /// The host's own root: the agent is the host's orca at the same path.
    #[default]
    Host,
    /// An unpacked image (or a provisioned root made from one): shared read-only, with the
    /// kernel's modules shared beside it and the agent brought in by the agent kit.
    Image(PathBuf),
}

impl VmConfig {
    pub fn new(name: impl Into<String>, kernel: Prepared) -> VmConfig {
        VmConfig {
            name: name.into(),
            kernel,
            cpus: 1,
            memory_mib: 1024,
            mounts: Vec::new(),
            modules: Vec::new(),
            network: false,
            cache_root: true,
            accel: Accel::Auto,
            tcg_single_thread: false,
            boot_timeout: std::env::var("ORCA_BOOT_TIMEOUT")
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::from_secs(10)),
            extra_cmdline: Vec::new(),
            root: Root::Host,
            disk_mib: None,
        }
    }
}

/// The kernel options every orca guest needs, and those of each machine type.
const NEEDS_COMMON: &[&str] = &[
    "BLK_DEV_INITRD=y",
    "DEVTMPFS=y",
    "BINFMT_ELF=y",
    "BINFMT_SCRIPT=y",
    "TMPFS=y",
    "SERIAL_8250=y",
    "SERIAL_8250_CONSOLE=y",
    "VIRTIO",
    "VIRTIO_CONSOLE",
    "OVERLAY_FS",
];
/// How the host's files reach the guest: 9p (the default), or virtiofs where the kernel lacks 9p.
const NEEDS_9P: &[&str] = kernel::kconfig::NINEP_OPTIONS;
const NEEDS_VIRTIOFS: &[&str] = &["FUSE_FS", "VIRTIO_FS"];
const NEEDS_MICROVM: &[&str] = &["ACPI=y", "VIRTIO_MMIO"];
const NEEDS_Q35: &[&str] = &["PCI=y", "VIRTIO_PCI"];

/// A booted VM. Dropping it kills QEMU and removes its sockets and files.
///
/// QEMU runs in its own process group with `PR_SET_PDEATHSIG`, so it also dies when the thread
/// that booted it ends: boot a machine in the thread that will own it.
pub struct Machine {
    name: String,
    child: crate::process::Child,
    conn: Arc<Conn>,
    qmp: Qmp,
    accel: Resolved,
    machine: MachineType,
    release: String,
    console: PathBuf,
    qemu_log: PathBuf,
    boot_time: Duration,
    /// What the first boot said when this machine is the retry of a failed one.
    flaky: Option<String>,
    /// The virtiofsd serving the shares, if virtiofs: killed after QEMU.
    virtiofsd: Option<virtiofs::Daemons>,
    // Last: removed after QEMU is dead.
    dir: tempfile::TempDir,
}

impl Machine {
    /// Boots a VM and waits until its agent is ready (see [`Machine::boot`]). A guest that panics
    /// or hangs before its agent is ready is an infrastructure fault, not the job's: it is booted
    /// once more, on a fresh VM, if `within` (a KVM-time budget from now, scaled like every
    /// deadline) allows. `on_retry` is told the first try's failure, and the machine remembers it
    /// ([`Machine::flaky`]) for the report. Anything else (a missing kernel option, QEMU refusing
    /// to start, Ctrl-C) is not retried.
    ///
    /// Causes seen and fixed at the source are in docs/decisions.md ("Boots that never fail
    /// spuriously"); this retry is for what is left. With `ORCA_VM_CONSOLE=FILE` the first try's
    /// console is kept as `FILE.first`. `ORCA_TEST_FIRST_BOOT=hang|panic[@NAME]` makes the first
    /// try of every boot (or of the VM named NAME) stop in the guest's init, for testing this.
    pub fn boot_or_retry(cfg: VmConfig, within: Duration, on_retry: impl FnOnce(&anyhow::Error)) -> Result<Machine> {
        let start = Instant::now();
        let again = cfg.clone();
        let mut first = cfg;
        if let Some(word) = test_fault(&first.name) {
            first.extra_cmdline.push(word);
        }
        let e = match Machine::boot(first) {
            Err(e) if before_ready_fault(&e) => e,
            other => return other,
        };
        // What is left of the budget, in KVM time like `within` and `boot_timeout`.
        let left = within.saturating_sub(start.elapsed().div_f64(accel::last_scale()));
        if left.is_zero() || crate::process::interrupted() {
            return Err(e);
        }
        if let Some(c) = std::env::var_os("ORCA_VM_CONSOLE") {
            let mut kept = c.clone();
            kept.push(".first");
            let _ = std::fs::rename(&c, kept);
        }
        on_retry(&e);
        let mut again = again;
        again.boot_timeout = again.boot_timeout.min(left);
        let mut m = Machine::boot(again)?;
        m.flaky = Some(first_try(&e));
        Ok(m)
    }

    /// Boots a VM and waits until its agent is ready. Checks the kernel's config before starting
    /// anything (exit 5), resolves the acceleration (probing KVM once per host), and fails with a
    /// clear cause: a panic (exit 6), the boot deadline (exit 124), QEMU dying (exit 3).
    pub fn boot(cfg: VmConfig) -> Result<Machine> {
        let start = Instant::now();
        let trace = |what: &str| {
            if std::env::var_os("ORCA_VM_TRACE").is_some() {
                eprintln!("orca: trace: {:>7.3}s {what}", start.elapsed().as_secs_f64());
            }
        };
        let k = &cfg.kernel;
        let tsc = accel::tsc_khz();
        let machine = machine_type(k, tsc.is_some());
        let share_fs = virtiofs::choose(k)?;
        let mut needs: Vec<&str> = NEEDS_COMMON.to_vec();
        needs.extend(match share_fs {
            ShareFs::NineP => NEEDS_9P,
            ShareFs::Virtiofs => NEEDS_VIRTIOFS,
        });
        needs.extend(if machine == MachineType::Microvm {
            NEEDS_MICROVM
        } else {
            NEEDS_Q35
        });
        if cfg.network {
            needs.push("VIRTIO_NET");
        }
        kernel::check_config(k, &needs)?;
        let mut modules: Vec<String> = match machine {
            MachineType::Microvm => vec!["virtio_mmio".into()],
            MachineType::Q35 => vec!["virtio_pci".into()],
        };
        modules.push("virtio_console".into());
        modules.extend(share_fs.modules().iter().map(|m| m.to_string()));
        modules.push("overlay".into());
        if cfg.network {
            modules.push("virtio_net".into());
        }
        for m in &cfg.modules {
            if !modules.contains(m) {
                modules.push(m.clone());
            }
        }
        trace("config checked");
        let mut shares = shares(&cfg.root, &cfg.mounts)?;
        // On an image root the host's cached module tree is not visible through the root: it
        // gets a share of its own, mounted at /lib/modules/<release> by init.
        let modules_share = match (&cfg.root, k.modules.is_empty()) {
            (Root::Image(_), false) => {
                let source = k.modules_dir.canonicalize().with_context(|| {
                    format!("locating the kernel's modules at {}", k.modules_dir.display())
                })?;
                shares.push((
                    qemu::Share {
                        tag: "orca.modules".into(),
                        source,
                        readonly: true,
                    },
                    String::new(),
                ));
                true
            }
            _ => false,
        };
        let image = bootimage::boot_image(k)?;
        trace("boot image");
        let base = initramfs::base(k, &modules)?;
        trace("initramfs");
        let accel = accel::resolve(cfg.accel, &image, &base)?;
        trace("accel");
        // pvpanic makes a panic a QMP event (GUEST_PANICKED), under KVM only. Under TCG its two
        // modules cost ~80 ms of every 6.12 or 7.2 boot (signature checks), and a panic is still
        // seen without them: the kernel prints "Kernel panic" on the console and reboots
        // (`panic=-1`), which `-no-reboot` turns into QEMU's exit with reason `guest-reset`.
        let pvpanic = match accel {
            Resolved::Kvm => ["pvpanic_mmio", "pvpanic"].into_iter().find(|m| has_module(k, m)),
            Resolved::Tcg => None,
        };
        let base = match pvpanic {
            Some(m) if !modules.iter().any(|x| x == m) => {
                modules.push(m.to_string());
                initramfs::base(k, &modules)?
            }
            _ => base,
        };

        let dir = crate::paths::temp_dir("vm-")?;
        let (agent_path, qmp_path) = (dir.path().join("agent.sock"), dir.path().join("qmp.sock"));
        let agent_l = UnixListener::bind(&agent_path).context("creating the agent socket")?;
        let qmp_l = UnixListener::bind(&qmp_path).context("creating the QMP socket")?;
        let initrd = dir.path().join("initrd.cpio");
        let exe = std::env::current_exe().context("locating the orca binary")?;
        let boot = initramfs::BootConfig {
            exe,
            hostname: cfg.name.clone(),
            virtiofs: share_fs == ShareFs::Virtiofs,
            msize: 512_000,
            root_cache: if cfg.cache_root { "loose" } else { "mmap" }.into(),
            share_cache: "mmap".into(),
            shares: shares
                .iter()
                .skip(1)
                .filter(|(s, _)| s.tag != "orca.modules")
                .map(|(s, dest)| (s.tag.clone(), dest.clone(), s.readonly))
                .collect(),
            tmpfs: cfg
                .mounts
                .iter()
                .filter_map(|m| match m {
                    Mount::Tmpfs { destination, size_mib } => Some((destination.clone(), *size_mib)),
                    Mount::Share { .. } => None,
                })
                .collect(),
            network: cfg.network,
            modules_tag: modules_share.then(|| "orca.modules".to_string()),
            agent_kit: matches!(cfg.root, Root::Image(_)),
            rw_mib: cfg.disk_mib,
            modules: if k.modules.is_empty() || modules_share {
                None
            } else {
                Some(k.modules_dir.canonicalize().with_context(|| {
                    format!("locating the kernel's modules at {}", k.modules_dir.display())
                })?)
            },
            release: k.release.clone(),
        };
        let kit = match cfg.root {
            Root::Image(_) => Some(super::agentkit::archive(&boot.exe)?),
            Root::Host => None,
        };
        initramfs::assemble(&base, &boot, kit.as_deref(), &initrd)?;
        // ORCA_VM_CONSOLE keeps the serial console in a file of the user's choosing, for debugging.
        let console = std::env::var_os("ORCA_VM_CONSOLE")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.path().join("console.log"));
        let qemu_log = dir.path().join("qemu.log");
        let qemu_shares: Vec<qemu::Share> = shares.into_iter().map(|(s, _)| s).collect();
        // Before QEMU, which connects to their sockets at start; killed with the VM.
        let virtiofsd = match share_fs {
            ShareFs::Virtiofs => {
                let cache = if cfg.cache_root { "always" } else { "auto" };
                let d = virtiofs::start(&qemu_shares, dir.path(), cache)?;
                trace("virtiofsd started");
                Some(d)
            }
            ShareFs::NineP => None,
        };
        let spec = qemu::Spec {
            accel,
            machine,
            cpus: cfg.cpus.max(1),
            tcg_single_thread: qemu::tcg_single_thread(cfg.cpus.max(1), cfg.tcg_single_thread),
            memory_mib: cfg.memory_mib,
            kernel: image,
            initrd,
            cmdline: [qemu::kernel_cmdline(accel, tsc, machine, share_fs)]
                .into_iter()
                .chain(cfg.extra_cmdline.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
            shares: qemu_shares,
            virtiofs: virtiofsd.as_ref().map(|_| dir.path().to_path_buf()),
            network: cfg.network,
            pvpanic: pvpanic.is_some(),
            agent_socket: agent_path,
            qmp_socket: qmp_path,
            console_log: console.clone(),
        };
        let mut cmd = qemu::command(&spec);
        trace(&format!("{cmd:?}"));
        let log = std::fs::File::create(&qemu_log)?;
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let child = crate::process::spawn(&mut cmd, "QEMU")?;
        trace("QEMU started");

        let mut booting = Booting {
            child: Some(child),
            console: &console,
            qemu_log: &qemu_log,
        };
        let connect_by = Instant::now() + Duration::from_secs(10);
        // QEMU gives up when a virtiofsd is gone; the daemon's exit is the cause to report.
        let mut virtiofsd = virtiofsd;
        let mut cause = |e: anyhow::Error| virtiofsd.as_mut().and_then(|d| d.exited()).unwrap_or(e);
        let qmp_stream = booting.accept(&qmp_l, connect_by, "QMP").map_err(&mut cause)?;
        let agent_stream = booting
            .accept(&agent_l, connect_by, "the agent port")
            .map_err(&mut cause)?;
        let conn = Arc::new(Conn::new(agent_stream)?);
        let watcher = Arc::downgrade(&conn);
        let qmp = Qmp::start(qmp_stream, Duration::from_secs(10), move |seen| {
            // A panic pauses nothing (panic=none, then the guest reboots), but the agent socket may outlive the
            // guest for a moment; wake every waiter now.
            if (seen.panicked || seen.shutdown.is_some() || seen.closed)
                && let Some(c) = watcher.upgrade()
            {
                c.set_down();
            }
        })
        .context("talking to QEMU over QMP")?;
        trace("QMP connected");
        let child = booting.child.take().expect("child is set until boot ends");
        let mut m = Machine {
            name: cfg.name.clone(),
            child,
            conn,
            qmp,
            accel,
            machine,
            release: String::new(),
            console,
            qemu_log,
            boot_time: Duration::ZERO,
            flaky: None,
            virtiofsd,
            dir,
        };
        let deadline = Instant::now() + accel::scaled(cfg.boot_timeout, accel);
        m.release = m.wait_ready(deadline, accel::scaled(cfg.boot_timeout, accel))?;
        m.boot_time = start.elapsed();
        trace("agent ready");
        Ok(m)
    }

    fn wait_ready(&mut self, deadline: Instant, budget: Duration) -> Result<String> {
        let got = {
            let rx = self.conn.agent_events();
            loop {
                if crate::process::interrupted() {
                    break Err(fail!(Exit::Interrupted, "interrupted while booting {}", self.name));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(anyhow::Error::new(
                        Fail::new(
                            Exit::Timeout,
                            format!(
                                "VM {} did not finish booting within {} ({}){}",
                                self.name,
                                crate::ui::duration(budget),
                                self.accel.name(),
                                console_tail(&self.console, 15)
                            ),
                        )
                        .hint("the console tail above shows where the guest stopped; ORCA_VM_CMDLINE=-quiet logs the kernel's whole boot there"),
                    ));
                }
                if let Some(e) = self.virtiofsd.as_mut().and_then(|d| d.exited()) {
                    break Err(e);
                }
                match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                    Ok(Incoming::Event(Event::Ready { release, .. })) => break Ok(release),
                    Ok(Incoming::Event(_)) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(Incoming::Down) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        break Err(anyhow::Error::new(AgentDown));
                    }
                }
            }
        };
        got.map_err(|e| self.explain(e))
    }

    /// Runs a command in the guest. Output goes to `sink` as it arrives. No deadline of its own:
    /// see [`Machine::exec_until`].
    pub fn exec(&mut self, req: &ExecRequest, sink: &mut dyn FnMut(Stream, &[u8])) -> Result<ExecResult> {
        self.exec_until(req, sink, None)
    }

    /// [`Machine::exec`] with a deadline: at `deadline` the command is killed and the call fails
    /// with `Exit::Timeout`.
    pub fn exec_until(
        &mut self,
        req: &ExecRequest,
        sink: &mut dyn FnMut(Stream, &[u8]),
        deadline: Option<Instant>,
    ) -> Result<ExecResult> {
        ops::exec(&self.conn, req, sink, deadline).map_err(|e| self.explain(e))
    }

    /// [`Machine::exec_until`], feeding `stdin` to the command.
    pub fn exec_with_stdin(
        &mut self,
        req: &ExecRequest,
        sink: &mut dyn FnMut(Stream, &[u8]),
        deadline: Option<Instant>,
        stdin: Box<dyn std::io::Read + Send>,
    ) -> Result<ExecResult> {
        ops::exec_with_stdin(&self.conn, req, sink, deadline, stdin).map_err(|e| self.explain(e))
    }

    /// Copies a host file, directory or symlink to the absolute guest path `dest`.
    pub fn copy_in(&mut self, src: &Path, dest: &str) -> Result<()> {
        let deadline = Instant::now() + accel::scaled(Duration::from_secs(300), self.accel);
        ops::copy_in(&self.conn, src, dest, Some(deadline)).map_err(|e| self.explain(e))
    }

    /// Copies the guest's `src` (absolute) to the host path `dest`, replacing it.
    pub fn copy_out(&mut self, src: &str, dest: &Path) -> Result<()> {
        let deadline = Instant::now() + accel::scaled(Duration::from_secs(300), self.accel);
        ops::copy_out(&self.conn, src, dest, Some(deadline)).map_err(|e| self.explain(e))
    }

    /// Archives what the guest changed on its root since boot (the overlay's write layer) into
    /// the host file `out`, with the image's own GNU tar: whiteouts as 0:0 character devices and
    /// opaque directories as `trusted.overlay.opaque` xattrs, which [`super::rootfs::apply`] reads.
    /// Downloaded packages (`/var/cache/apt/archives/*.deb`) are left out.
    pub fn capture_upper(&mut self, out: &Path, deadline: Instant) -> Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut err = Vec::new();
        let mut failed: Option<std::io::Error> = None;
        let req = ExecRequest::shell(
            "sync && exec tar --create --file=- --numeric-owner --xattrs --xattrs-include='trusted.overlay.*' \
             --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/cache/apt/*.bin' \
             --directory=/run/orca/upper .",
        );
        let res = self.exec_until(
            &req,
            &mut |stream, bytes| match stream {
                Stream::Stdout => {
                    if failed.is_none()
                        && let Err(e) = file.write_all(bytes)
                    {
                        failed = Some(e);
                    }
                }
                Stream::Stderr => err.extend_from_slice(bytes),
            },
            Some(deadline),
        )?;
        if let Some(e) = failed {
            return Err(e).with_context(|| format!("writing {}", out.display()));
        }
        if res.exit_code() != 0 {
            return Err(fail!(
                Exit::Infra,
                "archiving the provisioned changes in {} failed (tar exit {}): {}",
                self.name,
                res.exit_code(),
                String::from_utf8_lossy(&err).trim()
            ));
        }
        file.sync_all()?;
        Ok(())
    }

    /// An interactive shell on this terminal.
    pub fn shell(&mut self, req: ShellRequest) -> Result<ExecResult> {
        ops::shell(&self.conn, req).map_err(|e| self.explain(e))
    }

    /// Asks the guest to power off and waits for QEMU to exit; forces it if it does not.
    pub fn shutdown(mut self) -> Result<()> {
        let by = Instant::now() + accel::scaled(Duration::from_secs(5), self.accel);
        if self.conn.send(0, &Request::Shutdown).is_ok() {
            while Instant::now() < by {
                if self.child.try_wait()?.is_some() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.qmp.quit();
        let _ = self.child.wait_deadline(Duration::from_secs(2));
        Ok(())
    }

    /// The factor deadlines are scaled by (1 under KVM, 6 under TCG).
    pub fn scale(&self) -> f64 {
        self.accel.scale()
    }

    pub fn accel(&self) -> Resolved {
        self.accel
    }

    pub fn machine_type(&self) -> MachineType {
        self.machine
    }

    /// What the guest's `uname -r` says.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// When this machine is a second boot ([`Machine::boot_or_retry`]): how the first one failed,
    /// with its exit code and console tail.
    pub fn flaky(&self) -> Option<&str> {
        self.flaky.as_deref()
    }

    /// How long the boot took, from `boot` to the agent's `ready`.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The agent connection, for forwarding requests (the long-lived VM daemon).
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// QEMU's process id.
    pub fn qemu_pid(&self) -> u32 {
        self.child.id()
    }

    /// The VM's scratch directory (sockets, console log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether QEMU is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Why the guest went away, as a failure with the right exit code (once QEMU has exited, or
    /// after a short grace period).
    pub fn fault(&mut self) -> anyhow::Error {
        let by = Instant::now() + Duration::from_secs(3);
        let mut status = None;
        while Instant::now() < by {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = self.qmp.seen();
        if std::env::var_os("ORCA_VM_TRACE").is_some() {
            eprintln!("orca: trace: QEMU {status:?}, QMP saw {seen:?}");
        }
        diagnose(&self.name, status, &seen, &self.console, &self.qemu_log)
    }

    /// Replaces an "agent went away" error with its cause.
    fn explain(&mut self, e: anyhow::Error) -> anyhow::Error {
        if crate::process::interrupted() {
            // The signal handler killed QEMU; that is not a fault of the guest.
            return fail!(Exit::Interrupted, "interrupted; VM {} stopped", self.name);
        }
        if e.chain().any(|c| c.is::<AgentDown>()) {
            self.fault()
        } else {
            e
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.conn.set_down();
        self.child.kill();
    }
}

/// QEMU while the machine is not yet a `Machine`: fails with the right cause if QEMU dies.
struct Booting<'a> {
    child: Option<crate::process::Child>,
    console: &'a Path,
    qemu_log: &'a Path,
}

impl Booting<'_> {
    /// Accepts QEMU's connection to `l`, or explains why it never came.
    fn accept(&mut self, l: &UnixListener, by: Instant, what: &str) -> Result<UnixStream> {
        l.set_nonblocking(true)?;
        loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false)?;
                    return Ok(s);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("accepting QEMU's connection"),
            }
            crate::process::check_interrupted()?;
            let child = self.child.as_mut().expect("child is set while booting");
            if let Some(st) = child.try_wait()? {
                return Err(diagnose("", Some(st), &Default::default(), self.console, self.qemu_log));
            }
            if Instant::now() >= by {
                return Err(fail!(Exit::Infra, "QEMU did not connect to {what} within 10s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Whether a failed boot is a fault of the guest before its agent was ready, which a fresh VM may
/// not repeat: a panic or a hang (the boot deadline). `boot` returns no other `Timeout`.
pub fn before_ready_fault(e: &anyhow::Error) -> bool {
    matches!(crate::error::exit_of(e), Exit::GuestPanic | Exit::Timeout)
}

/// What is said when a boot is retried: the first try's exit code and its whole message (the
/// console tail included).
pub fn retry_note(e: &anyhow::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    format!(
        "the guest failed before its agent was ready (first try: exit {}); booting once more on a fresh VM: {}",
        crate::error::exit_of(e).code(),
        chain.join(": ")
    )
}

/// The first try of a retried boot, for reports: `first boot failed (exit 124): <message>`.
fn first_try(e: &anyhow::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    format!(
        "first boot failed (exit {}): {}",
        crate::error::exit_of(e).code(),
        chain.join(": ")
    )
}

/// The test-only fault `ORCA_TEST_FIRST_BOOT` (`hang` or `panic`, optionally `@NAME`) asks of
/// the first boot of VM `name`: the kernel parameter that makes the guest's init stop there.
fn test_fault(name: &str) -> Option<String> {
    let v = std::env::var("ORCA_TEST_FIRST_BOOT").ok()?;
    let (kind, only) = match v.split_once('@') {
        Some((k, n)) => (k, Some(n)),
        None => (v.as_str(), None),
    };
    if only.is_some_and(|n| n != name) {
        return None;
    }
    match kind {
        "hang" => Some("orca_test_hang=1".into()),
        "panic" => Some("orca_test_panic=1".into()),
        _ => None,
    }
}

/// Chooses microvm when the kernel can be driven there (virtio-mmio found through ACPI) and the
/// guest can be given a clock without calibrating (a known TSC rate, or KVM's).
pub fn machine_type(k: &Prepared, tsc_known: bool) -> MachineType {
    let set = |o: &str| k.config.get(o).is_some();
    let builtin = |o: &str| matches!(k.config.get(o), Some(kernel::Setting::Builtin));
    if std::env::var("ORCA_MACHINE").as_deref() == Ok("q35") {
        return MachineType::Q35;
    }
    if tsc_known && set("VIRTIO_MMIO") && builtin("ACPI") {
        MachineType::Microvm
    } else {
        MachineType::Q35
    }
}

fn has_module(k: &Prepared, name: &str) -> bool {
    k.modules.contains_key(name) || k.builtin.contains(name)
}

/// The host root and the declared shares, with their tags and guest paths.
fn shares(root: &Root, mounts: &[Mount]) -> Result<Vec<(qemu::Share, String)>> {
    let source = match root {
        Root::Host => PathBuf::from("/"),
        Root::Image(dir) => {
            if !dir.join("bin/sh").exists() && !dir.join("usr/bin/sh").exists() {
                return Err(fail!(
                    Exit::Infra,
                    "the image root {} has no /bin/sh; it is not an unpacked root file system",
                    dir.display()
                ));
            }
            dir.clone()
        }
    };
    let mut out = vec![(
        qemu::Share {
            tag: "orca.root".into(),
            source,
            readonly: true,
        },
        "/".to_string(),
    )];
    for m in mounts {
        if let Mount::Share {
            source,
            destination,
            readonly,
        } = m
        {
            if !source.is_dir() {
                return Err(crate::error::usage(
                    format!("share source {} is not a directory", source.display()),
                    "a share's source must be an existing host directory",
                ));
            }
            let tag = format!("orca.share{}", out.len() - 1);
            out.push((
                qemu::Share {
                    tag,
                    source: source.clone(),
                    readonly: *readonly,
                },
                destination.clone(),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_panics_and_hangs_before_ready_are_retried() {
        for (exit, retried) in [
            (Exit::GuestPanic, true),
            (Exit::Timeout, true),
            (Exit::Infra, false),
            (Exit::KernelConfig, false),
            (Exit::Interrupted, false),
        ] {
            assert_eq!(before_ready_fault(&crate::fail!(exit, "x")), retried, "{exit:?}");
        }
        let note = first_try(&crate::fail!(
            Exit::Timeout,
            "VM v did not finish booting\n  console:\n  [1.6] x"
        ));
        assert!(
            note.starts_with("first boot failed (exit 124): VM v did not finish booting"),
            "{note}"
        );
        assert!(retry_note(&crate::fail!(Exit::GuestPanic, "p")).contains("(first try: exit 6)"));
    }
}
