//! Getting a kernel's parts into the cache, each verified against its pinned sha256.
//!
//! A part lives at `<cache>/kernels/parts/<sha256>.<deb|img>`. It gets there only one way:
//! downloaded or copied into a temporary file in that same directory, hashed, compared with the
//! pin, then renamed into place. So a file under its hash name is always complete and verified,
//! and a kill at any moment leaves at most a `.tmp-<pid>-*` file that the next run sweeps.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::apt::{Apt, UnverifiedSuite};
use crate::error::{Exit, Fail};
use crate::plan::KernelSource;
use crate::{fail, process, ui};

const CURL_DEADLINE: Duration = Duration::from_secs(1800);

/// The directory of cached parts.
pub fn parts_dir() -> Result<PathBuf> {
    let d = crate::paths::cache_dir("kernels")?.join("parts");
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}

/// Where a part with this hash is cached, if it is.
pub fn cached(sha256: &str) -> Result<Option<PathBuf>> {
    let dir = parts_dir()?;
    for ext in ["deb", "img"] {
        let p = dir.join(format!("{sha256}.{ext}"));
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A short description of a source for messages: `linux-image-… 6.1.176-1 (bookworm)`.
pub fn describe(src: &KernelSource) -> String {
    match src {
        KernelSource::Debian {
            package,
            version,
            suite,
            ..
        } => match version {
            Some(v) => format!("{package} {v} ({suite})"),
            None => format!("{package} ({suite})"),
        },
        KernelSource::Ubuntu {
            package,
            version,
            suite,
            ..
        } => match version {
            Some(v) => format!("{package} {v} (Ubuntu {suite})"),
            None => format!("{package} (Ubuntu {suite})"),
        },
        KernelSource::Url { url, .. } => url.clone(),
        KernelSource::File { path, .. } => path.display().to_string(),
    }
}

/// Why an Ubuntu part cannot be fetched here, if it cannot: the Ubuntu archive is not configured
/// on this machine (checked first: it is the reason on machines that cannot reach it), or the part
/// has no sha256 yet. `None` for every other part, and for an Ubuntu part that is pinned and
/// either cached or fetchable from a configured archive.
pub fn unavailable(kernel: &str, src: &KernelSource) -> Option<anyhow::Error> {
    let KernelSource::Ubuntu { suite, .. } = src else {
        return None;
    };
    if src.pinned() && cached(src.sha256()).ok().flatten().is_some() {
        return None;
    }
    if super::apt::ubuntu_mirror().is_none() {
        return Some(fail!(
            Exit::KernelUnavailable,
            "kernel {kernel}: the Ubuntu archive (suite {suite}) is not configured on this machine: the host's apt sources have no Ubuntu entry and ${} is unset, so {} cannot be fetched; point orca at a reachable Ubuntu mirror with {}=URL",
            super::apt::UBUNTU_MIRROR_VAR,
            describe(src),
            super::apt::UBUNTU_MIRROR_VAR,
        ));
    }
    if !src.pinned() {
        return Some(anyhow::Error::new(
            Fail::new(
                Exit::KernelUnavailable,
                format!("kernel {kernel}: {} is not pinned (the catalog has no sha256 for it), so orca will not boot it", describe(src)),
            )
            .hint(format!("pin it with `orca kernel pin {kernel}`: it downloads the catalog's parts from the Ubuntu archive and writes their sha256")),
        ));
    }
    None
}

/// Makes sure the part is in the cache and returns its path. `kernel` names the catalog entry in
/// messages; relative `file` paths are taken from `root`.
pub fn fetch(kernel: &str, src: &KernelSource, root: &Path) -> Result<PathBuf> {
    if let Some(e) = unavailable(kernel, src) {
        return Err(e);
    }
    if let Some(p) = cached(src.sha256())? {
        return Ok(p);
    }
    let (path, _) = fetch_unpinned(kernel, src, root, Some(src.sha256()))?;
    Ok(path)
}

/// Fetches a part and stores it under its hash. With `expected`, a different hash is an
/// `Exit::KernelUnavailable` error; without it (pinning), the computed hash is returned.
pub fn fetch_unpinned(
    kernel: &str,
    src: &KernelSource,
    root: &Path,
    expected: Option<&str>,
) -> Result<(PathBuf, String)> {
    let dir = parts_dir()?;
    sweep(&dir);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{}-", std::process::id()))
        .tempdir_in(&dir)
        .with_context(|| format!("creating a temporary directory in {}", dir.display()))?;
    let got = match src {
        KernelSource::Debian {
            package,
            version,
            suite,
            ..
        } => apt_download(
            kernel,
            package,
            version.as_deref(),
            suite,
            tmp.path(),
            expected.is_some(),
        )?,
        KernelSource::Ubuntu {
            package,
            version,
            suite,
            ..
        } => ubuntu_download(kernel, package, version.as_deref(), suite, tmp.path())?,
        KernelSource::Url { url, .. } => {
            let dest = tmp.path().join("part");
            process::run_ok(
                Command::new("curl")
                    .args(["-fsSL", "--retry", "2", "--connect-timeout", "30", "-o"])
                    .arg(&dest)
                    .arg(url),
                &format!("downloading {url}"),
                CURL_DEADLINE,
            )
            .map_err(|e| {
                // A download failure means the kernel is unavailable (exit 4), not an orca fault.
                anyhow::Error::new(
                    Fail::new(
                        Exit::KernelUnavailable,
                        format!("kernel {kernel}: cannot download {url}: {e:#}"),
                    )
                    .hint("check the URL and the network, or pin another source for this kernel"),
                )
            })?;
            dest
        }
        KernelSource::File { path, .. } => {
            let from = if path.is_absolute() {
                path.clone()
            } else {
                root.join(path)
            };
            let dest = tmp.path().join("part");
            std::fs::copy(&from, &dest).map_err(|e| {
                fail!(
                    Exit::KernelUnavailable,
                    "kernel {kernel}: cannot read {}: {e}",
                    from.display()
                )
            })?;
            dest
        }
    };
    let actual = sha256_file(&got)?;
    if let Some(expected) = expected
        && !actual.eq_ignore_ascii_case(expected)
    {
        return Err(mismatch(kernel, src, expected, &actual));
    }
    let ext = if super::unpack::is_deb(&got)? { "deb" } else { "img" };
    let dest = dir.join(format!("{actual}.{ext}"));
    std::fs::File::open(&got)?.sync_all()?;
    std::fs::rename(&got, &dest).with_context(|| format!("storing {}", dest.display()))?;
    Ok((dest, actual))
}

/// The error for a part whose bytes are not the pinned ones.
pub fn mismatch(kernel: &str, src: &KernelSource, expected: &str, actual: &str) -> anyhow::Error {
    let repin = match src {
        KernelSource::Debian { package, suite, .. } => {
            format!("orca kernel pin {kernel} --debian {package} --suite {suite}")
        }
        KernelSource::Ubuntu { .. } => format!("orca kernel pin {kernel}"),
        _ => "update its sha256 in the catalog".to_string(),
    };
    anyhow::Error::new(
        Fail::new(
            Exit::KernelUnavailable,
            format!(
                "kernel {kernel}: {} does not match its pin\n  expected sha256 {expected}\n  actual   sha256 {actual}",
                describe(src)
            ),
        )
        .hint(format!(
            "the file is not the one the catalog pinned and was not used. If the change is expected (a new upload), re-pin with `{repin}`; otherwise check the mirror"
        )),
    )
}

/// `apt-get download` through the suite's private apt state: update the lists when they are
/// missing or do not know the package, fall back to an unverified index only when the part is
/// pinned (see `apt`), and explain what the suite does offer when the package is not there.
fn apt_download(
    kernel: &str,
    package: &str,
    version: Option<&str>,
    suite: &str,
    into: &Path,
    pinned: bool,
) -> Result<PathBuf> {
    let what = match version {
        Some(v) => format!("{package} {v}"),
        None => package.to_string(),
    };
    let step = ui::Step::start(format!("kernel {kernel}: downloading {what} ({suite})"));
    let mut apt = Apt::open(suite, true)?;
    let mut updated = false;
    loop {
        if !apt.has_lists() || updated {
            match apt.update() {
                Ok(()) => {}
                Err(e) if e.downcast_ref::<UnverifiedSuite>().is_some() && apt.verified && pinned => {
                    ui::warn(format!(
                        "{e}; fetching {package} through an unverified index: its pinned sha256 still guards it"
                    ));
                    apt = Apt::open(suite, false)?;
                    apt.update()?;
                }
                Err(e) if e.downcast_ref::<UnverifiedSuite>().is_some() => {
                    return Err(anyhow::Error::new(
                        Fail::new(Exit::KernelUnavailable, format!("cannot pin {package}: {e}")).hint(
                            "pinning records a hash, so the package must come from a verified index: install a newer debian-archive-keyring on the host, or pin a url/file source whose sha256 you have checked",
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(deb) = apt.download(package, version, into)? {
            let size = std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0);
            step.done(ui::bytes(size));
            return Ok(deb);
        }
        if updated {
            break;
        }
        // The lists may predate the package: refresh once, then give up.
        updated = true;
    }
    let versions = apt.versions(package);
    let hint = if !versions.is_empty() {
        format!(
            "{suite} offers {package} {}; pin one with `orca kernel pin {kernel} --debian {package} --suite {suite}`",
            versions.join(", ")
        )
    } else {
        let stem: String = package.chars().take_while(|c| !c.is_ascii_digit()).collect();
        let similar = apt.search(&format!("^{}{}", stem, kernel.replace('.', "\\.")));
        if similar.is_empty() {
            format!("{suite} has no such package; find one with `apt-cache search linux-image` against that suite")
        } else {
            format!(
                "{suite} has: {}",
                similar.into_iter().take(8).collect::<Vec<_>>().join(", ")
            )
        }
    };
    Err(anyhow::Error::new(
        Fail::new(
            Exit::KernelUnavailable,
            format!("kernel {kernel}: the host's mirror has no {what} in {suite}"),
        )
        .hint(hint),
    ))
}

/// `apt-get download` of an Ubuntu package through a private apt state pointed at the Ubuntu
/// archive. An archive that is not configured or cannot be reached is one line naming it.
fn ubuntu_download(kernel: &str, package: &str, version: Option<&str>, suite: &str, into: &Path) -> Result<PathBuf> {
    let what = match version {
        Some(v) => format!("{package} {v}"),
        None => package.to_string(),
    };
    let Some(mirror) = super::apt::ubuntu_mirror() else {
        return Err(fail!(
            Exit::KernelUnavailable,
            "kernel {kernel}: the Ubuntu archive (suite {suite}) is not configured on this machine: the host's apt sources have no Ubuntu entry and ${} is unset; point orca at a reachable Ubuntu mirror with {}=URL",
            super::apt::UBUNTU_MIRROR_VAR,
            super::apt::UBUNTU_MIRROR_VAR,
        ));
    };
    let step = ui::Step::start(format!("kernel {kernel}: downloading {what} (Ubuntu {suite})"));
    let apt = Apt::open_ubuntu(suite, &mirror)?;
    apt.update().map_err(|e| {
        fail!(
            Exit::KernelUnavailable,
            "kernel {kernel}: the Ubuntu archive cannot be reached at {} (from {}) for suite {suite}: {}; point orca at a reachable Ubuntu mirror with {}=URL",
            mirror.uri,
            mirror.from,
            format!("{e:#}").lines().last().unwrap_or("apt-get update failed"),
            super::apt::UBUNTU_MIRROR_VAR,
        )
    })?;
    match apt.download(package, version, into)? {
        Some(deb) => {
            step.done(ui::bytes(std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)));
            Ok(deb)
        }
        None => {
            let versions = apt.versions(package);
            Err(anyhow::Error::new(
                Fail::new(
                    Exit::KernelUnavailable,
                    format!("kernel {kernel}: the Ubuntu archive at {} has no {what} in {suite}", mirror.uri),
                )
                .hint(if versions.is_empty() {
                    format!("{suite} has no such package: name another in the catalog's `ubuntu {{ }}` block")
                } else {
                    format!("{suite} offers {package} {}: set that `version` in the catalog, then `orca kernel pin {kernel}`", versions.join(", "))
                }),
            ))
        }
    }
}

/// Removes temporary files and directories left by orca processes that died mid-download.
pub fn sweep(dir: &Path) {
    crate::paths::remove_left_by_dead_processes(dir, ".tmp-");
}
