//! Distro images, built for real with mmdebstrap through the host's apt sources:
//! - a minimal debian-12 builds, is pinned in configs/images.lock, and is whole on disk;
//! - a second build is a cache hit that reads nothing from the archive;
//! - a rebuild from the lock in a second, empty cache gives the same content hash, though the
//!   first cache lies below folders everyone may enter (apt's sandbox user `_apt` can reach the
//!   build) and the second below a 0700 folder (it cannot, as under `/root`); apt's `partial`
//!   directories are root's in both;
//! - SIGKILL in the middle of a build leaves no entry, no process and no mount behind, and the
//!   next build succeeds with a whole entry;
//! - Ubuntu, whose archive this machine cannot reach, fails in one line naming the archive and
//!   how to point orca at a mirror.
//!
//! The caches share downloaded packages (hard links of `images/debs/`), as one cache does between
//! builds: apt checks each against the pinned lists, and everything else is built from scratch.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn project(extra: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("configs")).unwrap();
    std::fs::write(d.path().join("configs/base.hcl"), format!("schema_version = \"1.0\"\n{extra}")).unwrap();
    d
}

fn orca_cmd(project: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_orca"));
    c.args(args)
        .current_dir(project)
        .env("CI", "true")
        .env("ORCA_CACHE_DIR", cache)
        .env_remove("ORCA_UBUNTU_MIRROR")
        .env_remove("ORCA_DEBIAN_MIRROR");
    c
}

fn orca(project: &Path, cache: &Path, args: &[&str]) -> Output {
    orca_cmd(project, cache, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `NAME SHA ROOT` as `orca image build` prints it.
fn built(out: &Output) -> (String, PathBuf) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "orca image build failed:\n{}{}", stdout, text(&out.stderr));
    let w: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(w.len(), 3, "{stdout}");
    (w[1].to_string(), PathBuf::from(w[2]))
}

fn seed_debs(from: &Path, to: &Path) {
    let src = from.join("images/debs/debian-bookworm");
    let dst = to.join("images/debs/debian-bookworm");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let _ = std::fs::hard_link(e.path(), dst.join(e.file_name()));
    }
}

fn count_tree(p: &Path) -> u64 {
    let mut n = 1;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let t = e.file_type().unwrap();
        n += if t.is_dir() { count_tree(&e.path()) } else { 1 };
    }
    n
}

