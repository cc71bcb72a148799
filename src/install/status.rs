//! `orca status`: one view of what orca has put on this machine, as data (`--json` serializes
//! [`Status`]) and as text ([`render`]).
//!
//! - the programs and maps `orca install` pinned, checked against the kernel's own lists;
//! - the VMs orca runs;
//! - the caches under `paths::cache_root()` and their sizes;
//! - the pinned toolchain and the nixpkgs revision in `flake.lock`.

use std::path::{Path, PathBuf};

use serde::Serialize;

#[cfg(target_os = "linux")]
use super::manifest::{Manifest, What};
use crate::plan::Toolchain;

#[derive(Debug, Serialize)]
pub struct Status {
    pub installed: Installed,
    pub vms: Vms,
    pub caches: Caches,
    pub toolchain: Option<Toolchain>,
    /// Why the toolchain is unknown (the specs did not load), if it is.
    pub toolchain_note: Option<String>,
    pub nixpkgs: Nixpkgs,
}

/// What `orca install` pinned under `pin_dir`.
#[derive(Debug, Serialize)]
pub struct Installed {
    pub pin_dir: PathBuf,
    /// Seconds since the epoch; `None` when nothing is installed.
    pub installed_at: Option<u64>,
    pub programs: Vec<Loaded>,
    pub maps: Vec<Loaded>,
    pub links: Vec<Loaded>,
    /// Why the kernel could not be asked (not root), if it could not.
    pub note: Option<String>,
}

/// One pinned program, map or link and what the kernel says about it.
#[derive(Debug, Serialize)]
pub struct Loaded {
    pub name: String,
    pub object: String,
    /// Program or map type, or the attach point of a link.
    pub kind: String,
    pub path: Option<PathBuf>,
    pub iface: Option<String>,
    /// The kernel's id for it, when it is loaded.
    pub id: Option<u32>,
    /// True when the kernel's list of loaded programs (maps) has it.
    pub loaded: bool,
}

