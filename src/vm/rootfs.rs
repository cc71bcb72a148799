//! Provisioned roots: an image's root with the writes of its `provision` script applied.
//!
//! A guest writes into a tmpfs overlay over its read-only root. After `provision`, the overlay's
//! upper directory is archived in the guest with the image's own GNU tar (`--xattrs`, so the
//! overlay's opaque-directory marks travel with it) and written to the host. [`apply`] then makes
//! a new root from the base root and that archive: the base is copied with hard links
//! (`cp -a --link`, cheap), and each entry of the archive is applied as overlayfs would show it:
//! - a character device 0:0 is a whiteout: the path is removed;
//! - a directory marked `trusted.overlay.opaque=y` hides everything below it in the base;
//! - anything else replaces what the base had at that path. A replaced file is unlinked first,
//!   so a hard link never carries a write back into the base.
//!
//! The result is written beside its final place and renamed into it, so a kill at any moment
//! leaves either no entry or a whole one.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::error::Exit;
use crate::fail;

/// The extended attribute overlayfs marks an opaque directory with, as GNU tar records it.
const OPAQUE: &str = "SCHILY.xattr.trusted.overlay.opaque";

/// Makes `out` from `base` with the upper-directory archive `layer` applied. `out` must not exist.
pub fn apply(base: &Path, layer: impl Read, out: &Path) -> Result<()> {
    let parent = out.parent().context("the provisioned root has no parent directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-root-{}-", std::process::id()))
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let work = tmp.path().join("root");
    let cp = crate::process::run(
        std::process::Command::new("cp").arg("-a").arg("--link").arg(base).arg(&work),
        "cp",
        Duration::from_secs(600),
    )?;
    if !cp.status.success() {
        return Err(fail!(
            Exit::Infra,
            "cannot copy {} with hard links: {}",
            base.display(),
            String::from_utf8_lossy(&cp.stderr).trim()
        ));
    }
    apply_in_place(&work, layer)?;
    std::fs::rename(&work, out).with_context(|| format!("moving the provisioned root to {}", out.display()))?;
    Ok(())
}

/// Applies the archive to `root` in place (see the module's rules).
pub fn apply_in_place(root: &Path, layer: impl Read) -> Result<()> {
    let mut ar = tar::Archive::new(layer);
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    // Directory times are set last: writing below a directory changes its mtime.
    let mut dir_times = Vec::new();
    for entry in ar.entries().context("reading the provision layer")? {
        let mut entry = entry.context("reading the provision layer")?;
        let rel = relative(&entry.path().context("a provision layer entry has a bad path")?)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let dest = root.join(&rel);
        inside(root, &dest)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        let whiteout = kind.is_character_special()
            && header.device_major().ok().flatten() == Some(0)
            && header.device_minor().ok().flatten() == Some(0);
        if whiteout {
            remove(&dest)?;
            continue;
        }
        if kind.is_dir() {
            let opaque = entry
                .pax_extensions()
                .ok()
                .flatten()
                .map(|exts| {
                    exts.flatten()
                        .any(|e| e.key() == Ok(OPAQUE) && matches!(e.value_bytes(), b"y" | b"y\0"))
                })
                .unwrap_or(false);
            match std::fs::symlink_metadata(&dest) {
                Ok(m) if m.is_dir() => {
                    if opaque {
                        for child in std::fs::read_dir(&dest)? {
                            remove(&child?.path())?;
                        }
                    }
                }
                Ok(_) => remove(&dest)?,
                Err(_) => {}
            }
            std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
            let mode = header.mode().unwrap_or(0o755);
            let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
            let mtime = header.mtime().unwrap_or(0);
            chown(&dest, uid as u32, gid as u32)?;
            std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            dir_times.push((dest, mtime));
            continue;
        }
        // A file, symlink, hard link, fifo or device: replace whatever the base had.
        remove(&dest)?;
        if !entry.unpack_in(root).with_context(|| format!("writing {}", dest.display()))? {
            bail!("the provision layer's entry {} would land outside the root", rel.display());
        }
    }
    for (dir, mtime) in dir_times.into_iter().rev() {
        let t = libc::timespec {
            tv_sec: mtime as libc::time_t,
            tv_nsec: 0,
        };
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())?;
        // SAFETY: a valid C string and two timespecs.
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    }
    Ok(())
}

/// The entry's path with `./` and trailing slashes dropped; `..` or an absolute path refuses the layer.
fn relative(p: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            _ => bail!("the provision layer has an entry outside its root: {}", p.display()),
        }
    }
    Ok(out)
}

