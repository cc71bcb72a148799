//! `orca install` and `orca uninstall`: the built programs loaded into the running kernel, pinned
//! under a BPF filesystem folder (default `/sys/fs/bpf/orca`), and removed again.
//!
//! Layout of the pins, one folder per object:
//!
//! ```text
//! /sys/fs/bpf/orca/<object>/programs/<program>
//! /sys/fs/bpf/orca/<object>/maps/<map>
//! /sys/fs/bpf/orca/<object>/links/<program>@<iface>     (with --iface)
//! ```
//!
//! A bpffs holds only pins, so the record of exactly what was pinned (the [`Manifest`]) lives in
//! a state file beside it ([`manifest::state_file`]). `orca uninstall` removes what the manifest
//! lists and nothing else.

#[cfg(target_os = "linux")]
pub mod host;
#[cfg(target_os = "linux")]
mod load;
pub mod manifest;
pub mod status;

use std::path::PathBuf;

#[cfg(target_os = "linux")]
pub use load::install;
pub use manifest::{Manifest, Pinned, What};

/// Where programs are pinned unless `--pin-dir` says otherwise.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/orca";

/// What `orca install` is asked to do.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The folder of built objects (`*.o`), e.g. `build/ebpf`.
    pub objects: PathBuf,
    /// The bpffs folder to pin under.
    pub pin_dir: PathBuf,
    /// Attach the XDP and TC programs to this interface, pinning the links.
    pub iface: Option<String>,
}

/// Removes everything the manifest for `pin_dir` lists: links first (which detaches them), then
/// programs and maps, then the folders install created if they are empty. Returns the manifest
/// that was undone, or `None` when nothing was installed there.
#[cfg(target_os = "linux")]
pub fn uninstall(pin_dir: &std::path::Path) -> anyhow::Result<Option<Manifest>> {
    host::check_can_load()?;
    let Some(m) = Manifest::read(pin_dir)? else {
        return Ok(None);
    };
    let problems = load::undo(&m);
    if !problems.is_empty() {
        return Err(crate::fail!(
            crate::error::Exit::Infra,
            "uninstall left {} pin(s) in place:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    Manifest::remove(pin_dir)?;
    Ok(Some(m))
}