#[derive(Debug, Serialize)]
pub struct Vms {
    /// The long-lived VMs (`orca start`) that are alive, by name.
    pub running: Vec<crate::vm::state::VmState>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Caches {
    pub root: PathBuf,
    pub areas: Vec<CacheArea>,
}

#[derive(Debug, Serialize)]
pub struct CacheArea {
    /// `objects`, `kernels`, `initramfs`, `results`...
    pub name: String,
    pub files: u64,
    pub bytes: u64,
    /// False when sizing ran out of time: `files` and `bytes` are then lower bounds.
    pub complete: bool,
}

/// The nixpkgs pin in `flake.lock`.
#[derive(Debug, Serialize)]
pub struct Nixpkgs {
    pub rev: Option<String>,
    pub nar_hash: Option<String>,
    /// The branch it follows, e.g. `nixos-25.11`.
    pub branch: Option<String>,
    pub note: Option<String>,
}

/// Gathers the status. Nothing here fails: what cannot be known is said in a note.
pub fn gather(root: &Path, pin_dir: &Path) -> Status {
    let (toolchain, toolchain_note) = match crate::plan::load_project(root) {
        Ok(plan) => {
            let note = plan
                .toolchain
                .is_none()
                .then(|| "no toolchain { } block in configs/".to_string());
            (plan.toolchain, note)
        }
        Err(e) => (
            None,
            Some(format!("the specs did not load: {}", first_line(&format!("{e:#}")))),
        ),
    };
    Status {
        installed: installed(pin_dir),
        vms: vms(None),
        caches: caches(&crate::paths::cache_root()),
        toolchain,
        toolchain_note,
        nixpkgs: nixpkgs(&root.join("flake.lock")),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim_end_matches(':').to_string()
}

/// On other systems nothing can be loaded, so nothing is installed: said, not guessed.
#[cfg(not(target_os = "linux"))]
fn installed(pin_dir: &Path) -> Installed {
    Installed {
        pin_dir: pin_dir.to_path_buf(),
        installed_at: None,
        programs: vec![],
        maps: vec![],
        links: vec![],
        note: Some(format!(
            "eBPF programs load on Linux only; nothing is installed on {}",
            std::env::consts::OS
        )),
    }
}

#[cfg(target_os = "linux")]
fn installed(pin_dir: &Path) -> Installed {
    let mut out = Installed {
        pin_dir: pin_dir.to_path_buf(),
        installed_at: None,
        programs: vec![],
        maps: vec![],
        links: vec![],
        note: None,
    };
    let m = match Manifest::read(pin_dir) {
        Ok(Some(m)) => m,
        Ok(None) => {
            out.note = Some(format!("nothing installed under {} (orca install)", pin_dir.display()));
            return out;
        }
        Err(e) => {
            out.note = Some(format!("{e:#}"));
            return out;
        }
    };
    out.installed_at = Some(m.installed_at);
    // The kernel's own lists: a pin that is missing from them is stale.
    let programs: Vec<u32> = aya::programs::loaded_programs().flatten().map(|p| p.id()).collect();
    let maps: Vec<u32> = aya::maps::loaded_maps().flatten().map(|m| m.id()).collect();
    if programs.is_empty() && maps.is_empty() && unsafe { libc::geteuid() } != 0 {
        out.note = Some("the kernel's program list needs root: run `sudo orca status`".into());
    }
    for p in &m.pins {
        let id = p.path.as_ref().and_then(|path| match p.what {
            What::Program => aya::programs::ProgramInfo::from_pin(path).ok().map(|i| i.id()),
            What::Map => aya::maps::MapInfo::from_pin(path).ok().map(|i| i.id()),
            What::Link | What::Qdisc => path.exists().then_some(0),
        });
        let loaded = match p.what {
            What::Program => id.is_some_and(|i| programs.contains(&i)),
            What::Map => id.is_some_and(|i| maps.contains(&i)),
            What::Link | What::Qdisc => id.is_some() || p.path.is_none(),
        };
        let entry = Loaded {
            name: p.name.clone(),
            object: p.object.clone(),
            kind: p.kind.clone(),
            path: p.path.clone(),
            iface: p.iface.clone(),
            id: id.filter(|_| p.what != What::Link),
            loaded,
        };
        match p.what {
            What::Program => out.programs.push(entry),
            What::Map => out.maps.push(entry),
            What::Link => out.links.push(entry),
            What::Qdisc => {}
        }
    }
    out
}

/// The running VMs, or only the one named.
pub fn vms(name: Option<&str>) -> Vms {
    match crate::vm::state::list() {
        Ok(list) => {
            let running: Vec<_> = list
                .into_iter()
                .map(|e| e.state)
                .filter(|v| name.is_none_or(|n| v.name == n))
                .collect();
            let note = match name {
                Some(n) if running.is_empty() => Some(format!(
                    "no VM named {n} is running; {}",
                    crate::vm::state::start_hint(n)
                )),
                _ => None,
            };
            Vms { running, note }
        }
        Err(e) => Vms {
            running: vec![],
            note: Some(format!("cannot list VMs: {e:#}")),
        },
    }
}

/// How long sizing the caches may take. On a host it takes a fraction of a second; in a guest,
/// where the cache is the host's seen over 9p, a kernel area of ~20k files takes minutes, so the
/// walk stops and says its figures are lower bounds.
const SIZING_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

fn caches(root: &Path) -> Caches {
    let deadline = std::time::Instant::now() + SIZING_BUDGET;
    let mut areas = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten().filter(|e| e.path().is_dir()) {
            let mut size = Size::default();
            let complete = size.add(&e.path(), deadline);
            areas.push(CacheArea {
                name: e.file_name().to_string_lossy().into_owned(),
                files: size.files,
                bytes: size.bytes,
                complete,
            });
        }
    }
    areas.sort_by(|a, b| a.name.cmp(&b.name));
    Caches {
        root: root.to_path_buf(),
        areas,
    }
}

#[derive(Default)]
struct Size {
    files: u64,
    bytes: u64,
}

impl Size {
    /// Adds the files below `dir`, not following symlinks; false if the deadline cut it short.
    fn add(&mut self, dir: &Path, deadline: std::time::Instant) -> bool {
        let Ok(rd) = std::fs::read_dir(dir) else { return true };
        for e in rd.flatten() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                if !self.add(&e.path(), deadline) {
                    return false;
                }
            } else {
                self.files += 1;
                self.bytes += meta.len();
            }
        }
        true
    }
}

fn nixpkgs(lock: &Path) -> Nixpkgs {
    let none = |note: String| Nixpkgs {
        rev: None,
        nar_hash: None,
        branch: None,
        note: Some(note),
    };
    let text = match std::fs::read(lock) {
        Ok(t) => t,
        Err(_) => return none(format!("no {}: nixpkgs is not pinned", lock.display())),
    };
    let json: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(j) => j,
        Err(e) => return none(format!("{} is not valid JSON: {e}", lock.display())),
    };
    let root = json["root"].as_str().unwrap_or("root");
    let node_name = json["nodes"][root]["inputs"]["nixpkgs"].as_str().unwrap_or("nixpkgs");
    let node = &json["nodes"][node_name];
    if node.is_null() {
        return none(format!("{} has no nixpkgs input", lock.display()));
    }
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    Nixpkgs {
        rev: s(&node["locked"]["rev"]),
        nar_hash: s(&node["locked"]["narHash"]),
        branch: s(&node["original"]["ref"]),
        note: None,
    }
}

