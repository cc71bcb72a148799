//! Where an image's packages come from, and the archive snapshot a build uses.
//!
//! The archive URL is never named by orca itself: it is the image's `mirror`, else
//! `ORCA_DEBIAN_MIRROR` / `ORCA_UBUNTU_MIRROR`, else the entry of the host's own apt sources for
//! that archive. The snapshot is read through a private apt state per archive and suite under
//! `<cache>/images/apt/` (the same isolation as the kernel fetcher's, `kernel::apt`): the suite's
//! signed `InRelease`, checked against the archive keyring, and the sha256 it lists for each
//! `Packages` index. Those lists are what mmdebstrap installs from, so the snapshot is exactly
//! the package set the image was built from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::Exit;
use crate::kernel::apt::Apt;
use crate::plan::DistroImage;
use crate::{fail, process};

const UPDATE_DEADLINE: Duration = Duration::from_secs(900);

/// An archive to build an image from.
#[derive(Debug, Clone)]
pub struct Source {
    /// `debian` or `ubuntu`.
    pub archive: String,
    pub suite: String,
    /// The archive URL (no trailing `/`).
    pub uri: String,
    /// Where the URL came from, for messages.
    pub from: String,
    /// The keyring the suite's InRelease is checked against.
    pub keyring: PathBuf,
}

/// The environment variable that names a mirror for `archive`.
pub fn mirror_var(archive: &str) -> String {
    format!("ORCA_{}_MIRROR", archive.to_ascii_uppercase())
}

/// The keyring of an archive's signing keys, as Debian's `debian-archive-keyring` and
/// `ubuntu-keyring` packages install it.
fn default_keyring(archive: &str) -> PathBuf {
    PathBuf::from(format!("/usr/share/keyrings/{archive}-archive-keyring.gpg"))
}

/// The archive to build `img` from. An archive with no configured mirror is one clear line.
pub fn source(name: &str, img: &DistroImage) -> Result<Source> {
    let var = mirror_var(&img.archive);
    let env = std::env::var(&var).ok().filter(|v| !v.trim().is_empty());
    let (uri, from, host_keyring) = if let Some(m) = &img.mirror {
        (m.clone(), format!("the `mirror` of image \"{name}\""), None)
    } else if let Some(m) = env {
        (m, format!("${var}"), None)
    } else {
        let host = crate::kernel::apt::host_mirror_of(&img.archive).ok().flatten();
        match host {
            Some(m) if !m.uris.is_empty() => (m.uris[0].clone(), "the host's apt sources".to_string(), m.keyring),
            _ => {
                return Err(fail!(
                    Exit::KernelUnavailable,
                    "image {name}: the {} archive (suite {}) is not configured on this machine: the host's apt sources have no {} entry; point orca at a reachable {} mirror with `mirror = \"URL\"` in an image block (image \"{name}\" {{ mirror = \"URL\" }}) or {var}=URL",
                    title(&img.archive),
                    img.suite,
                    title(&img.archive),
                    title(&img.archive),
                ));
            }
        }
    };
    let keyring = host_keyring.unwrap_or_else(|| default_keyring(&img.archive));
    Ok(Source {
        archive: img.archive.clone(),
        suite: img.suite.clone(),
        uri: uri.trim_end_matches('/').to_string(),
        from,
        keyring,
    })
}

fn title(archive: &str) -> String {
    let mut c = archive.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// The archive as of one `InRelease`: what a lock pins.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// sha256 of the suite's (In)Release file as fetched and verified.
    pub release_sha256: String,
    /// Its `Date:` field.
    pub date: String,
    /// That date as seconds since the epoch: the image's `SOURCE_DATE_EPOCH`.
    pub epoch: i64,
    /// Each `Packages` index used (`main/binary-amd64/Packages`) and the sha256 the Release
    /// file gives it.
    pub indexes: BTreeMap<String, String>,
}

