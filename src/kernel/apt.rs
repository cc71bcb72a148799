//! Debian packages through a private apt configuration.
//!
//! orca reads the host's own apt sources to learn its Debian mirror (it never names one itself),
//! then keeps one apt state per suite under `<cache>/apt/<suite>/`: its sources list, package
//! lists, apt's cache and an empty dpkg status. Every apt call points all of apt's state there
//! (`Dir::State`, `Dir::Cache`, `Dir::Etc::SourceList`, `SourceParts=-`, ...), so the host's
//! `/var/lib/apt`, `/var/cache/apt` and installed packages are never read or written. The host's
//! `apt.conf.d` still applies, which keeps its proxy and validity settings.
//!
//! Signatures: the suite's Release file is checked against the keyring the host's sources name
//! (`Signed-By`), else Debian's archive keyring. If that keyring lacks the suite's key (a host
//! older than the suite), a *pinned* fetch may still go ahead through an unverified index in
//! `<cache>/apt/<suite>-unverified/`: the package's sha256 pin, checked before use, is what
//! protects it. `orca kernel pin`, which has no hash yet and is about to record one, refuses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::{Exit, Fail};
use crate::{fail, process};

const UPDATE_DEADLINE: Duration = Duration::from_secs(600);
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(1800);
const QUERY_DEADLINE: Duration = Duration::from_secs(120);
/// Where Debian's archive keyring lives when the host's sources do not name one.
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The host's Debian mirror, as its apt sources give it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    /// URIs of the main archive (the entry that carries a release suite such as `bookworm`).
    pub uris: Vec<String>,
    /// URIs of the security archive (the entry with a `*-security` suite), if configured.
    pub security_uris: Vec<String>,
    /// The keyring the host's entry trusts (`Signed-By`), if it names a file.
    pub keyring: Option<PathBuf>,
}

/// One `deb` entry of an apt sources file.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    uris: Vec<String>,
    suites: Vec<String>,
    signed_by: Option<String>,
}

/// Parses a deb822 `.sources` file into its enabled `deb` entries.
fn parse_deb822(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let words = |k: &str| {
            get(k)
                .map(|v| v.split_whitespace().map(String::from).collect())
                .unwrap_or_default()
        };
        let types: Vec<String> = words("types");
        if !types.iter().any(|t| t == "deb") || get("enabled").is_some_and(|e| e.eq_ignore_ascii_case("no")) {
            continue;
        }
        out.push(Entry {
            uris: words("uris"),
            suites: words("suites"),
            signed_by: get("signed-by"),
        });
    }
    out
}

/// Parses a one-line-style `.list` file into its `deb` entries.
fn parse_list(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ").map(str::trim) else {
            continue;
        };
        let (options, rest) = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map(|(o, r)| (o, r.trim())).unwrap_or(("", r)),
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let signed_by = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))
            .map(String::from);
        out.push(Entry {
            uris: vec![uri.to_string()],
            suites: vec![suite.to_string()],
            signed_by,
        });
    }
    out
}

/// Debian's suite names and aliases, to tell the Debian archive from third-party sources.
fn is_debian_release(suite: &str) -> bool {
    const NAMES: &[&str] = &[
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "unstable",
        "testing",
        "stable",
        "oldstable",
        "oldoldstable",
        "experimental",
    ];
    NAMES.contains(&suite.split('-').next().unwrap_or(suite))
}

/// Ubuntu's suite names, for images built from the Ubuntu archive.
fn is_ubuntu_release(suite: &str) -> bool {
    const NAMES: &[&str] = &[
        "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble", "oracular", "plucky",
        "questing",
    ];
    NAMES.contains(&suite.split('-').next().unwrap_or(suite))
}

fn mirror_from(entries: &[Entry]) -> Option<Mirror> {
    mirror_with(entries, is_debian_release)
}

fn mirror_with(entries: &[Entry], is_release: fn(&str) -> bool) -> Option<Mirror> {
    let main = entries.iter().find(|e| {
        e.suites
            .iter()
            .any(|s| is_release(s) && !s.ends_with("-security"))
    })?;
    let security = entries.iter().find(|e| {
        e.suites
            .iter()
            .any(|s| s.ends_with("-security") && is_release(s))
    });
    let keyring = main
        .signed_by
        .as_deref()
        .filter(|s| s.starts_with('/'))
        .map(PathBuf::from);
    Some(Mirror {
        uris: main.uris.clone(),
        security_uris: security.map(|e| e.uris.clone()).unwrap_or_default(),
        keyring,
    })
}

