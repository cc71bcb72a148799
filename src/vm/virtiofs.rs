//! virtiofs: the host's files for kernels without 9p (Debian's `-cloud-amd64` flavour).
//!
//! One virtiofsd per share, each in its own process group through `crate::process`, killed with
//! the VM. orca binds the vhost-user socket itself, inside the VM's temp dir, and hands the
//! listening descriptor to virtiofsd (`--fd`): nothing to wait for before QEMU connects, and the
//! C virtiofsd writes no pid file under /run (it only does so for `--socket-path`). virtiofsd
//! leaves on its own once QEMU closes the connection.
//!
//! 9p stays the default whenever the kernel has it; `ORCA_SHARE=virtiofs` forces virtiofs on a
//! kernel that has both (for testing and measuring), `ORCA_SHARE=9p` forces 9p. virtiofsd fills
//! guest pages behind TCG's back, so a TCG guest with virtiofs shares keeps the kernel's zeroing of
//! new pages (see `qemu::kernel_cmdline`), and with it virtiofs boots no faster than 9p; see
//! docs/decisions.md, "9p stays the default share".
//! `ORCA_VIRTIOFSD` names the virtiofsd binary when it is not in a usual place.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};

use super::share::Share;
use crate::error::{Exit, Fail};
use crate::kernel::Prepared;
use crate::kernel::kconfig::ShareFs;

/// Where virtiofsd is looked for, after `PATH`: Debian 12's QEMU ships the C one in
/// `/usr/lib/qemu` (package qemu-system-common); other distributions use `/usr/libexec`.
const PLACES: &[&str] = &["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"];

/// The descriptor number virtiofsd receives its listening socket on.
const LISTEN_FD: i32 = 3;

/// How the guest of `k` mounts the host's files: 9p when the kernel has it, else virtiofs (which
/// then needs virtiofsd on the host, exit 3 naming the package if missing). A kernel with neither
/// gets 9p here, so that the config check names every missing option (exit 5).
/// `ORCA_SHARE=virtiofs|9p` overrides the choice.
pub fn choose(k: &Prepared) -> Result<ShareFs> {
    let forced = std::env::var("ORCA_SHARE").ok().filter(|s| !s.is_empty());
    let fs = match forced.as_deref() {
        None => k.config.share_fs().unwrap_or(ShareFs::NineP),
        Some("9p") => ShareFs::NineP,
        Some("virtiofs") => ShareFs::Virtiofs,
        Some(other) => {
            return Err(crate::error::usage(
                format!("ORCA_SHARE={other} is not a way to share the host's files"),
                "set ORCA_SHARE to 9p or virtiofs, or unset it to let orca choose",
            ));
        }
    };
    if fs == ShareFs::Virtiofs {
        find().map_err(|e| {
            let why = if forced.is_some() {
                "ORCA_SHARE=virtiofs asks for virtiofs".to_string()
            } else {
                format!("kernel {} ({}) has no 9p, only virtiofs", k.version, k.release)
            };
            anyhow::Error::new(Fail::new(Exit::Infra, format!("{why}, but {e}")).hint(
                "install virtiofsd (Debian 12: apt-get install qemu-system-common, which puts it in \
                     /usr/lib/qemu/virtiofsd; newer Debian: apt-get install virtiofsd), or choose a kernel \
                     with 9p (`orca kernel list`)",
            ))
        })?;
    }
    Ok(fs)
}

/// The virtiofsd binary: `ORCA_VIRTIOFSD` when set, else `virtiofsd` on `PATH`, else the usual
/// places.
pub fn find() -> std::result::Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ORCA_VIRTIOFSD").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if crate::process::is_executable(&p) {
            Ok(p)
        } else {
            Err(format!("ORCA_VIRTIOFSD={} is not an executable file", p.display()))
        };
    }
    crate::process::on_path("virtiofsd")
        .or_else(|| {
            PLACES
                .iter()
                .map(PathBuf::from)
                .find(|p| crate::process::is_executable(p))
        })
        .ok_or_else(|| format!("no virtiofsd was found (looked on PATH and in {})", PLACES.join(", ")))
}

/// Whether `bin` is the Rust virtiofsd (its own `--sandbox` flag) rather than QEMU's C one
/// (`-o sandbox=`). Both take `--fd` and the `-o source=`/`-o cache=` options.
fn is_rust(bin: &Path) -> bool {
    static RUST: OnceLock<bool> = OnceLock::new();
    *RUST.get_or_init(|| {
        crate::process::run(
            Command::new(bin).arg("--help"),
            "virtiofsd --help",
            Duration::from_secs(5),
        )
        .map(|o| format!("{}{}", o.stdout_str(), o.stderr_str()).contains("--shared-dir"))
        .unwrap_or(false)
    })
}

/// The daemons serving a VM's shares. Dropping them kills them.
pub struct Daemons {
    /// Each with its share's host directory and its log; a `Child` kills its group when dropped.
    children: Vec<(crate::process::Child, PathBuf, PathBuf)>,
}

