//! The registry of long-lived VMs (`orca start`): one directory per VM under
//! `<runtime>/vms/<name>/` holding `state.json`, the daemon's control socket and its log.
//!
//! The directory is the lock: creating it claims the name, so a second `orca start` of the same
//! name is refused while the first lives. A directory whose daemon died (SIGKILL, host reboot) is
//! stale: [`list`] and [`claim`] remove it.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::conn::Conn;
use crate::error::{Exit, Fail};

/// What `state.json` says about a VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VmState {
    pub name: String,
    /// The daemon that owns the VM.
    pub pid: u32,
    pub qemu_pid: Option<u32>,
    /// `booting` until the agent is ready, then `running`.
    pub status: String,
    /// The spec file it was started from.
    pub spec: PathBuf,
    /// Catalog version and `uname -r`.
    pub kernel: String,
    pub release: Option<String>,
    pub accel: Option<String>,
    pub cpus: u32,
    pub memory_mib: u64,
    /// Unix seconds.
    pub started: u64,
    /// Unix seconds; the daemon stops the VM then (`--ttl`).
    pub expires: u64,
    /// Where `orca exec` starts without `--cwd`: the VM's `workdir` (see `plan::Vm::workdir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// A registered VM.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub state: VmState,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Entry {
    /// The factor deadlines are scaled by for this VM.
    pub fn scale(&self) -> f64 {
        if self.state.accel.as_deref() == Some("kvm") {
            1.0
        } else {
            super::Resolved::Tcg.scale()
        }
    }
}

/// Where VMs are registered.
pub fn root() -> PathBuf {
    crate::paths::runtime_root().join("vms")
}

pub fn dir(name: &str) -> PathBuf {
    root().join(name)
}

pub fn control_socket(dir: &Path) -> PathBuf {
    dir.join("control.sock")
}

/// A claimed name: the VM's directory, removed when dropped.
pub struct Claim {
    pub dir: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Claims `name` for this process, or says who has it.
pub fn claim(name: &str) -> Result<Claim> {
    std::fs::create_dir_all(root()).with_context(|| format!("creating {}", root().display()))?;
    let d = dir(name);
    for _ in 0..2 {
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(Claim { dir: d }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_dir_entry(&d) {
                Some(e) if alive(e.state.pid) => {
                    return Err(anyhow::Error::new(
                        Fail::new(
                            Exit::Usage,
                            format!("VM {name} is already running (pid {})", e.state.pid),
                        )
                        .hint(format!("stop it first: orca stop {name}")),
                    ));
                }
                Some(_) => {
                    let _ = std::fs::remove_dir_all(&d);
                }
                // Being created right now, or left without a state file: a live owner writes it
                // within moments of claiming, so only an old directory is stale.
                None if is_old(&d) => {
                    let _ = std::fs::remove_dir_all(&d);
                }
                None => {
                    return Err(anyhow::Error::new(
                        Fail::new(Exit::Usage, format!("VM {name} is being started by another orca"))
                            .hint("wait for it, or stop it with orca stop"),
                    ));
                }
            },
            Err(e) => return Err(e).with_context(|| format!("creating {}", d.display())),
        }
    }
    Err(crate::fail!(Exit::Infra, "cannot claim {}", d.display()))
}

fn is_old(d: &Path) -> bool {
    std::fs::metadata(d)
        .and_then(|m| m.modified())
        .map(|t| t.elapsed().unwrap_or_default() > std::time::Duration::from_secs(30))
        .unwrap_or(true)
}

/// Writes `state.json` atomically.
pub fn write(dir: &Path, s: &VmState) -> Result<()> {
    crate::paths::write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(s)?)
}

fn read_dir_entry(d: &Path) -> Option<Entry> {
    let bytes = std::fs::read(d.join("state.json")).ok()?;
    let state: VmState = serde_json::from_slice(&bytes).ok()?;
    Some(Entry {
        state,
        dir: d.to_path_buf(),
    })
}

/// Whether `pid` is a live orca process.
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .next()
                .is_some_and(|argv0| argv0.ends_with(b"orca"))
        })
        .unwrap_or(false)
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

/// The registered VMs that are alive, sorted by name; stale entries are removed on the way.
pub fn list() -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root()) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        match read_dir_entry(&e.path()) {
            Some(entry) if alive(entry.state.pid) => out.push(entry),
            Some(_) => {
                let _ = std::fs::remove_dir_all(e.path());
            }
            None if is_old(&e.path()) => {
                let _ = std::fs::remove_dir_all(e.path());
            }
            None => {}
        }
    }
    out.sort_by(|a, b| a.state.name.cmp(&b.state.name));
    Ok(out)
}

/// A registered, live VM by name.
pub fn find(name: &str) -> Result<Entry> {
    list()?.into_iter().find(|e| e.state.name == name).ok_or_else(|| {
        let running: Vec<String> = list().unwrap_or_default().into_iter().map(|e| e.state.name).collect();
        anyhow::Error::new(Fail::new(Exit::Usage, format!("no VM named {name} is running")).hint(
            if running.is_empty() {
                start_hint(name)
            } else {
                format!("running: {}; {}", running.join(", "), start_hint(name))
            },
        ))
    })
}

/// How to start the VM `name`: the project's spec that declares it, if one does.
pub fn start_hint(name: &str) -> String {
    let root = crate::paths::project_root();
    let declared = crate::plan::load_project(&root)
        .ok()
        .and_then(|p| p.vms.into_iter().find(|v| v.name == name))
        .map(|v| v.file);
    match declared {
        Some(f) => format!(
            "start it with: orca start {}",
            f.strip_prefix(&root).unwrap_or(&f).display()
        ),
        None => format!(
            "no spec in {} declares a VM named {name}; start one with: orca start SPEC",
            root.join("configs").display()
        ),
    }
}

/// Connects to a running VM's daemon; requests then go to its agent.
pub fn connect(e: &Entry) -> Result<Conn> {
    if e.state.status != "running" {
        return Err(crate::fail!(
            Exit::Infra,
            "VM {} is still booting; try again in a moment",
            e.state.name
        ));
    }
    let s = UnixStream::connect(control_socket(&e.dir))
        .map_err(|err| crate::fail!(Exit::Infra, "cannot reach VM {}: {err}", e.state.name))?;
    Conn::new(s)
}

/// A table of VMs for `orca status`.
pub fn render(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no VMs running\n".into();
    }
    let now = now();
    let mut s = format!(
        "{:<20} {:<9} {:<24} {:<5} {:>4} {:>7} {:>9}\n",
        "VM", "STATUS", "KERNEL", "ACCEL", "CPUS", "MEMORY", "EXPIRES"
    );
    for e in entries {
        let st = &e.state;
        let left = st.expires.saturating_sub(now);
        s.push_str(&format!(
            "{:<20} {:<9} {:<24} {:<5} {:>4} {:>6}M {:>9}\n",
            st.name,
            st.status,
            st.release.clone().unwrap_or_else(|| st.kernel.clone()),
            st.accel.clone().unwrap_or_default(),
            st.cpus,
            st.memory_mib,
            crate::ui::duration(std::time::Duration::from_secs(left)),
        ));
    }
    s
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
