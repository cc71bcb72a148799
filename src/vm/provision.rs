//! A VM's `provision`: its lines run as one script after boot (one shell, line after line, the
//! first failing line ends it).
//!
//! On the host root the lines run on every boot. On a distro image they run once per (image
//! content, lines) pair: the first boot runs them, archives the guest's write layer
//! ([`Machine::capture_upper`]) and makes a provisioned root from the image and that layer
//! ([`super::rootfs::apply`]), kept under `<cache>/images/provisioned/<key>/root`. Later boots
//! boot that root and run nothing. A failing line caches nothing.
//!
//! Concurrent first boots of one key each make their own root beside the final place; the first
//! rename wins and the others discard theirs, so a reader only ever sees a whole root.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{ExecRequest, Machine, Stream};
use crate::error::Exit;
use crate::fail;
use crate::script::{self, Script};

/// Bumped when what a provisioned root holds changes for the same image and lines.
const LAYOUT: u32 = 1;

/// What a VM's provision asks of a boot.
#[derive(Debug, Clone, PartialEq)]
pub enum Provision {
    /// No provision lines.
    None,
    /// The host root: run the lines on this boot (and every boot).
    EveryBoot(Vec<String>),
    /// The image was provisioned before: the VM boots that root and runs nothing.
    Reused { image: String, key: String },
    /// The first boot of this image with these lines: run them, then keep the result.
    Once {
        image: String,
        key: String,
        /// The image's own root, which the provisioned root is made from.
        base: PathBuf,
        /// The image's content hash, recorded beside the provisioned root (for `orca image gc`).
        image_sha256: String,
        lines: Vec<String>,
        /// The apt sources the guest gets before the lines run (`/etc/apt/sources.list`).
        sources: String,
        /// `--reprovision`: the result replaces a kept root of this key.
        replace: bool,
    },
}

impl Provision {
    /// Whether this boot runs provision lines.
    pub fn runs(&self) -> bool {
        matches!(self, Provision::EveryBoot(_) | Provision::Once { .. })
    }
}

/// The key of a provisioned root: sha256 over the image's content hash and the lines.
pub fn key(image_sha256: &str, lines: &[String]) -> String {
    let text = serde_json::json!({ "layout": LAYOUT, "image": image_sha256, "provision": lines });
    hex::encode(Sha256::digest(text.to_string().as_bytes()))
}

/// `<cache>/images/provisioned`.
pub fn base_dir() -> Result<PathBuf> {
    Ok(crate::paths::cache_dir("images")?.join("provisioned"))
}

/// The directory of key `key` (its root is `root/` inside, once made).
pub fn entry(key: &str) -> Result<PathBuf> {
    Ok(base_dir()?.join(key))
}

/// The provisioned root of `key`, if it is cached (whole: it appears by one rename).
pub fn cached(key: &str) -> Result<Option<PathBuf>> {
    let root = entry(key)?.join("root");
    Ok(root.is_dir().then_some(root))
}

/// What a VM booted with provision `key` runs on, for the matrix's result cache: the key, and
/// which kept root it is when there is one (its inode and change time: `--reprovision` swaps in a
/// new root under the same key). Without a kept root, the key alone (the boot provisions).
pub fn identity(key: &str) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let root = entry(key)?.join("root");
    Ok(match std::fs::metadata(&root) {
        Ok(m) if m.is_dir() => format!("{key} root {}.{}.{}", m.ino(), m.ctime(), m.ctime_nsec()),
        _ => key.to_string(),
    })
}

/// Where provision output goes, and what is said about it.
pub struct Io<'a> {
    /// The guest's output, as the script splitter marks it (per-line steps).
    pub output: &'a mut dyn FnMut(&[u8]),
    /// One line of progress (`provisioning …`, `kept …`).
    pub note: &'a dyn Fn(&str),
}

