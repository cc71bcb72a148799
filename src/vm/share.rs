//! A share: a host directory the guest mounts, over 9p (served by QEMU) or virtiofs (served by
//! virtiofsd). Below both `qemu`, which puts shares on the command line, and `virtiofs`, which
//! starts their daemons.

use std::path::PathBuf;

/// A share: the host directory, its tag in the guest, and whether it is read-only.
#[derive(Debug, Clone)]
pub struct Share {
    pub tag: String,
    pub source: PathBuf,
    pub readonly: bool,
}
