//! What loading programs needs from the host: Linux, privileges, and a mounted BPF filesystem.

use std::path::Path;

use anyhow::Result;

use crate::error::{Exit, Fail};

/// `BPF_FS_MAGIC` from `linux/magic.h`.
const BPF_FS_MAGIC: i64 = 0xcafe4a11;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// Refuses on a non-Linux host, or without root, CAP_BPF or CAP_SYS_ADMIN.
pub fn check_can_load() -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::Usage,
                format!(
                    "loading eBPF programs needs a Linux kernel; this host runs {}",
                    std::env::consts::OS
                ),
            )
            .hint("run it in a Linux VM: orca run -- orca install"),
        ));
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 || has_capability(CAP_BPF) || has_capability(CAP_SYS_ADMIN) {
        return Ok(());
    }
    Err(anyhow::Error::new(
        Fail::new(
            Exit::Usage,
            "loading and pinning eBPF programs needs root (or CAP_BPF and CAP_NET_ADMIN)",
        )
        .hint("run it with sudo, e.g. `sudo orca install`"),
    ))
}

/// Whether the process has capability `cap` in its effective set.
fn has_capability(cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << cap) != 0)
}

/// Whether `path` lies on a BPF filesystem.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we own.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// Makes sure `pin_dir` can hold pins: the nearest existing folder on its path must be on a bpffs.
/// When that folder is `/sys/fs/bpf` itself and nothing is mounted there, it is mounted.
pub fn ensure_bpffs(pin_dir: &Path) -> Result<()> {
    let mut existing = pin_dir;
    while !existing.exists() {
        existing = existing.parent().unwrap_or(Path::new("/"));
    }
    if is_bpffs(existing) {
        return Ok(());
    }
    let sys = Path::new("/sys/fs/bpf");
    if pin_dir.starts_with(sys) && existing == sys {
        crate::ui::status("mounting the BPF filesystem at /sys/fs/bpf");
        // SAFETY: constant, NUL-terminated arguments.
        let rc = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                c"/sys/fs/bpf".as_ptr(),
                c"bpf".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::Infra,
                format!("cannot mount the BPF filesystem at /sys/fs/bpf: {e}"),
            )
            .hint("mount it yourself: sudo mount -t bpf bpf /sys/fs/bpf"),
        ));
    }
    Err(anyhow::Error::new(
        Fail::new(
            Exit::Usage,
            format!(
                "{} is not on a BPF filesystem, so nothing can be pinned there",
                existing.display()
            ),
        )
        .hint(format!("mount one: sudo mount -t bpf bpf {}", existing.display())),
    ))
}