/// The status as text for a terminal.
pub fn render(s: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let i = &s.installed;
    match i.installed_at {
        Some(at) => {
            let _ = writeln!(out, "Installed under {} ({} ago):", i.pin_dir.display(), ago(at));
            let rows: Vec<(&str, &Loaded)> = i
                .programs
                .iter()
                .map(|l| ("program", l))
                .chain(i.maps.iter().map(|l| ("map", l)))
                .chain(i.links.iter().map(|l| ("link", l)))
                .collect();
            let w = rows
                .iter()
                .map(|(_, l)| l.name.len() + l.iface.as_ref().map_or(0, |x| x.len() + 1))
                .max()
                .unwrap_or(4)
                + 2;
            let kw = rows.iter().map(|(_, l)| l.kind.len()).max().unwrap_or(4) + 2;
            let ow = rows.iter().map(|(_, l)| l.object.len()).max().unwrap_or(4) + 2;
            for (what, l) in rows {
                let name = match &l.iface {
                    Some(iface) => format!("{}@{iface}", l.name),
                    None => l.name.clone(),
                };
                let state = if l.loaded {
                    l.id.map_or("attached".to_string(), |id| format!("id {id}"))
                } else {
                    "MISSING".into()
                };
                let _ = writeln!(out, "  {what:8}{name:w$}{:kw$}{:ow$}{state}", l.kind, l.object);
            }
        }
        None => {
            let _ = writeln!(out, "Installed: nothing under {}", i.pin_dir.display());
        }
    }
    if let Some(n) = &i.note.as_ref().filter(|_| i.installed_at.is_some()) {
        let _ = writeln!(out, "  note: {n}");
    }
    out += &render_vms(&s.vms);
    let _ = writeln!(out, "\nCaches in {}:", s.caches.root.display());
    if s.caches.areas.is_empty() {
        let _ = writeln!(out, "  empty");
    }
    for a in &s.caches.areas {
        let more = if a.complete { "" } else { "+ (sizing stopped after 3s)" };
        let _ = writeln!(
            out,
            "  {:12}{:>10}  {} files{more}",
            a.name,
            crate::ui::bytes(a.bytes),
            a.files
        );
    }
    let _ = match (&s.toolchain, &s.toolchain_note) {
        (Some(t), _) => writeln!(
            out,
            "\nToolchain: clang {} (target {}), flags {}",
            t.clang_major,
            t.target,
            t.cflags.join(" ")
        ),
        (None, Some(n)) => writeln!(out, "\nToolchain: unknown ({n})"),
        (None, None) => writeln!(out, "\nToolchain: unknown"),
    };
    let n = &s.nixpkgs;
    let _ = match (&n.rev, &n.note) {
        (Some(rev), _) => writeln!(
            out,
            "nixpkgs: {rev}{}",
            n.branch.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
        ),
        (None, Some(note)) => writeln!(out, "nixpkgs: {note}"),
        (None, None) => writeln!(out, "nixpkgs: unknown"),
    };
    out
}

/// The VM part of the status, alone for `orca status NAME`.
pub fn render_vms(v: &Vms) -> String {
    use std::fmt::Write;
    let mut out = format!("\nVMs:{}\n", if v.running.is_empty() { " none running" } else { "" });
    let now = now();
    for vm in &v.running {
        let _ = writeln!(
            out,
            "  {:16}{:9}kernel {} ({}), {}, {} CPU, {} MiB, up {}, stops in {}",
            vm.name,
            vm.status,
            vm.kernel,
            vm.release.as_deref().unwrap_or("?"),
            vm.accel.as_deref().unwrap_or("?"),
            vm.cpus,
            vm.memory_mib,
            ago(vm.started),
            crate::ui::duration(std::time::Duration::from_secs(vm.expires.saturating_sub(now))),
        );
    }
    if let Some(n) = &v.note {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ago(at: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(at);
    crate::ui::duration(std::time::Duration::from_secs(now.saturating_sub(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nixpkgs_pin_is_read_from_flake_lock() {
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join("flake.lock");
        assert!(nixpkgs(&lock).note.unwrap().contains("no "));
        std::fs::write(
            &lock,
            r#"{"nodes":{"np":{"locked":{"rev":"abc","narHash":"sha256-x"},"original":{"ref":"nixos-25.11"}},
               "root":{"inputs":{"nixpkgs":"np"}}},"root":"root","version":7}"#,
        )
        .unwrap();
        let n = nixpkgs(&lock);
        assert_eq!(
            (n.rev.as_deref(), n.branch.as_deref(), n.nar_hash.as_deref()),
            (Some("abc"), Some("nixos-25.11"), Some("sha256-x"))
        );
    }

    #[test]
    fn cache_areas_are_sized() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("objects/ab")).unwrap();
        std::fs::write(d.path().join("objects/ab/x"), [0u8; 1000]).unwrap();
        std::fs::write(d.path().join("objects/y"), [0u8; 24]).unwrap();
        std::fs::create_dir_all(d.path().join("kernels")).unwrap();
        let c = caches(d.path());
        assert_eq!(c.areas.len(), 2);
        assert_eq!(
            (c.areas[1].name.as_str(), c.areas[1].files, c.areas[1].bytes),
            ("objects", 2, 1024)
        );
    }
}