/// The `/etc/apt` orca reads (`$ORCA_APT_ETC` replaces it, for tests).
fn apt_etc() -> PathBuf {
    std::env::var_os("ORCA_APT_ETC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/apt"))
}

/// Every enabled `deb` entry of the host's apt sources.
fn host_entries(etc: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(etc.join("sources.list.d"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.push(etc.join("sources.list"));
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => entries.extend(parse_deb822(&text)),
            Some("list") => entries.extend(parse_list(&text)),
            _ => {}
        }
    }
    entries
}

/// The host's mirror of `archive` (`debian` or `ubuntu`), `None` when its sources have none.
pub fn host_mirror_of(archive: &str) -> Result<Option<Mirror>> {
    let entries = host_entries(&apt_etc());
    Ok(match archive {
        "debian" => mirror_from(&entries),
        "ubuntu" => mirror_with(&entries, is_ubuntu_release),
        _ => None,
    })
}

/// The host's Debian mirror, from `/etc/apt/sources.list.d/*.sources`, `*.list` and
/// `/etc/apt/sources.list` (`$ORCA_APT_ETC` replaces `/etc/apt`, for tests).
pub fn host_mirror() -> Result<Mirror> {
    let etc = apt_etc();
    mirror_from(&host_entries(&etc)).ok_or_else(|| {
        anyhow::Error::new(
            Fail::new(Exit::KernelUnavailable, format!("no Debian mirror is configured in {}", etc.display()))
                .hint("Debian kernel packages are fetched through the host's apt mirror; add a Debian source to /etc/apt/sources.list.d/, or pin the kernel with a url or file source"),
        )
    })
}

/// The environment variable that names a mirror of the Ubuntu archive (images and kernels).
pub const UBUNTU_MIRROR_VAR: &str = "ORCA_UBUNTU_MIRROR";
/// Where Ubuntu's archive keyring lives (`ubuntu-keyring`) when the host's sources name none.
const UBUNTU_KEYRING: &str = "/usr/share/keyrings/ubuntu-archive-keyring.gpg";

/// Where the Ubuntu archive is on this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveMirror {
    /// The archive URL, without a trailing `/`.
    pub uri: String,
    /// Where the URL came from, for messages (`$ORCA_UBUNTU_MIRROR`, the host's apt sources).
    pub from: String,
    pub keyring: PathBuf,
}

/// The Ubuntu archive: `$ORCA_UBUNTU_MIRROR`, else the Ubuntu entry of the host's apt sources;
/// `None` when neither names one (orca never names an archive itself).
pub fn ubuntu_mirror() -> Option<ArchiveMirror> {
    if let Some(m) = std::env::var(UBUNTU_MIRROR_VAR).ok().filter(|v| !v.trim().is_empty()) {
        return Some(ArchiveMirror {
            uri: m.trim().trim_end_matches('/').to_string(),
            from: format!("${UBUNTU_MIRROR_VAR}"),
            keyring: PathBuf::from(UBUNTU_KEYRING),
        });
    }
    let m = host_mirror_of("ubuntu").ok().flatten()?;
    Some(ArchiveMirror {
        uri: m.uris.first()?.trim_end_matches('/').to_string(),
        from: "the host's apt sources".into(),
        keyring: m.keyring.unwrap_or_else(|| PathBuf::from(UBUNTU_KEYRING)),
    })
}

/// A private apt state for one suite.
pub struct Apt {
    /// `Debian` or `Ubuntu`, for messages.
    pub archive: &'static str,
    pub suite: String,
    /// The keyring the suite's Release file is checked against (unused when not `verified`).
    pub keyring: PathBuf,
    pub dir: PathBuf,
    /// False for the fallback state that skips signature checks (see the module docs).
    pub verified: bool,
}

impl Apt {
    /// The private apt state for `suite`, its sources list written from the host's mirror.
    pub fn open(suite: &str, verified: bool) -> Result<Apt> {
        let mirror = host_mirror()?;
        let name = if verified {
            suite.to_string()
        } else {
            format!("{suite}-unverified")
        };
        let uris = if suite.ends_with("-security") && !mirror.security_uris.is_empty() {
            &mirror.security_uris
        } else {
            &mirror.uris
        };
        let keyring = mirror.keyring.clone().unwrap_or_else(|| PathBuf::from(DEBIAN_KEYRING));
        Self::open_in("Debian", &name, uris, keyring, suite, verified)
    }