/// Runs what `p` asks on the booted `m` (named `vm` in messages), then, for a first boot on an
/// image, keeps the result. `deadline` bounds the script and the capture.
pub fn run(
    m: &mut Machine,
    p: &Provision,
    vm: &str,
    env: &[(String, String)],
    cwd: Option<String>,
    deadline: Instant,
    io: Io,
) -> Result<()> {
    let lines = match p {
        Provision::None => return Ok(()),
        Provision::Reused { image, key } => {
            (io.note)(&format!(
                "provision: reusing the provisioned root {} of image {image} (provision skipped; --reprovision runs it again)",
                &key[..12]
            ));
            return Ok(());
        }
        Provision::EveryBoot(lines) => lines,
        Provision::Once {
            image, lines, sources, ..
        } => {
            (io.note)(&format!("provision: first boot of image {image} with these lines; the result is kept"));
            write_sources(m, sources, deadline)?;
            lines
        }
    };
    let kept = if matches!(p, Provision::Once { .. }) { ", nothing was kept" } else { "" };
    run_script(m, lines, vm, kept, env, cwd, deadline, io.output)?;
    if let Provision::Once {
        image,
        key,
        base,
        image_sha256,
        replace,
        ..
    } = p
    {
        let t = Instant::now();
        match keep(m, key, base, image_sha256, *replace, deadline)? {
            true => (io.note)(&format!(
                "provision: kept the provisioned root {} of image {image} ({}); later boots reuse it",
                &key[..12],
                crate::ui::duration(t.elapsed())
            )),
            false => (io.note)(&format!(
                "provision: another orca kept the provisioned root {} of image {image} first; this one is discarded",
                &key[..12]
            )),
        }
    }
    Ok(())
}

/// The apt sources of an image booted from `src`: the archive the image was built from, with
/// the suite's updates and security suites, as the host reaches it.
pub fn sources_list(src: &crate::image::archive::Source) -> String {
    let (uri, suite) = (&src.uri, &src.suite);
    let mut out = String::from("# written by orca: the archive this image was built from\n");
    if src.archive == "ubuntu" {
        let c = "main restricted universe multiverse";
        for s in [suite.clone(), format!("{suite}-updates"), format!("{suite}-security")] {
            out.push_str(&format!("deb {uri} {s} {c}\n"));
        }
    } else {
        out.push_str(&format!("deb {uri} {suite} main\ndeb {uri} {suite}-updates main\n"));
        if let Some(base) = uri.strip_suffix("/debian") {
            out.push_str(&format!("deb {base}/debian-security {suite}-security main\n"));
        }
    }
    out
}

/// Writes the image's apt sources in the guest (into its write layer, so a provisioned root
/// keeps them).
fn write_sources(m: &mut Machine, sources: &str, deadline: Instant) -> Result<()> {
    let req = ExecRequest::argv([
        "/bin/sh",
        "-c",
        "printf '%s' \"$1\" >/etc/apt/sources.list",
        "sh",
        sources,
    ]);
    let mut err = Vec::new();
    let res = m.exec_until(
        &req,
        &mut |stream, b| {
            if stream == Stream::Stderr {
                err.extend_from_slice(b)
            }
        },
        Some(deadline),
    )?;
    if !res.success() {
        return Err(fail!(
            Exit::Infra,
            "cannot write the image's apt sources in the guest ({res}): {}",
            String::from_utf8_lossy(&err).trim()
        ));
    }
    Ok(())
}

/// The lines as one script. A failing line is exit 1, named with its index, text, exit code and
/// the tail of its output.
/// `kept`: what the failure adds about the provisioned root (`, nothing was kept`), if anything.
#[allow(clippy::too_many_arguments)]
fn run_script(
    m: &mut Machine,
    lines: &[String],
    vm: &str,
    kept: &str,
    env: &[(String, String)],
    cwd: Option<String>,
    deadline: Instant,
    output: &mut dyn FnMut(&[u8]),
) -> Result<()> {
    let s = Script::new(lines);
    let req = ExecRequest {
        env: env.to_vec(),
        cwd,
        ..ExecRequest::shell(s.text())
    };
    let mut sp = s.splitter();
    let res = m.exec_until(
        &req,
        &mut |stream, b| {
            let n = if stream == Stream::Stdout { script::STDOUT } else { script::STDERR };
            output(&sp.feed(n, b, Instant::now()))
        },
        Some(deadline),
    )?;
    output(&sp.flush(script::STDOUT));
    output(&sp.flush(script::STDERR));
    let steps = sp.finish(res.code, Instant::now());
    match script::failed(&steps) {
        None if res.success() => Ok(()),
        Some(f) => Err(fail!(
            Exit::TestFailed,
            "provision of {vm} failed{kept}: {}",
            f.failure(lines.len())
        )),
        None => Err(fail!(Exit::TestFailed, "provision of {vm} failed ({res}){kept}")),
    }
}

