//! The cgroup v2 hierarchy, for attaching cgroup_skb programs: finding (or mounting) it, a
//! private child cgroup, and moving this process in and out of it.
//!
//! Every piece undoes itself on drop: the child is removed, the process moved back, a mount
//! made here unmounted. A child left by a killed run (`orca-suite-<pid>` of a dead pid) is
//! removed by the next run.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where a guest without a cgroup2 mount gets one; the conventional place.
const MOUNT_POINT: &str = "/sys/fs/cgroup";

/// The mounted cgroup v2 hierarchy.
pub struct Hierarchy {
    pub root: PathBuf,
    mounted_here: bool,
}

impl Hierarchy {
    /// The existing cgroup2 mount, or a new one at /sys/fs/cgroup when there is none.
    pub fn open() -> Result<Hierarchy> {
        if let Some(root) = find_mount()? {
            return Ok(Hierarchy {
                root,
                mounted_here: false,
            });
        }
        let target = Path::new(MOUNT_POINT);
        let empty = std::fs::read_dir(target)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            bail!("no cgroup2 hierarchy is mounted and {MOUNT_POINT} is not an empty directory to mount one on");
        }
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let (src, dst, fs) = (c("cgroup2"), c(MOUNT_POINT), c("cgroup2"));
        // SAFETY: valid C strings; no data argument.
        if unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) } != 0 {
            let e = std::io::Error::last_os_error();
            bail!("mounting cgroup2 on {MOUNT_POINT}: {e} (is CONFIG_CGROUPS set?)");
        }
        Ok(Hierarchy {
            root: target.to_path_buf(),
            mounted_here: true,
        })
    }

    /// The cgroup this process is in.
    pub fn own(&self) -> Result<PathBuf> {
        let text = std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
        let rel = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .context("/proc/self/cgroup has no cgroup v2 entry")?;
        Ok(self.root.join(rel.trim_start_matches('/')))
    }

    /// Creates `orca-suite-<pid>` below the root, after removing those of dead runs.
    pub fn child(&self) -> Result<Child> {
        sweep(&self.root);
        let path = self.root.join(format!("orca-suite-{}", std::process::id()));
        if path.exists() {
            let _ = std::fs::remove_dir(&path);
        }
        std::fs::create_dir(&path).with_context(|| format!("creating cgroup {}", path.display()))?;
        Ok(Child { path })
    }
}

impl Drop for Hierarchy {
    fn drop(&mut self) {
        if self.mounted_here {
            let dst = std::ffi::CString::new(MOUNT_POINT).unwrap();
            // SAFETY: a valid C string.
            unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// A cgroup of our own, removed on drop (once no process is left in it).
pub struct Child {
    pub path: PathBuf,
}

impl Child {
    /// The cgroup id: on cgroup v2 it is the directory's inode number, as bpf_skb_cgroup_id
    /// returns it.
    pub fn id(&self) -> Result<u64> {
        cgroup_id(&self.path)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // A cgroup whose last process just left may be busy for a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

pub fn cgroup_id(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("stat {}", path.display()))?
        .ino())
}

/// This whole process moved into a cgroup; moved back on drop.
pub struct Moved {
    back: PathBuf,
}

impl Moved {
    pub fn into(cgroup: &Path, back: &Path) -> Result<Moved> {
        write_pid(cgroup)?;
        Ok(Moved {
            back: back.to_path_buf(),
        })
    }
}

impl Drop for Moved {
    fn drop(&mut self) {
        let _ = write_pid(&self.back);
    }
}

fn write_pid(cgroup: &Path) -> Result<()> {
    let procs = cgroup.join("cgroup.procs");
    std::fs::write(&procs, std::process::id().to_string()).with_context(|| format!("writing {}", procs.display()))
}

/// The id of this process's own cgroup, if a cgroup2 hierarchy is mounted.
pub fn own_cgroup_id() -> Option<u64> {
    let root = find_mount().ok()??;
    let h = Hierarchy {
        root,
        mounted_here: false,
    };
    cgroup_id(&h.own().ok()?).ok()
}

fn find_mount() -> Result<Option<PathBuf>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    Ok(cgroup2_in(&text))
}

/// The mount point of the whole cgroup2 hierarchy in a mountinfo listing.
fn cgroup2_in(text: &str) -> Option<PathBuf> {
    // Fields: id parent major:minor root mountpoint options ... - fstype source superoptions
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mut f = left.split_whitespace();
        let root = f.nth(3)?;
        let point = f.next()?;
        (fstype == "cgroup2" && root == "/").then(|| PathBuf::from(point.replace("\\040", " ")))
    })
}

fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("orca-suite-").and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let alive =
            unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_root_mount_among_v1_ones() {
        let info = "\
30 23 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
35 30 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw
36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 22 0:31 /sub /mnt/bound rw - cgroup2 cgroup2 rw
";
        assert_eq!(cgroup2_in(info), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(cgroup2_in("36 30 0:32 / /x rw - cgroup cgroup rw"), None);
    }
}