/// The Debian architecture of this host.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        other => other,
    }
}

/// A suite's package lists, fetched into a private apt state.
pub struct Lists {
    pub snapshot: Snapshot,
    /// The list files (InRelease and Packages) to give mmdebstrap.
    pub files: Vec<PathBuf>,
}

/// `apt-get update` of the suite through a private apt state, and the snapshot it gives.
/// An unreachable archive is one line naming it and how to point orca at another mirror.
pub fn fetch_lists(name: &str, src: &Source) -> Result<Lists> {
    let dir = crate::paths::cache_dir("images")?
        .join("apt")
        .join(format!("{}-{}", src.archive, src.suite));
    for sub in ["lists/partial", "cache/archives/partial", "preferences.d"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !dir.join("status").exists() {
        crate::paths::write_atomic(&dir.join("status"), b"")?;
    }
    let list = format!(
        "deb [signed-by={}] {} {} main\n",
        src.keyring.display(),
        src.uri,
        src.suite
    );
    let sources = dir.join("sources.list");
    if std::fs::read_to_string(&sources).ok().as_deref() != Some(list.as_str()) {
        crate::paths::write_atomic(&sources, list.as_bytes())?;
        let _ = std::fs::remove_dir_all(dir.join("lists"));
        std::fs::create_dir_all(dir.join("lists/partial"))?;
    }
    let apt = Apt {
        archive: if src.archive == "ubuntu" { "Ubuntu" } else { "Debian" },
        suite: src.suite.clone(),
        keyring: src.keyring.clone(),
        dir: dir.clone(),
        verified: true,
    };
    let _lock = crate::kernel::lock::exclusive(&dir.join("orca.lock"))?;
    let mut cmd = std::process::Command::new("apt-get");
    cmd.args(apt.options())
        .args(["-o", &format!("APT::Architecture={}", arch())])
        .args(["-o", "Acquire::Retries=1"])
        .args(["-q", "update"])
        .env("LC_ALL", "C");
    let out = process::run(&mut cmd, &format!("apt-get update ({} {})", src.archive, src.suite), UPDATE_DEADLINE)?;
    let err = out.stderr_str();
    let release = find_list(&dir.join("lists"), &src.suite, "InRelease");
    let unreachable = ["Failed to fetch", "Could not connect", "Could not resolve", "Temporary failure", "Connection refused", "timed out", "Unable to connect"]
        .iter()
        .any(|m| err.contains(m));
    if !unreachable
        && (err.contains("NO_PUBKEY") || err.contains("is not signed") || !src.keyring.exists())
        && (release.is_none() || !out.status.success())
    {
        return Err(fail!(
            Exit::KernelUnavailable,
            "image {name}: the keyring {} {} the {} archive's suite {} at {} (from {}); install {}",
            src.keyring.display(),
            if src.keyring.exists() { "cannot verify" } else { "is missing, so orca cannot verify" },
            title(&src.archive),
            src.suite,
            src.uri,
            src.from,
            if src.archive == "debian" { "a newer debian-archive-keyring" } else { "ubuntu-keyring (or name the keyring in the host's apt sources)" }
        ));
    }
    let Some(release) = release.filter(|_| out.status.success() && !err.contains("Failed to fetch")) else {
        let why = err
            .lines()
            .rev()
            .find(|l| l.starts_with("E:") || l.starts_with("W:") || l.starts_with("Err"))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| format!("apt-get exited with {}", out.status));
        return Err(fail!(
            Exit::KernelUnavailable,
            "image {name}: the {} archive cannot be reached at {} (from {}) for suite {} ({why}); point orca at a reachable {} mirror with `mirror = \"URL\"` in an image block or {}=URL",
            title(&src.archive),
            src.uri,
            src.from,
            src.suite,
            title(&src.archive),
            mirror_var(&src.archive)
        ));
    };
    let bytes = std::fs::read(&release).with_context(|| format!("reading {}", release.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let date = field(&text, "Date").with_context(|| format!("{} has no Date", release.display()))?;
    let epoch = parse_date(&date).with_context(|| format!("{}: cannot read the date {date:?}", release.display()))?;
    let mut indexes = BTreeMap::new();
    let want = format!("main/binary-{}/Packages", arch());
    if let Some(sha) = release_sha256_of(&text, &want) {
        indexes.insert(want.clone(), sha);
    }
    if indexes.is_empty() {
        return Err(fail!(
            Exit::KernelUnavailable,
            "image {name}: suite {} at {} has no {want} index",
            src.suite,
            src.uri
        ));
    }
    let mut files = vec![release.clone()];
    let prefix = release
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix("InRelease"))
        .unwrap_or_default()
        .to_string();
    let pkgs = format!("{prefix}main_binary-{}_Packages", arch());
    for e in std::fs::read_dir(dir.join("lists"))?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n == pkgs || n.strip_prefix(&pkgs).is_some_and(|rest| rest.starts_with('.')) {
            files.push(e.path());
        }
    }
    if files.len() < 2 {
        return Err(fail!(
            Exit::KernelUnavailable,
            "image {name}: apt-get update of suite {} left no Packages list in {}",
            src.suite,
            dir.display()
        ));
    }
    Ok(Lists {
        snapshot: Snapshot {
            release_sha256: hex::encode(Sha256::digest(&bytes)),
            date,
            epoch,
            indexes,
        },
        files,
    })
}