/// Archives the guest's write layer and makes the provisioned root of `key` from `base` and it.
/// False when another orca made it first (ours is discarded). With `replace`, a kept root is
/// swapped for the new one in one step (`renameat2(RENAME_EXCHANGE)`), then removed.
fn keep(m: &mut Machine, key: &str, base: &Path, image_sha256: &str, replace: bool, deadline: Instant) -> Result<bool> {
    let dir = entry(key)?;
    // What an orca killed while keeping this root left: its layer archive and half-applied root
    // (named by its pid; a live orca's are left alone).
    for prefix in [".tmp-layer-", ".tmp-root-", ".tmp-"] {
        crate::paths::remove_left_by_dead_processes(&dir, prefix);
    }
    let root = dir.join("root");
    if root.is_dir() {
        if !replace {
            return Ok(false);
        }
        let new = dir.join(format!(".tmp-{}-new", std::process::id()));
        let layer = tempfile::Builder::new().prefix(&format!(".tmp-layer-{}-", std::process::id())).tempfile_in(&dir)?;
        m.capture_upper(layer.path(), deadline)?;
        let file = std::fs::File::open(layer.path())?;
        super::rootfs::apply(base, std::io::BufReader::new(file), &new)?;
        exchange(&new, &root)?;
        crate::image::build::remove_tree(&new)?;
        return Ok(true);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::paths::write_atomic(&dir.join("image"), image_sha256.as_bytes())?;
    let layer = tempfile::Builder::new()
        .prefix(&format!(".tmp-layer-{}-", std::process::id()))
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    m.capture_upper(layer.path(), deadline)?;
    let file = std::fs::File::open(layer.path())?;
    match super::rootfs::apply(base, std::io::BufReader::new(file), &root) {
        Ok(()) => Ok(true),
        Err(_) if root.is_dir() => Ok(false),
        Err(e) => Err(e.context(format!("keeping the provisioned root in {}", root.display()))),
    }
}

/// Swaps two paths atomically (Linux's `renameat2`; booting guests needs a Linux host anyway).
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    anyhow::bail!("swapping {} into {} needs a Linux host", a.display(), b.display())
}

/// Swaps two paths atomically.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated paths relative to the current directory (both absolute here).
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("swapping {} into {}", a.display(), b.display()));
    }
    Ok(())
}

/// What [`gc`] freed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Freed {
    pub roots: usize,
}

/// Removes provisioned roots whose image is no longer cached (all of them with `all`), and
/// leftovers of provisions killed more than an hour ago.
pub fn gc(all: bool) -> Result<Freed> {
    let base = base_dir()?;
    let mut freed = Freed::default();
    for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let dir = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !dir.is_dir() || name.starts_with(".tmp-") {
            continue;
        }
        let image = std::fs::read_to_string(dir.join("image")).unwrap_or_default();
        let image_there = crate::image::read_entry(image.trim()).ok().flatten().is_some();
        if all || !image_there {
            // Renamed aside first, so no VM ever sees half of it.
            let aside = base.join(format!(".tmp-{}-rm-{name}", std::process::id()));
            if std::fs::rename(&dir, &aside).is_ok() {
                crate::image::build::remove_tree(&aside)?;
                freed.roots += 1;
            }
            continue;
        }
        for t in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let old = t
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|a| a > Duration::from_secs(3600));
            if t.file_name().to_string_lossy().starts_with(".tmp-") && old {
                let _ = if t.path().is_dir() {
                    crate::image::build::remove_tree(&t.path())
                } else {
                    std::fs::remove_file(t.path()).map_err(Into::into)
                };
            }
        }
    }
    crate::image::sweep(&base);
    Ok(freed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_follows_the_image_and_every_line() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k = super::key("aa", &l(&["apt-get update", "apt-get install -y make"]));
        assert_eq!(k.len(), 64);
        assert_eq!(k, super::key("aa", &l(&["apt-get update", "apt-get install -y make"])));
        assert_ne!(k, super::key("bb", &l(&["apt-get update", "apt-get install -y make"])));
        assert_ne!(k, super::key("aa", &l(&["apt-get update"])));
        assert_ne!(k, super::key("aa", &l(&["apt-get update apt-get install -y make"])));
    }
}