impl Daemons {
    /// A failure naming the first daemon that has exited, with the end of its log; `None` while
    /// all run. A guest whose virtiofsd died waits forever on its mount, so the boot checks this.
    pub fn exited(&mut self) -> Option<anyhow::Error> {
        for (child, source, log) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&*log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                let mut tail: Vec<&str> = tail.into_iter().rev().collect();
                if tail.is_empty() {
                    tail.push("(it logged nothing)");
                }
                return Some(anyhow::Error::new(
                    Fail::new(
                        Exit::Infra,
                        format!(
                            "virtiofsd sharing {} exited ({status}) while the guest booted:\n  {}",
                            source.display(),
                            tail.join("\n  ")
                        ),
                    )
                    .hint("ORCA_SHARE=9p uses 9p instead, if the kernel has it"),
                ));
            }
        }
        None
    }
}

/// Starts one virtiofsd per share; share `i` listens on `<dir>/fs<i>.sock` (see
/// [`socket_path`]). `cache` is the virtiofsd cache mode of the host root (`always` or `auto`);
/// declared shares get `auto`, since they may change on the host while the VM runs. Its log goes
/// to `<dir>/virtiofsd<i>.log`.
pub fn start(shares: &[Share], dir: &Path, root_cache: &str) -> Result<Daemons> {
    let bin = find().map_err(|e| crate::fail!(Exit::Infra, "{e}"))?;
    let rust = is_rust(&bin);
    let mut children = Vec::new();
    for (i, share) in shares.iter().enumerate() {
        let sock = socket_path(dir, i);
        let listener = UnixListener::bind(&sock).with_context(|| format!("creating {}", sock.display()))?;
        let fd: OwnedFd = listener.into();
        let cache = if i == 0 { root_cache } else { "auto" };
        let mut cmd = Command::new(&bin);
        cmd.arg(format!("--fd={LISTEN_FD}"))
            .arg("-o")
            .arg(format!("source={}", share.source.display()))
            .arg("-o")
            .arg(format!("cache={cache}"));
        // chroot: the namespace sandbox needs pivot_root, which fails in containers; orca runs
        // as root here. Read-only shares get a read-only view (see `read_only_view`).
        if rust {
            cmd.arg("--sandbox=chroot");
        } else {
            cmd.args(["-o", "sandbox=chroot"]);
        }
        let log_path = dir.join(format!("virtiofsd{i}.log"));
        let log = std::fs::File::create(&log_path)?;
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let raw = fd.as_raw_fd();
        // SAFETY: dup2 and fcntl are async-signal-safe; the new descriptor has no close-on-exec flag.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself would keep close-on-exec, so that case clears the flag.
                let r = if raw == LISTEN_FD {
                    libc::fcntl(raw, libc::F_SETFD, 0)
                } else {
                    libc::dup2(raw, LISTEN_FD)
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        if share.readonly {
            read_only_view(&mut cmd, &share.source)?;
        }
        let what = if share.readonly {
            format!("virtiofsd (read-only view of {})", share.source.display())
        } else {
            "virtiofsd".to_string()
        };
        children.push((crate::process::spawn(&mut cmd, &what)?, share.source.clone(), log_path));
        // The child has its copy; ours closes here.
        drop(fd);
    }
    Ok(Daemons { children })
}

/// Makes `cmd` (virtiofsd) see `source` read-only, recursively, in a private mount namespace of
/// its own, so a read-only share stays read-only even if the guest's root remounts it: neither
/// virtiofsd has a read-only mode orca can count on (9p gets QEMU's `readonly=on`). Nothing
/// changes outside that namespace. Needs `mount_setattr` (Linux 5.12).
#[cfg(target_os = "linux")]
fn read_only_view(cmd: &mut Command, source: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    /// `struct mount_attr` of `mount_setattr(2)`.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_int = 0x8000;
    let path = std::ffi::CString::new(source.as_os_str().as_bytes())
        .map_err(|_| crate::fail!(Exit::Usage, "share source {} contains a NUL byte", source.display()))?;
    // The root is a mount already; binding it onto itself would hide behind the process's root.
    let bind = source != Path::new("/");
    // SAFETY: only system calls between fork and exec, on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let check = |r: libc::c_long| {
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            check(libc::unshare(libc::CLONE_NEWNS) as libc::c_long)?;
            let none = std::ptr::null();
            let root = c"/".as_ptr();
            check(libc::mount(none, root, none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) as libc::c_long)?;
            if bind {
                let p = path.as_ptr();
                check(libc::mount(p, p, none, libc::MS_BIND | libc::MS_REC, std::ptr::null()) as libc::c_long)?;
            }
            let attr = MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            check(libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                path.as_ptr(),
                AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            ))
        });
    }
    Ok(())
}

/// Elsewhere there is no virtiofs guest to serve: orca boots VMs on Linux hosts only.
#[cfg(not(target_os = "linux"))]
fn read_only_view(_cmd: &mut Command, _source: &Path) -> Result<()> {
    Ok(())
}

/// The vhost-user socket of share `i` in the VM's directory.
pub fn socket_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("fs{i}.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_live_in_the_vm_dir() {
        assert_eq!(socket_path(Path::new("/t/vm-1"), 2), PathBuf::from("/t/vm-1/fs2.sock"));
    }
}