/// The `<...>_dists_<suite>_InRelease` file in an apt lists directory.
fn find_list(lists: &Path, suite: &str, what: &str) -> Option<PathBuf> {
    let suffix = format!("_dists_{suite}_{what}");
    std::fs::read_dir(lists)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(&suffix)))
}

/// A top-level field of a Release file.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

/// The sha256 a Release file's `SHA256:` section gives `path`.
fn release_sha256_of(text: &str, path: &str) -> Option<String> {
    let mut in_sha = false;
    for l in text.lines() {
        if !l.starts_with(' ') {
            in_sha = l.trim_end() == "SHA256:";
            continue;
        }
        if in_sha {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() == 3 && w[2] == path {
                return Some(w[0].to_ascii_lowercase());
            }
        }
    }
    None
}

/// An RFC 2822 date as Release files write it (`Sat, 09 Aug 2025 09:05:21 UTC`), as seconds
/// since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.split_once(',').map(|(_, r)| r).unwrap_or(s).trim();
    let w: Vec<&str> = s.split_whitespace().collect();
    if w.len() < 4 {
        return None;
    }
    let day: i64 = w[0].parse().ok()?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == w[1])? as i64 + 1;
    let year: i64 = w[2].parse().ok()?;
    let t: Vec<i64> = w[3].split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if t.len() != 3 || !(1..=31).contains(&day) {
        return None;
    }
    let offset = match w.get(4).copied() {
        None | Some("UTC") | Some("GMT") | Some("Z") => 0,
        Some(z) if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[3..5].parse().ok()?;
            let v = h * 3600 + m * 60;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_date("Sat, 09 Aug 2025 09:05:21 UTC"), Some(1754730321));
        assert_eq!(parse_date("Sat, 09 Aug 2025 11:05:21 +0200"), Some(1754730321));
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn release_index_hashes() {
        let text = "Origin: Debian\nDate: Sat, 09 Aug 2025 09:05:21 UTC\nMD5Sum:\n 00 1 main/binary-amd64/Packages\nSHA256:\n ab12 100 main/binary-amd64/Packages.xz\n CD34 200 main/binary-amd64/Packages\n";
        assert_eq!(release_sha256_of(text, "main/binary-amd64/Packages").as_deref(), Some("cd34"));
        assert_eq!(field(text, "Date").as_deref(), Some("Sat, 09 Aug 2025 09:05:21 UTC"));
    }
}
