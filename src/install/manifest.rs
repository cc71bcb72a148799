//! The record of exactly what `orca install` pinned, kept in a state file because a bpffs holds
//! nothing but pins. It is rewritten after every pin, so an install killed midway still leaves a
//! record `orca uninstall` can undo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Everything one `orca install` pinned under `pin_dir`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub pin_dir: PathBuf,
    /// orca's version that installed.
    pub orca_version: String,
    /// Seconds since the epoch.
    pub installed_at: u64,
    /// The pins, in the order they were made.
    pub pins: Vec<Pinned>,
    /// Folders install created, parents first; removed (when empty) in reverse.
    pub dirs: Vec<PathBuf>,
}

/// One pinned program, map or link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pinned {
    pub what: What,
    /// The object it came from (file stem, e.g. `xdp_drop`).
    pub object: String,
    /// The program or map name.
    pub name: String,
    /// The program type (`Xdp`, `SchedClassifier`...), map type, or attach point (`xdp`, `tcx egress`).
    pub kind: String,
    /// The pin, or for a netlink TC attachment (kernels before 6.6, which cannot be pinned) none.
    pub path: Option<PathBuf>,
    /// The interface a link attaches to.
    pub iface: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    Program,
    Map,
    Link,
    /// A clsact qdisc install added for a netlink TC attachment (kernels before 6.6).
    Qdisc,
}

/// The state file for `pin_dir`: `$ORCA_STATE_DIR` (default `/run/orca`, which like a bpffs is
/// emptied at boot) / `install-<hash of pin_dir>.json`.
pub fn state_file(pin_dir: &Path) -> PathBuf {
    let dir = std::env::var_os("ORCA_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or("/run/orca".into());
    let hash = crate::build::hash::sha256(pin_dir.as_os_str().as_encoded_bytes());
    dir.join(format!("install-{}.json", &hash[..16]))
}

impl Manifest {
    pub fn new(pin_dir: &Path) -> Manifest {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Manifest {
            pin_dir: pin_dir.to_path_buf(),
            orca_version: env!("CARGO_PKG_VERSION").into(),
            installed_at: now,
            ..Default::default()
        }
    }

    /// The manifest for `pin_dir`, if something is installed there.
    pub fn read(pin_dir: &Path) -> Result<Option<Manifest>> {
        let path = state_file(pin_dir);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self) -> Result<()> {
        crate::paths::write_atomic(&state_file(&self.pin_dir), &serde_json::to_vec_pretty(self)?)
    }

    pub fn remove(pin_dir: &Path) -> Result<()> {
        let path = state_file(pin_dir);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Creates `dir` (and missing parents), recording each folder it created.
    pub fn create_dir(&mut self, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut d = dir;
        while !d.exists() {
            missing.push(d.to_path_buf());
            d = d.parent().unwrap_or(Path::new("/"));
        }
        for m in missing.into_iter().rev() {
            std::fs::create_dir(&m).with_context(|| format!("creating {}", m.display()))?;
            self.dirs.push(m);
        }
        self.save()
    }
}
