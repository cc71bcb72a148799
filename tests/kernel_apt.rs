//! The private apt state: every directory apt uses points into orca's cache, and a real update
//! and download leave the host's apt state (`/var/lib/apt`, `/var/cache/apt`, dpkg's status)
//! exactly as they were.

mod kernel_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kernel_support::ci;
use orca::kernel::apt::Apt;

/// Path → (size, mtime) of every file below `dir`.
fn snapshot(dir: &Path, out: &mut BTreeMap<String, (u64, std::time::SystemTime)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        if m.is_dir() {
            snapshot(&p, out);
        }
        out.insert(p.display().to_string(), (m.len(), m.modified().unwrap()));
    }
}

fn host_state() -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut s = BTreeMap::new();
    for d in ["/var/lib/apt", "/var/cache/apt"] {
        snapshot(Path::new(d), &mut s);
    }
    if let Ok(m) = std::fs::metadata("/var/lib/dpkg/status") {
        s.insert("/var/lib/dpkg/status".into(), (m.len(), m.modified().unwrap()));
    }
    s
}

#[test]
fn the_private_apt_state_never_touches_the_hosts() {
    let cache = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary, before anything reads the environment.
    unsafe { std::env::set_var("ORCA_CACHE_DIR", cache.path()) };
    let apt = Apt::open("bookworm", true).expect("the host has a Debian source");
    let private = apt.dir.display().to_string();

    // What apt itself resolves its directories to, with orca's options.
    let out = Command::new("apt-config")
        .args(apt.options())
        .arg("dump")
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&out.stdout);
    // apt's keys are case-insensitive; the dump spells them its own way.
    let value = |key: &str| {
        dump.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(' ')?;
                k.eq_ignore_ascii_case(key)
                    .then(|| v.trim_end_matches(';').trim_matches('"').to_string())
            })
            .unwrap_or_else(|| panic!("{key} not in apt-config dump"))
    };
    for key in [
        "Dir::State",
        "Dir::State::Lists",
        "Dir::State::status",
        "Dir::Cache",
        "Dir::Etc::SourceList",
    ] {
        assert!(
            value(key).starts_with(&private),
            "{key} = {} is outside {private}",
            value(key)
        );
    }
    assert_eq!(value("Dir::Etc::SourceParts"), "-");
    for relative in ["Dir::Cache::archives", "Dir::State::extended_states"] {
        assert!(
            !value(relative).starts_with('/'),
            "{relative} = {} escapes the private state",
            value(relative)
        );
    }
    let sources = std::fs::read_to_string(apt.dir.join("sources.list")).unwrap();
    assert!(
        sources.contains(" bookworm main") && sources.contains("signed-by="),
        "{sources}"
    );

    let before = host_state();
    if let Err(e) = apt.update() {
        if !ci() {
            eprintln!("SKIP: the host's mirror is not reachable (CI is not set): {e:#}");
            return;
        }
        panic!("{e:#}");
    }
    assert!(apt.has_lists());
    let into = tempfile::tempdir().unwrap();
    let deb = apt
        .download("linux-base", None, into.path())
        .unwrap()
        .expect("bookworm has linux-base");
    assert!(deb.starts_with(into.path()));
    assert!(!apt.versions("linux-base").is_empty());
    let after = host_state();
    let changed: Vec<&String> = after.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(
        changed.is_empty() && removed.is_empty(),
        "host apt state changed: {changed:?} {removed:?}"
    );
}
