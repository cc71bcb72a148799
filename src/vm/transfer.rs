//! Copying files between host and guest: tar streams with a sha256, unpacked so that nothing
//! lands outside its destination.
//!
//! The rules (host and guest apply the same ones to what they receive):
//! - A transfer carries one item (a file, a directory tree or a symlink) as a tar stream whose
//!   single top-level entry is named [`TOP`]. The receiver checks the stream's length and sha256
//!   before writing anything, unpacks it beside the destination and renames it into place, so a
//!   failed copy leaves the destination as it was.
//! - Every entry's path must be `TOP` or below it, with plain components only: no `..`, no
//!   absolute paths. Only regular files, directories and symlinks are accepted; a symlink must be
//!   relative and point inside the item. Anything else refuses the whole transfer.
//! - Guest paths are absolute, with no `.` or `..` components ([`guest_path`]).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

pub use super::protocol::TOP;
use crate::error::Exit;
use crate::fail;

/// Checks a guest path: absolute and normal (no `.`, `..` or empty components).
pub fn guest_path(p: &str) -> Result<String> {
    if !p.starts_with('/') {
        return Err(crate::error::usage(
            format!("guest path `{p}` is not absolute"),
            "write guest paths from the root, e.g. NAME:/tmp/file",
        ));
    }
    let trimmed = p.trim_end_matches('/');
    for c in trimmed.split('/').skip(1) {
        if c.is_empty() || c == "." || c == ".." {
            return Err(crate::error::usage(
                format!("guest path `{p}` has a `{c}` component"),
                "write the path without `.`, `..` or doubled slashes",
            ));
        }
    }
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    })
}

/// Writes `src` (a file, directory or symlink) as a transfer stream into `w`.
pub fn pack(src: &Path, w: impl Write) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    if meta.is_dir() {
        b.append_dir_all(TOP, src)
            .with_context(|| format!("packing {}", src.display()))?;
    } else if meta.is_file() || meta.file_type().is_symlink() {
        b.append_path_with_name(src, TOP)
            .with_context(|| format!("packing {}", src.display()))?;
    } else {
        bail!("{} is neither a file, a directory nor a symlink", src.display());
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// Unpacks a verified transfer stream so that its item ends up at `dest` (replacing what was
/// there). The parent of `dest` is created if needed.
pub fn unpack(stream: impl Read, dest: &Path) -> Result<()> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let stage = tempfile::Builder::new()
        .prefix(".orca-cp-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging directory in {}", parent.display()))?;
    let mut ar = tar::Archive::new(stream);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let mut seen_top = false;
    for entry in ar.entries().context("reading the transfer stream")? {
        let mut entry = entry.context("reading the transfer stream")?;
        let path = entry.path().context("an entry with an unreadable name")?.into_owned();
        check_entry(&path, &entry)?;
        seen_top |= path == Path::new(TOP);
        if !entry
            .unpack_in(stage.path())
            .with_context(|| format!("unpacking {}", path.display()))?
        {
            bail!(
                "refused entry {}: it would land outside the destination",
                path.display()
            );
        }
    }
    if !seen_top {
        bail!("the transfer stream holds no item");
    }
    let item = stage.path().join(TOP);
    if let Ok(m) = std::fs::symlink_metadata(dest) {
        if m.is_dir() {
            std::fs::remove_dir_all(dest).with_context(|| format!("replacing {}", dest.display()))?;
        } else if std::fs::symlink_metadata(&item).map(|i| i.is_dir()).unwrap_or(false) {
            std::fs::remove_file(dest).with_context(|| format!("replacing {}", dest.display()))?;
        }
    }
    std::fs::rename(&item, dest).with_context(|| format!("moving the copy to {}", dest.display()))?;
    Ok(())
}