/// A cache entry is whole: its manifest names it, and the tree holds every tar entry.
fn assert_whole(root: &Path, sha: &str) {
    let entry = root.parent().unwrap();
    assert_eq!(entry.file_name().unwrap().to_str().unwrap(), sha);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["content_sha256"], sha);
    assert_eq!(count_tree(root), m["entries"].as_u64().unwrap(), "the tree lacks tar entries");
    assert!(root.join("usr/bin/dpkg").is_file() && root.join("usr/bin/apt-get").is_file());
    assert!(std::fs::read_to_string(root.join("etc/debian_version")).unwrap().starts_with("12."));
    assert_eq!(std::fs::read_to_string(root.join("etc/hostname")).unwrap(), "orca\n");
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = text(&c).replace('\0', " ");
            if c.contains(needle) {
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn minimal_debian_12_builds_pins_caches_reproduces_and_survives_kill() {
    let tmp = tempfile::tempdir().unwrap();
    // `a` below folders anyone may enter, `b` below one only root may: apt's sandbox user can
    // reach a build in `a` and cannot in `b`, which once gave the same pin two content hashes.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let private = tmp.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (a, b, c) = (tmp.path().join("a"), private.join("b"), tmp.path().join("c"));
    let proj = project("");
    let p = proj.path();

    // A real build, pinned in the lock.
    let (sha, root) = built(&orca(p, &a, &["image", "build", "debian-12-minimal"]));
    assert_whole(&root, &sha);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("configs/images.lock")).unwrap()).unwrap();
    let pin = &lock["images"]["debian-12-minimal"];
    assert_eq!(pin["content_sha256"], sha.as_str());
    assert_eq!(pin["suite"], "bookworm");
    assert_eq!(pin["snapshot"]["release_sha256"].as_str().unwrap().len(), 64);
    assert!(pin["snapshot"]["indexes"]["main/binary-amd64/Packages"].is_string());

    // A cache hit reads nothing from the archive and builds nothing.
    let again = orca(p, &a, &["image", "build", "debian-12-minimal"]);
    assert_eq!(built(&again).0, sha);
    let err = text(&again.stderr);
    assert!(err.contains("cached"), "{err}");
    assert!(!err.contains("lists") && !err.contains("mmdebstrap"), "a cache hit touched the archive:\n{err}");

    // `image list` shows the pin and the cache.
    let list: serde_json::Value =
        serde_json::from_slice(&orca(p, &a, &["image", "list", "--json"]).stdout).unwrap();
    let row = list.as_array().unwrap().iter().find(|r| r["name"] == "debian-12-minimal").unwrap();
    assert_eq!(row["pinned"], sha.as_str());
    assert_eq!(row["cached"], true);

    // From the lock, in a second cache: the same bytes.
    seed_debs(&a, &b);
    let (sha_b, root_b) = built(&orca(p, &b, &["image", "build", "debian-12-minimal"]));
    assert_eq!(sha_b, sha, "the rebuild from the lock gave other content");
    assert_whole(&root_b, &sha);
    for root in [&root, &root_b] {
        for d in ["var/lib/apt/lists/partial", "var/cache/apt/archives/partial"] {
            let m = std::fs::metadata(root.join(d)).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o700), "{} in {}", d, root.display());
        }
    }

    // SIGKILL mid-build (while dpkg installs, with mmdebstrap's mounts up), then build again.
    seed_debs(&a, &c);
    let mut child = orca_cmd(p, &c, &["image", "build", "debian-12-minimal"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            let _ = tx.send(l);
        }
    });
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(l) => {
                let mid = l.contains("installing essential packages");
                seen.push(l);
                if mid {
                    break;
                }
            }
            Err(_) if start.elapsed() > Duration::from_secs(1800) => panic!("the build never got going:\n{}", seen.join("\n")),
            Err(_) => assert!(child.try_wait().unwrap().is_none(), "the build ended early:\n{}", seen.join("\n")),
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let needle = c.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !processes_mentioning(&needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(processes_mentioning(&needle), Vec::<String>::new(), "processes outlived orca");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&needle), "mounts outlived orca:\n{mounts}");
    assert!(!c.join("images/v1").join(&sha).join("manifest.json").exists(), "a killed build left an entry");
    let (sha_c, root_c) = built(&orca(p, &c, &["image", "build", "debian-12-minimal"]));
    assert_eq!(sha_c, sha);
    assert_whole(&root_c, &sha);
    let leftovers: Vec<_> = std::fs::read_dir(c.join("images/v1"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "leftovers of the killed build: {leftovers:?}");

    // rm and gc.
    let rm = orca(p, &c, &["image", "rm", "debian-12-minimal"]);
    assert!(rm.status.success() && !root_c.exists(), "{}", text(&rm.stderr));
    let gc = orca(p, &b, &["image", "gc", "--debs"]);
    assert!(gc.status.success(), "{}", text(&gc.stderr));
    assert!(root_b.exists(), "gc removed a pinned image");
    assert!(!b.join("images/debs").exists());
}

#[test]
fn ubuntu_fails_in_one_line_naming_the_archive_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = project("");
    let out = orca(proj.path(), tmp.path(), &["image", "build", "ubuntu-22.04-minimal"]);
    assert_eq!(out.status.code(), Some(4));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    for want in ["Ubuntu archive", "jammy", "mirror = ", "ORCA_UBUNTU_MIRROR"] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }
    // A mirror that cannot be reached: the same, naming it.
    let out = orca_cmd(proj.path(), tmp.path(), &["image", "build", "ubuntu-24.04"])
        .env("ORCA_UBUNTU_MIRROR", "http://127.0.0.1:9/ubuntu")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = text(&out.stderr);
    let last: Vec<&str> = err.lines().filter(|l| l.starts_with("orca: error:")).collect();
    assert_eq!(last.len(), 1, "{err}");
    assert!(!err.contains("hint:"), "{err}");
    for want in ["Ubuntu archive", "http://127.0.0.1:9/ubuntu", "ORCA_UBUNTU_MIRROR"] {
        assert!(last[0].contains(want), "{want:?} missing from: {err}");
    }
}

#[test]
fn project_images_extend_the_catalog_and_bad_ones_are_located() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = project(
        "image \"builder\" {\n  base     = \"debian-12\"\n  packages = [\"clang\", \"make\"]\n}\n",
    );
    let out = orca(proj.path(), tmp.path(), &["image", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = list.as_array().unwrap().iter().find(|r| r["name"] == "builder").unwrap();
    assert_eq!(b["suite"], "bookworm");
    assert_eq!(b["kernel"], "6.1");
    let pkgs: Vec<&str> = b["packages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(pkgs.contains(&"clang") && pkgs.contains(&"iproute2"), "{pkgs:?}");
    assert_eq!(list.as_array().unwrap().len(), 13);

    let bad = project("image \"x\" {\n  base = \"debian-21\"\n}\n");
    let out = orca(bad.path(), tmp.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(err.contains("configs/base.hcl:3:10"), "{err}");
    assert!(err.contains("not in the image catalog"), "{err}");

    let out = orca(proj.path(), tmp.path(), &["image", "build", "debian-21"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("debian-12") || text(&out.stderr).contains("debian-11"));
}
