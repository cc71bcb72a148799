//! Private network namespaces for live traffic, and a veth pair joining two of them.
//!
//! Nothing is named in /run/netns: a namespace lives as long as a thread of this process is in
//! it (or a socket or device of it is held), so it vanishes with the process whatever happens,
//! SIGKILL included, and leaves nothing behind on the host or the guest.
//!
//! - Side A is the calling thread itself, moved into a fresh namespace and moved back on drop.
//!   Code that must run "in A" (aya attaching by interface name, sockets, `ip`) simply runs on
//!   the calling thread meanwhile.
//! - Side B is a thread of its own ([`NsThread`]) that runs jobs in its namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::Skip;

pub const VA: &str = "va";
pub const VB: &str = "vb";
pub const MAC_A: &str = "02:6f:72:63:61:0a";
pub const MAC_B: &str = "02:6f:72:63:61:0b";

/// Addresses on the pair: A has .1/::1; B has .2/::2 and .3/::3, so B can send from two
/// sources (one to block, one to allow). 198.18.0.0/15 is reserved for benchmarking networks.
pub const A4: &str = "198.18.0.1";
pub const B4: [&str; 2] = ["198.18.0.2", "198.18.0.3"];
pub const A6: &str = "fd00:6f72:6361::1";
pub const B6: [&str; 2] = ["fd00:6f72:6361::2", "fd00:6f72:6361::3"];

/// Every `ip` invocation's deadline.
const IP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a job in B may take before the caller gives up on it.
const JOB_DEADLINE: Duration = Duration::from_secs(60);

type Job = Box<dyn FnOnce() + Send>;

/// A thread in a network namespace of its own, running jobs there one at a time.
pub struct NsThread {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
    /// The thread's id: `ip link ... netns <tid>` moves a device into its namespace.
    pub tid: i32,
}

impl NsThread {
    pub fn spawn() -> Result<NsThread> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<i32, String>>();
        let handle = std::thread::Builder::new()
            .name("orca-suite-netns".into())
            .spawn(move || {
                // SAFETY: unshare only changes this thread's namespaces.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    let _ = ready_tx.send(Err(std::io::Error::last_os_error().to_string()));
                    return;
                }
                // SAFETY: gettid has no preconditions.
                let _ = ready_tx.send(Ok(unsafe { libc::gettid() }));
                for job in rx {
                    job();
                }
            })?;
        let tid = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|e| anyhow!("the namespace thread did not start: {e}"))?
            .map_err(|e| anyhow!("unshare(CLONE_NEWNET): {e}"))?;
        Ok(NsThread {
            jobs: Some(jobs),
            handle: Some(handle),
            tid,
        })
    }

    /// Runs `f` in the namespace and returns what it returns.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::channel();
        let jobs = self.jobs.as_ref().context("namespace thread stopped")?;
        jobs.send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .map_err(|_| anyhow!("the namespace thread is gone"))?;
        rx.recv_timeout(JOB_DEADLINE)
            .map_err(|e| anyhow!("a job in the namespace thread failed: {e}"))
    }
}

impl Drop for NsThread {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The calling thread moved into a fresh network namespace; moved back on drop.
pub struct Entered {
    original: File,
}

impl Entered {
    pub fn new() -> Result<Entered> {
        let original = File::open("/proc/thread-self/ns/net").context("opening this thread's network namespace")?;
        // SAFETY: unshare only changes this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            bail!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        }
        Ok(Entered { original })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: the fd is a network namespace this thread was in.
        unsafe { libc::setns(self.original.as_raw_fd(), libc::CLONE_NEWNET) };
    }
}

/// Two namespaces joined by a veth pair: `va` in A (the calling thread), `vb` in B.
/// Neighbours are static and IPv6 skips duplicate address detection, so traffic flows at once.
pub struct Veth {
    pub b: NsThread,
    _a: Entered,
}

impl Veth {
    pub fn create() -> Result<Veth> {
        if which("ip").is_none() {
            return Err(Skip("`ip` (iproute2) is not installed".into()).into());
        }
        let b = NsThread::spawn()?;
        let a = Entered::new()?;
        let tid = b.tid.to_string();
        let out = crate::sys::run(
            Command::new("ip")
                .args(["link", "add", VA, "address", MAC_A, "type", "veth"])
                .args(["peer", "name", VB, "address", MAC_B, "netns", &tid]),
            "ip link add (veth)",
            IP_DEADLINE,
        )?;
        if !out.status.success() {
            let err = out.stderr_str();
            if err.contains("Unknown device type") || err.contains("not supported") {
                return Err(Skip(format!(
                    "the kernel has no veth driver (load the veth module): {}",
                    err.trim()
                ))
                .into());
            }
            bail!("ip link add {VA} type veth: {}", err.trim());
        }
        let side_a = batch(VA, &[A4], &[A6], MAC_B, &B4, &B6);
        ip_batch(&side_a)?;
        let side_b = batch(VB, &B4, &B6, MAC_A, &[A4], &[A6]);
        b.run(move || ip_batch(&side_b))??;
        Ok(Veth { b, _a: a })
    }
}

/// The `ip -batch` lines that bring one side up: addresses, static neighbours, links up.
fn batch(dev: &str, v4: &[&str], v6: &[&str], peer_mac: &str, peer4: &[&str], peer6: &[&str]) -> String {
    let mut s = format!("link set lo up\nlink set {dev} up\n");
    for a in v4 {
        s.push_str(&format!("addr add {a}/24 dev {dev}\n"));
    }
    for a in v6 {
        s.push_str(&format!("addr add {a}/64 dev {dev} nodad\n"));
    }
    for p in peer4.iter().chain(peer6) {
        s.push_str(&format!(
            "neigh replace {p} lladdr {peer_mac} dev {dev} nud permanent\n"
        ));
    }
    s
}

/// Runs `ip -batch` in the calling thread's namespace.
pub fn ip_batch(lines: &str) -> Result<()> {
    let dir = crate::sys::temp_dir("suite-ip")?;
    let file = dir.path().join("batch");
    std::fs::write(&file, lines)?;
    crate::sys::run_ok(Command::new("ip").arg("-batch").arg(&file), "ip -batch", IP_DEADLINE)?;
    Ok(())
}

/// Runs one `ip` command in the calling thread's namespace.
pub fn ip(args: &[&str]) -> Result<()> {
    if which("ip").is_none() {
        return Err(Skip("`ip` (iproute2) is not installed".into()).into());
    }
    crate::sys::run_ok(Command::new("ip").args(args), "ip", IP_DEADLINE)?;
    Ok(())
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file())
}