/// Refuses a destination whose parent resolves (through symlinks) outside `root`.
fn inside(root: &Path, dest: &Path) -> Result<()> {
    let Some(parent) = dest.parent() else { return Ok(()) };
    let (Ok(root), Ok(parent)) = (root.canonicalize(), parent.canonicalize()) else {
        // A parent that does not exist yet is created below a checked one by the archive's order.
        return Ok(());
    };
    if !parent.starts_with(&root) {
        bail!("the provision layer writes through a symlink outside the root: {}", dest.display());
    }
    Ok(())
}

fn remove(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display())),
        Ok(_) => std::fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        Err(_) => Ok(()),
    }
}

fn chown(p: &Path, uid: u32, gid: u32) -> Result<()> {
    match std::os::unix::fs::lchown(p, Some(uid), Some(gid)) {
        Ok(()) => Ok(()),
        // Not root: the tree keeps the caller's ownership, as an unprivileged unpack does.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("setting the owner of {}", p.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    /// A layer as GNU tar writes an overlay's upper directory.
    fn layer() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        b.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), "./", &[][..]).unwrap();
        b.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), "./etc/", &[][..]).unwrap();
        b.append_data(&mut header(tar::EntryType::Regular, 0o644, 4), "./etc/changed", &b"new\n"[..])
            .unwrap();
        b.append_data(&mut header(tar::EntryType::Regular, 0o644, 6), "./etc/added", &b"added\n"[..])
            .unwrap();
        let mut wh = header(tar::EntryType::Char, 0, 0);
        wh.set_device_major(0).unwrap();
        wh.set_device_minor(0).unwrap();
        b.append_data(&mut wh, "./etc/gone", &[][..]).unwrap();
        // An opaque directory: its PAX header carries the overlay's mark.
        b.append_pax_extensions([(OPAQUE, &b"y"[..])]).unwrap();
        b.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), "./var/cache/", &[][..])
            .unwrap();
        b.append_data(&mut header(tar::EntryType::Regular, 0o644, 2), "./var/cache/fresh", &b"f\n"[..])
            .unwrap();
        let mut link = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut link, "./usr/bin/cc", "/usr/bin/clang").unwrap();
        b.into_inner().unwrap()
    }

    fn base(dir: &Path) -> PathBuf {
        let base = dir.join("base");
        for d in ["etc", "var/cache/apt", "usr/bin"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(base.join("etc/changed"), "old\n").unwrap();
        std::fs::write(base.join("etc/kept"), "kept\n").unwrap();
        std::fs::write(base.join("etc/gone"), "gone\n").unwrap();
        std::fs::write(base.join("var/cache/apt/pkgcache.bin"), "cache\n").unwrap();
        base
    }

    #[test]
    fn a_layer_applies_as_overlayfs_shows_it_and_the_base_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let base = base(dir.path());
        let out = dir.path().join("roots/provisioned");
        apply(&base, &layer()[..], &out).unwrap();
        let read = |p: &str| std::fs::read_to_string(out.join(p)).ok();
        assert_eq!(read("etc/changed").as_deref(), Some("new\n"));
        assert_eq!(read("etc/added").as_deref(), Some("added\n"));
        assert_eq!(read("etc/kept").as_deref(), Some("kept\n"));
        assert!(!out.join("etc/gone").exists(), "a whiteout removes the path");
        assert!(!out.join("var/cache/apt").exists(), "an opaque directory hides the base below it");
        assert_eq!(read("var/cache/fresh").as_deref(), Some("f\n"));
        assert_eq!(std::fs::read_link(out.join("usr/bin/cc")).unwrap(), Path::new("/usr/bin/clang"));
        // The base is as it was: no write went through a hard link.
        assert_eq!(std::fs::read_to_string(base.join("etc/changed")).unwrap(), "old\n");
        assert!(base.join("etc/gone").exists() && base.join("var/cache/apt/pkgcache.bin").exists());
        // Unchanged files share the base's inode.
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&base.join("etc/kept")), ino(&out.join("etc/kept")));
        // No temporary directory is left beside the result.
        let left: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn a_layer_that_escapes_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let base = base(dir.path());
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, "./etc/out", "/").unwrap();
        let mut f = header(tar::EntryType::Regular, 0o644, 2);
        // tar's builder refuses `..` itself; a symlink parent is the way out.
        b.append_data(&mut f, "./etc/out/tmp/escaped", &b"x\n"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let out = dir.path().join("roots/p");
        assert!(apply(&base, &bytes[..], &out).is_err());
        assert!(!out.exists());
        assert!(!Path::new("/tmp/escaped").exists());
    }
}