    /// The private apt state for an Ubuntu `suite` (`jammy-updates`) of the archive at `mirror`,
    /// under `<cache>/apt/ubuntu-<suite>/`. Always verified: Ubuntu parts are pinned through it.
    pub fn open_ubuntu(suite: &str, mirror: &ArchiveMirror) -> Result<Apt> {
        Self::open_in(
            "Ubuntu",
            &format!("ubuntu-{suite}"),
            std::slice::from_ref(&mirror.uri),
            mirror.keyring.clone(),
            suite,
            true,
        )
    }

    fn open_in(
        archive: &'static str,
        name: &str,
        uris: &[String],
        keyring: PathBuf,
        suite: &str,
        verified: bool,
    ) -> Result<Apt> {
        let dir = crate::paths::cache_dir("apt")?.join(name);
        for sub in ["lists/partial", "cache/archives/partial", "preferences.d"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.display()))?;
        }
        if !dir.join("status").exists() {
            crate::paths::write_atomic(&dir.join("status"), b"")?;
        }
        let option = if verified {
            format!("signed-by={}", keyring.display())
        } else {
            "trusted=yes".to_string()
        };
        let list: String = uris
            .iter()
            .map(|u| format!("deb [{option}] {u} {suite} main\n"))
            .collect();
        let path = dir.join("sources.list");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(list.as_str()) {
            crate::paths::write_atomic(&path, list.as_bytes())?;
            // A changed source makes the old lists stale.
            let _ = std::fs::remove_dir_all(dir.join("lists"));
            std::fs::create_dir_all(dir.join("lists/partial"))?;
        }
        Ok(Apt {
            archive,
            suite: suite.to_string(),
            keyring,
            dir,
            verified,
        })
    }

    /// The options that point every part of apt's state into this directory.
    pub fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        let mut o = vec![
            format!("Dir::Etc::SourceList={d}/sources.list"),
            "Dir::Etc::SourceParts=-".into(),
            format!("Dir::Etc::Preferences={d}/preferences"),
            format!("Dir::Etc::PreferencesParts={d}/preferences.d"),
            format!("Dir::State={d}"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::State::status={d}/status"),
            format!("Dir::Cache={d}/cache"),
            // No binary caches (36 MiB each per suite): apt rebuilds them in memory in about a
            // second, and orca calls apt only on a cold fetch.
            "Dir::Cache::pkgcache=".into(),
            "Dir::Cache::srcpkgcache=".into(),
            // Only the package lists: no translations, no AppStream metadata.
            "Acquire::Languages=none".into(),
        ];
        for t in ["DEP-11", "DEP-11-icons", "DEP-11-icons-small", "DEP-11-icons-hidpi"] {
            o.push(format!("Acquire::IndexTargets::deb::{t}::DefaultEnabled=false"));
        }
        if unsafe { libc::geteuid() } == 0 {
            // The _apt user cannot enter a cache under root's home; apt would fall back anyway.
            o.push("APT::Sandbox::User=root".into());
        }
        o.into_iter().flat_map(|v| ["-o".to_string(), v]).collect()
    }

    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.args(self.options()).env("LC_ALL", "C");
        c
    }

    /// True when the suite's package lists are present.
    pub fn has_lists(&self) -> bool {
        std::fs::read_dir(self.dir.join("lists"))
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(false)
    }

    /// `apt-get update` for this suite alone.
    pub fn update(&self) -> Result<()> {
        let _lock = super::lock::exclusive(&self.dir.join("orca.lock"))?;
        let out = process::run(
            self.command("apt-get").args(["-q", "update"]),
            &format!("apt-get update ({})", self.suite),
            UPDATE_DEADLINE,
        )?;
        let err = out.stderr_str();
        if err.contains("NO_PUBKEY") || err.contains("is not signed") || err.contains("GPG error") {
            let mut keys: Vec<&str> = err
                .split("NO_PUBKEY ")
                .skip(1)
                .filter_map(|r| r.split_whitespace().next())
                .collect();
            keys.sort();
            keys.dedup();
            return Err(anyhow::Error::new(UnverifiedSuite {
                archive: self.archive,
                suite: self.suite.clone(),
                keyring: self.keyring.clone(),
                missing_keys: keys.into_iter().map(String::from).collect(),
            }));
        }
        if !out.status.success() || !self.has_lists() {
            return Err(fail!(
                Exit::KernelUnavailable,
                "could not read the package lists of {} suite {} from {}:\n{}",
                self.archive,
                self.suite,
                if self.archive == "Debian" { "the host's mirror" } else { "its mirror" },
                tail(&err)
            ));
        }
        Ok(())
    }

    /// `apt-get download PACKAGE[=VERSION]` into `into`; returns the downloaded file.
    /// `Ok(None)` when the lists do not know the package or version.
    pub fn download(&self, package: &str, version: Option<&str>, into: &Path) -> Result<Option<PathBuf>> {
        let spec = match version {
            Some(v) => format!("{package}={v}"),
            None => package.to_string(),
        };
        let out = process::run(
            self.command("apt-get")
                .args(["-q", "download", &spec])
                .current_dir(into),
            &format!("apt-get download {spec}"),
            DOWNLOAD_DEADLINE,
        )?;
        if !out.status.success() {
            let err = out.stderr_str();
            if err.contains("Unable to locate package")
                || err.contains("was not found")
                || err.contains("Can't find a source")
                || err.contains("No packages found")
            {
                return Ok(None);
            }
            return Err(fail!(
                Exit::KernelUnavailable,
                "apt-get download {spec} ({}) failed:\n{}",
                self.suite,
                tail(&err)
            ));
        }
        let deb = std::fs::read_dir(into)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .with_context(|| format!("apt-get download {spec} left no .deb in {}", into.display()))?;
        Ok(Some(deb))
    }

    /// The versions of `package` the suite offers (`apt-cache madison`), newest first.
    pub fn versions(&self, package: &str) -> Vec<String> {
        let Ok(out) = process::run(
            self.command("apt-cache").args(["madison", package]),
            "apt-cache madison",
            QUERY_DEADLINE,
        ) else {
            return Vec::new();
        };
        out.stdout_str()
            .lines()
            .filter_map(|l| l.split('|').nth(1))
            .map(|v| v.trim().to_string())
            .collect()
    }

    /// Package names in the suite matching a regular expression (`apt-cache search --names-only`).
    pub fn search(&self, pattern: &str) -> Vec<String> {
        let Ok(out) = process::run(
            self.command("apt-cache").args(["search", "--names-only", pattern]),
            "apt-cache search",
            QUERY_DEADLINE,
        ) else {
            return Vec::new();
        };
        out.stdout_str()
            .lines()
            .filter_map(|l| l.split(" - ").next())
            .map(String::from)
            .collect()
    }
}

