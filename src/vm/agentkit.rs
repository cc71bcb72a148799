//! The agent kit: the host's orca binary together with its own dynamic loader and libraries, for
//! guests whose root is an image rather than the host's root.
//!
//! On the host root the agent is the host's orca at the same absolute path. An image (Debian 11,
//! Ubuntu 20.04, ...) has another C library, or none that fits, so the guest cannot run the host's
//! binary from the image. The kit carries the binary, the loader named by its `PT_INTERP` and every
//! library `ldd` resolves for it, as one cpio archive appended to the initramfs; init copies it to
//! `/run/orca/agent` in the new root and starts the agent through the kit's own loader
//! (`lib/<loader> --library-path lib orca agent ...`), so the image's libc is never used by orca.
//!
//! The archive is cached under `<cache>/agentkit/<sha256 of the binary>.cpio`, written atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::initramfs::Archive;
use crate::error::Exit;
use crate::fail;

/// Where init puts the kit in the guest's root.
pub const GUEST_DIR: &str = "/run/orca/agent";

/// Bumped when the archive's layout changes.
const LAYOUT: &str = "v1";

/// What `ldd` resolved for a binary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The dynamic loader (absolute path on the host), `None` for a static binary.
    pub loader: Option<PathBuf>,
    /// Shared libraries as (soname, host path).
    pub libs: Vec<(String, PathBuf)>,
}

/// Reads `ldd`'s output. A line the loader could not resolve (`=> not found`) is an error.
pub fn parse_ldd(text: &str) -> Result<Needs> {
    let mut n = Needs::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.contains("not a dynamic executable") || line.contains("statically linked") {
            continue;
        }
        let line = match line.rfind(" (0x") {
            Some(i) => &line[..i],
            None => line,
        };
        if let Some((name, path)) = line.split_once(" => ") {
            let path = path.trim();
            if path == "not found" || path.is_empty() {
                return Err(fail!(Exit::Infra, "orca's binary needs {name}, which the host's loader cannot find"));
            }
            n.libs.push((name.trim().to_string(), PathBuf::from(path)));
        } else if line.starts_with('/') {
            n.loader = Some(PathBuf::from(line));
        }
        // Anything else (linux-vdso.so.1) is provided by the kernel.
    }
    Ok(n)
}

/// The kit's archive for the binary `exe`, built if missing.
pub fn archive(exe: &Path) -> Result<PathBuf> {
    archive_in(exe, &crate::paths::cache_dir("agentkit")?)
}

/// [`archive`] with the cache area given.
fn archive_in(exe: &Path, area: &Path) -> Result<PathBuf> {
    let bytes = std::fs::read(exe).with_context(|| format!("reading {}", exe.display()))?;
    let key = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest([LAYOUT.as_bytes(), b"\0", &bytes].concat()))
    };
    let path = area.join(format!("{}.cpio", &key[..32]));
    if path.is_file() {
        return Ok(path);
    }
    let out = crate::process::run(
        std::process::Command::new("ldd").arg(exe),
        "ldd",
        Duration::from_secs(30),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let needs = if out.status.success() {
        parse_ldd(&text)?
    } else if text.contains("not a dynamic executable") || String::from_utf8_lossy(&out.stderr).contains("not a dynamic") {
        Needs::default()
    } else {
        return Err(fail!(
            Exit::Infra,
            "ldd {} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    };
    let mut w = Archive::new(Vec::with_capacity(bytes.len() + (4 << 20)));
    for d in ["agent", "agent/lib", "agent/bin"] {
        w.dir(d)?;
    }
    w.file("agent/orca", 0o755, &bytes)?;
    for (name, host) in &needs.libs {
        let lib = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        w.file(&format!("agent/lib/{name}"), 0o755, &lib)?;
    }
    let mut run = String::from("#!/bin/sh\n");
    if let Some(loader) = &needs.loader {
        let name = loader
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| fail!(Exit::Infra, "ldd named a loader without a file name"))?;
        let lib = std::fs::read(loader).with_context(|| format!("reading {}", loader.display()))?;
        w.file(&format!("agent/lib/{name}"), 0o755, &lib)?;
        run.push_str(&format!(
            "exec {GUEST_DIR}/lib/{name} --library-path {GUEST_DIR}/lib {GUEST_DIR}/orca \"$@\"\n"
        ));
    } else {
        run.push_str(&format!("exec {GUEST_DIR}/orca \"$@\"\n"));
    }
    // `orca` on the guest's PATH for users' commands (`orca --version` in an image).
    w.file("agent/bin/orca", 0o755, run.as_bytes())?;
    let mut loader_line = String::new();
    if let Some(loader) = &needs.loader {
        loader_line = loader.file_name().unwrap_or_default().to_string_lossy().into_owned();
    }
    // init reads the loader's name from here (empty for a static binary).
    w.file("agent/loader", 0o644, loader_line.as_bytes())?;
    let archive = w.finish()?;
    crate::paths::write_atomic(&path, &archive)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_names_the_loader_and_the_libraries() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tliblzma.so.5 => /lib/x86_64-linux-gnu/liblzma.so.5 (0x00007f15)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f15)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f15)\n";
        let n = parse_ldd(text).unwrap();
        assert_eq!(n.loader.as_deref(), Some(Path::new("/lib64/ld-linux-x86-64.so.2")));
        assert_eq!(
            n.libs,
            vec![
                ("liblzma.so.5".to_string(), PathBuf::from("/lib/x86_64-linux-gnu/liblzma.so.5")),
                ("libc.so.6".to_string(), PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")),
            ]
        );
    }

    #[test]
    fn an_unresolved_library_is_an_error() {
        let e = parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(e.to_string().contains("libfoo.so.1"), "{e}");
    }

    #[test]
    fn a_static_binary_needs_nothing() {
        assert_eq!(parse_ldd("\tstatically linked\n").unwrap(), Needs::default());
    }

    #[test]
    fn the_kit_of_this_test_binary_holds_its_loader_and_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let path = archive_in(&exe, dir.path()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut names = Vec::new();
        let mut rest: &[u8] = &bytes;
        loop {
            let r = cpio::newc::Reader::new(rest).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            names.push(r.entry().name().to_string());
            rest = r.finish().unwrap();
        }
        assert!(names.contains(&"agent/orca".to_string()), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("agent/lib/libc.so")), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("agent/lib/ld-linux")), "{names:?}");
        // Cached: the same path, not rebuilt.
        assert_eq!(archive_in(&exe, dir.path()).unwrap(), path);
    }
}