fn check_entry<R: Read>(path: &Path, entry: &tar::Entry<R>) -> Result<()> {
    let mut comps = path.components();
    if comps.next() != Some(Component::Normal(TOP.as_ref())) || !comps.all(|c| matches!(c, Component::Normal(_))) {
        return Err(fail!(
            Exit::Usage,
            "refused entry `{}`: it escapes the copied item",
            path.display()
        ));
    }
    let kind = entry.header().entry_type();
    match kind {
        tar::EntryType::Regular | tar::EntryType::Directory => Ok(()),
        tar::EntryType::Symlink => {
            let target = entry.link_name()?.map(|t| t.into_owned()).unwrap_or_default();
            // Resolve the target lexically from the link's folder; it must stay inside TOP.
            let mut depth: i64 = path.components().count() as i64 - 1;
            if target.is_absolute() {
                return Err(fail!(
                    Exit::Usage,
                    "refused symlink `{}` → `{}`: absolute targets point outside the copy",
                    path.display(),
                    target.display()
                ));
            }
            for c in target.components() {
                match c {
                    Component::ParentDir => depth -= 1,
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
                if depth < 1 {
                    return Err(fail!(
                        Exit::Usage,
                        "refused symlink `{}` → `{}`: it points outside the copy",
                        path.display(),
                        target.display()
                    ));
                }
            }
            Ok(())
        }
        other => Err(fail!(
            Exit::Usage,
            "refused entry `{}`: {:?} entries are not copied",
            path.display(),
            other
        )),
    }
}

/// Cuts a byte stream into chunks for the wire, counting and hashing as it goes.
pub struct Chunker<F: FnMut(&[u8]) -> std::io::Result<()>> {
    buf: Vec<u8>,
    send: F,
    hash: Sha256,
    size: u64,
}

impl<F: FnMut(&[u8]) -> std::io::Result<()>> Chunker<F> {
    pub fn new(send: F) -> Self {
        Chunker {
            buf: Vec::with_capacity(super::protocol::CHUNK),
            send,
            hash: Sha256::new(),
            size: 0,
        }
    }

    /// Sends what is left; returns the stream's length and sha256.
    pub fn finish(mut self) -> std::io::Result<(u64, String)> {
        self.flush_buf()?;
        Ok((self.size, hex::encode(self.hash.finalize())))
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            (self.send)(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<F: FnMut(&[u8]) -> std::io::Result<()>> Write for Chunker<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hash.update(data);
        self.size += data.len() as u64;
        let mut rest = data;
        while !rest.is_empty() {
            let n = (super::protocol::CHUNK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.buf.len() == super::protocol::CHUNK {
                self.flush_buf()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Receives a stream's chunks into a temporary file beside `near`, then checks it.
pub struct Receiver {
    file: tempfile::NamedTempFile,
    hash: Sha256,
    size: u64,
}

impl Receiver {
    pub fn new(near: &Path) -> Result<Receiver> {
        let dir = near
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = tempfile::Builder::new()
            .prefix(".orca-recv-")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        Ok(Receiver {
            file,
            hash: Sha256::new(),
            size: 0,
        })
    }

    pub fn chunk(&mut self, data: &[u8]) -> Result<()> {
        self.hash.update(data);
        self.size += data.len() as u64;
        self.file.write_all(data)?;
        Ok(())
    }

    /// Checks length and hash, then unpacks the item to `dest`.
    pub fn finish(self, size: u64, sha256: &str, dest: &Path) -> Result<()> {
        let got = hex::encode(self.hash.finalize());
        if size != self.size || got != sha256 {
            return Err(fail!(
                Exit::Infra,
                "the copy arrived damaged ({} bytes, sha256 {got}; expected {size} bytes, sha256 {sha256})",
                self.size
            ));
        }
        let mut f = self.file.reopen()?;
        std::io::Seek::rewind(&mut f)?;
        unpack(std::io::BufReader::new(f), dest)
    }
}

/// A host path for `orca cp` or an artifact, checked against `root`: relative paths are taken
/// from `root` and must stay inside it, also through symlinks already on disk; absolute paths
/// are the user's explicit choice but may not contain `..`.
pub fn host_path(p: &Path, root: &Path) -> Result<PathBuf> {
    if p.components().any(|c| c == Component::ParentDir) {
        let resolved = normalize(&root.join(p));
        if p.is_absolute() || !resolved.starts_with(normalize(root)) {
            return Err(crate::error::usage(
                format!("host path `{}` leaves {}", p.display(), root.display()),
                "name a path inside the current directory (or an absolute path without `..`)",
            ));
        }
    }
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let full = root.join(p);
    // The deepest existing ancestor, with symlinks resolved, must still be inside root.
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut probe = full.clone();
    loop {
        if let Ok(real) = probe.canonicalize() {
            if !real.starts_with(&real_root) {
                return Err(crate::error::usage(
                    format!(
                        "host path `{}` leaves {} through a symlink",
                        p.display(),
                        root.display()
                    ),
                    "copy to a path inside the current directory, or give an absolute path",
                ));
            }
            break;
        }
        if !probe.pop() {
            break;
        }
    }
    Ok(full)
}

/// Removes `.` and folds `..` lexically.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(src: &Path, dest: &Path) -> Result<()> {
        let mut bytes = Vec::new();
        pack(src, &mut bytes)?;
        unpack(&bytes[..], dest)
    }

    #[test]
    fn guest_paths_must_be_absolute_and_normal() {
        assert_eq!(guest_path("/tmp/x/").unwrap(), "/tmp/x");
        assert_eq!(guest_path("/").unwrap(), "/");
        for bad in ["tmp/x", "/tmp/../etc", "/a//b", "/a/./b", ""] {
            let e = guest_path(bad).unwrap_err();
            assert_eq!(crate::error::exit_of(&e), Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn files_trees_and_inner_symlinks_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a.o"), b"object").unwrap();
        std::os::unix::fs::symlink("sub/a.o", src.join("link")).unwrap();
        roundtrip(&src, &t.path().join("out/tree")).unwrap();
        assert_eq!(std::fs::read(t.path().join("out/tree/link")).unwrap(), b"object");
        roundtrip(&src.join("sub/a.o"), &t.path().join("single.o")).unwrap();
        assert_eq!(std::fs::read(t.path().join("single.o")).unwrap(), b"object");
        // A second copy replaces the first.
        std::fs::write(src.join("sub/a.o"), b"v2").unwrap();
        roundtrip(&src, &t.path().join("out/tree")).unwrap();
        assert_eq!(std::fs::read(t.path().join("out/tree/sub/a.o")).unwrap(), b"v2");
    }

    fn evil(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h.clone(), TOP, &[][..]).unwrap();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        // Bypass the builder's own path checks: write the raw name into the header.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn escaping_entries_are_refused_and_nothing_is_written() {
        let t = tempfile::tempdir().unwrap();
        let dest = t.path().join("dest");
        for (name, kind, link) in [
            ("orca-item/../../evil", tar::EntryType::Regular, None),
            ("/etc/evil", tar::EntryType::Regular, None),
            ("other", tar::EntryType::Regular, None),
            ("orca-item/l", tar::EntryType::Symlink, Some("/etc/passwd")),
            ("orca-item/l", tar::EntryType::Symlink, Some("../../x")),
            ("orca-item/h", tar::EntryType::Link, Some("/etc/passwd")),
            ("orca-item/d", tar::EntryType::Char, None),
        ] {
            let err = unpack(&evil(name, kind, link)[..], &dest).unwrap_err();
            assert!(err.to_string().contains("refused"), "{name}: {err}");
            assert!(!dest.exists(), "{name}");
        }
        assert!(!t.path().join("evil").exists());
    }

    #[test]
    fn host_paths_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("proj");
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
        assert_eq!(
            host_path(Path::new("build/x.o"), &root).unwrap(),
            root.join("build/x.o")
        );
        assert_eq!(
            host_path(Path::new("build/../y"), &root).unwrap(),
            root.join("build/../y")
        );
        for bad in ["../x", "build/../../x", "out/passwd", "/tmp/../etc/x"] {
            let e = host_path(Path::new(bad), &root).unwrap_err();
            assert_eq!(crate::error::exit_of(&e), Exit::Usage, "{bad}");
        }
        assert_eq!(
            host_path(Path::new("/tmp/abs"), &root).unwrap(),
            PathBuf::from("/tmp/abs")
        );
    }

    #[test]
    fn damaged_streams_are_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), b"data").unwrap();
        let mut bytes = Vec::new();
        pack(&t.path().join("f"), &mut bytes).unwrap();
        let mut r = Receiver::new(&t.path().join("g")).unwrap();
        r.chunk(&bytes).unwrap();
        let e = r.finish(bytes.len() as u64, "00", &t.path().join("g")).unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert!(!t.path().join("g").exists());
    }
}