/// The suite's Release file could not be verified with the host's keyring.
#[derive(Debug)]
pub struct UnverifiedSuite {
    pub archive: &'static str,
    pub suite: String,
    pub keyring: PathBuf,
    /// The signing keys apt reported missing (`NO_PUBKEY`).
    pub missing_keys: Vec<String>,
}

impl std::fmt::Display for UnverifiedSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the host's keyring {} cannot verify {} suite {}",
            self.keyring.display(),
            self.archive,
            self.suite
        )?;
        if !self.missing_keys.is_empty() {
            write!(f, " (missing keys {})", self.missing_keys.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for UnverifiedSuite {}

/// The last lines of apt's stderr, for messages.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
";

    #[test]
    fn deb822_gives_the_main_archive_and_its_keyring() {
        let m = mirror_from(&parse_deb822(DEB822)).unwrap();
        assert_eq!(m.uris, ["http://mirror.example/debian"]);
        assert_eq!(m.security_uris, ["http://mirror.example/debian-security"]);
        assert_eq!(
            m.keyring,
            Some(PathBuf::from("/usr/share/keyrings/debian-archive-keyring.gpg"))
        );
    }

    #[test]
    fn one_line_lists_and_third_party_sources() {
        let text = "deb https://vendor.example/apt cloud-sdk main\n# deb http://old.example/debian buster main\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian trixie main contrib\n";
        let m = mirror_from(&parse_list(text)).unwrap();
        assert_eq!(m.uris, ["http://m.example/debian"]);
        assert_eq!(m.keyring, Some(PathBuf::from("/k.gpg")));
        assert!(mirror_from(&parse_list("deb https://vendor.example/apt nodistro main\n")).is_none());
    }

    #[test]
    fn disabled_entries_are_ignored() {
        let text = "Types: deb\nURIs: http://a.example/debian\nSuites: sid\nEnabled: no\n";
        assert!(parse_deb822(text).is_empty());
    }
}
