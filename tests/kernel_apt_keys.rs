//! A host whose keyring cannot verify a suite (a host older than the suite): a pinned part is
//! still fetched (its sha256 guards it), but pinning, which would record an unchecked hash, is
//! refused. The host here is simulated with apt sources that trust only bullseye's release key.

mod kernel_support;

use kernel_support::*;
use orca::error::{Exit, exit_of};
use orca::kernel::apt::{Apt, UnverifiedSuite, host_mirror};
use orca::kernel::fetch;
use orca::plan::KernelSource;

#[test]
fn a_suite_the_host_cannot_verify_is_fetched_only_when_pinned() {
    let Ok(mirror) = host_mirror() else {
        assert!(!ci(), "CI host without a Debian apt source");
        eprintln!("SKIP: this host has no Debian apt source (CI is not set)");
        return;
    };
    let keyring = "/usr/share/keyrings/debian-archive-bullseye-stable.gpg";
    if !std::path::Path::new(keyring).exists() {
        assert!(!ci(), "{keyring} missing on a CI host");
        eprintln!("SKIP: {keyring} is not installed (CI is not set)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc-apt");
    std::fs::create_dir_all(etc.join("sources.list.d")).unwrap();
    std::fs::write(
        etc.join("sources.list.d/debian.sources"),
        format!(
            "Types: deb\nURIs: {}\nSuites: bookworm\nComponents: main\nSigned-By: {keyring}\n",
            mirror.uris.join(" ")
        ),
    )
    .unwrap();
    // SAFETY: the only test in this binary, before anything reads the environment.
    unsafe {
        std::env::set_var("ORCA_APT_ETC", &etc);
        std::env::set_var("ORCA_CACHE_DIR", dir.path().join("cache"));
    }

    let apt = Apt::open("sid", true).unwrap();
    let err = match apt.update() {
        Ok(()) => panic!("sid verified with bullseye's release key alone"),
        Err(e) => e,
    };
    if err.downcast_ref::<UnverifiedSuite>().is_none() && !ci() {
        eprintln!("SKIP: the host's mirror is not reachable (CI is not set): {err:#}");
        return;
    }
    assert!(err.downcast_ref::<UnverifiedSuite>().is_some(), "{err:#}");

    // Pinned: fetched through the unverified index, then checked against the pin.
    let base = catalog_kernel("7.2").sources[2].clone();
    let path = fetch::fetch("7.2", &base, &root()).unwrap();
    assert_eq!(sha256(&path), base.sha256());
    let unverified = std::fs::read_to_string(dir.path().join("cache/apt/sid-unverified/sources.list")).unwrap();
    assert!(unverified.contains("[trusted=yes]"), "{unverified}");

    // Unpinned (what `orca kernel pin` does): refused.
    let KernelSource::Debian { package, suite, .. } = &base else {
        panic!("7.2's third part is a Debian package")
    };
    let unpinned = KernelSource::Debian {
        package: package.clone(),
        version: None,
        suite: suite.clone(),
        sha256: String::new(),
    };
    let err = fetch::fetch_unpinned("7.2", &unpinned, &root(), None).unwrap_err();
    assert_eq!(exit_of(&err), Exit::KernelUnavailable, "{err:#}");
    assert!(
        format!("{err:#}").contains("cannot pin linux-base-7.2.13+deb14-amd64"),
        "{err:#}"
    );
    let hint = orca::error::find_fail(&err)
        .and_then(|f| f.hint.clone())
        .unwrap_or_default();
    assert!(hint.contains("debian-archive-keyring"), "{hint}");
}
