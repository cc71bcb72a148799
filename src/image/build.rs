//! One image build: mmdebstrap, from the package lists of a [`Snapshot`](super::archive::Snapshot),
//! into a reproducible tar (`SOURCE_DATE_EPOCH` = the Release file's date), hashed and unpacked.
//!
//! - mmdebstrap runs with `--skip=update` on the lists orca fetched and pinned, so the snapshot is
//!   exactly the package set installed.
//! - The image does not depend on the machine that built it: `/etc/hostname` is `orca`,
//!   `/etc/resolv.conf` is empty, and `/etc/apt/sources.list` holds a comment only (whoever boots
//!   the image writes its sources). So a lock made on one machine holds on another with another
//!   mirror of the same archive.
//! - apt runs unsandboxed (`APT::Sandbox::User "root"`) for the whole build, cleanup included.
//!   Left to itself, apt owns `/var/{lib/apt/lists,cache/apt/archives}/partial` to its sandbox
//!   user `_apt` (the *host's* uid for it) when that user can reach the build directory, and to
//!   root when it cannot (a cache below a 0700 folder such as `/root`), so the same pin gave two
//!   content hashes depending on where the cache lives. The setting goes into mmdebstrap's own
//!   `00mmdebstrap` apt config, which mmdebstrap deletes after its cleanup, so the image keeps
//!   no trace of it: the guest's apt sandboxes as usual and re-owns `partial` itself.
//! - As root, mmdebstrap runs in its own mount and PID namespaces (`unshare --mount --pid --fork
//!   --kill-child`): when orca dies, even by SIGKILL, everything it started dies with it and no
//!   mount it made outlives it.
//! - Downloaded packages are kept per suite under `<cache>/images/debs/` (as root), hard-linked
//!   into the chroot on the next build; apt checks each against the pinned lists before use.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::archive::{Lists, Source, arch};
use crate::error::{Exit, Fail};
use crate::{fail, process};

/// How long one mmdebstrap run may take (downloads included).
const DEADLINE: Duration = Duration::from_secs(3600);

/// The setup hook that makes apt run as root for the whole build (see the module docs). Hooks
/// run after mmdebstrap wrote `00mmdebstrap` and before any apt call; apt run from outside the
/// chroot reads the chroot's `apt.conf.d`, and mmdebstrap removes `00mmdebstrap` at the end.
const SANDBOX_ROOT: &str =
    "echo 'APT::Sandbox::User \"root\";' >> \"$1/etc/apt/apt.conf.d/00mmdebstrap\"";

/// What a build produced, in `dir`.
#[derive(Debug)]
pub struct Built {
    /// sha256 of the tar mmdebstrap wrote.
    pub content_sha256: String,
    /// Entries in the tar (files, directories, links).
    pub entries: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// Single-quotes a string for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Builds the image into `dir/root` (which must not exist), with `dir` as scratch space.
/// `progress` gets mmdebstrap's phase lines (`downloading packages with apt...`).
pub fn build(
    src: &Source,
    lists: &Lists,
    packages: &[String],
    debs: &Path,
    dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Built> {
    if process::on_path("mmdebstrap").is_none() {
        return Err(anyhow::Error::new(
            Fail::new(Exit::Infra, "mmdebstrap is not installed; orca builds images with it")
                .hint("install it: apt-get install mmdebstrap (.ci/setup does)"),
        ));
    }
    let list_dir = dir.join("lists");
    let work = dir.join("work");
    std::fs::create_dir_all(&list_dir)?;
    std::fs::create_dir_all(&work)?;
    for f in &lists.files {
        let name = f.file_name().context("a list file without a name")?;
        std::fs::copy(f, list_dir.join(name)).with_context(|| format!("copying {}", f.display()))?;
    }
    let tar = dir.join("image.tar");
    let mut cmd = if is_root() {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--", "mmdebstrap"]);
        c
    } else {
        Command::new("mmdebstrap")
    };
    cmd.arg("--variant=minbase")
        .arg("--format=tar")
        .arg(format!("--architectures={}", arch()))
        .arg("--components=main")
        .arg("--skip=update")
        .arg("--skip=output/dev");
    // One owner for apt's `partial` directories whatever the cache's parent folders allow (see
    // the module docs): before the first apt call, and still set when mmdebstrap's cleanup runs.
    cmd.arg(format!("--setup-hook={SANDBOX_ROOT}"));
    let l = sh_quote(&list_dir.to_string_lossy());
    if is_root() {
        cmd.arg(format!(
            "--setup-hook=mkdir -p \"$1/var/lib/apt/lists\" && cp {l}/* \"$1/var/lib/apt/lists/\""
        ));
    } else {
        cmd.arg(format!("--setup-hook=sync-in {l} /var/lib/apt/lists"));
    }
    if !packages.is_empty() {
        cmd.arg(format!("--include={}", packages.join(",")));
    }
    if is_root() {
        std::fs::create_dir_all(debs)?;
        let d = sh_quote(&debs.to_string_lossy());
        cmd.arg("--skip=download/empty")
            .arg("--skip=essential/unlink")
            .arg(format!(
                "--setup-hook=mkdir -p \"$1/var/cache/apt/archives\" && for f in {d}/*.deb; do [ -e \"$f\" ] || continue; ln \"$f\" \"$1/var/cache/apt/archives/\" 2>/dev/null || cp \"$f\" \"$1/var/cache/apt/archives/\" || exit 1; done; true"
            ))
            .arg(format!(
                "--customize-hook=for f in \"$1\"/var/cache/apt/archives/*.deb; do [ -e \"$f\" ] || continue; b=$(basename \"$f\"); [ -e {d}/\"$b\" ] || ln \"$f\" {d}/\"$b\" 2>/dev/null || {{ cp \"$f\" {d}/.tmp.\"$b\" && mv {d}/.tmp.\"$b\" {d}/\"$b\"; }}; done"
            ));
    }
    cmd.arg("--customize-hook=echo orca > \"$1/etc/hostname\"")
        .arg("--customize-hook=: > \"$1/etc/resolv.conf\"")
        .arg("--customize-hook=echo '# orca writes the apt sources when it boots this image' > \"$1/etc/apt/sources.list\"")
        .arg(&src.suite)
        .arg(&tar)
        .arg(format!("deb [signed-by={}] {} {} main", src.keyring.display(), src.uri, src.suite))
        .env("SOURCE_DATE_EPOCH", lists.snapshot.epoch.to_string())
        .env("TMPDIR", &work)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = process::spawn(&mut cmd, "mmdebstrap")?;
    let stderr = child.inner().stderr.take().context("mmdebstrap's stderr")?;
    let tail: Arc<Mutex<Vec<String>>> = Arc::default();
    let status = std::thread::scope(|s| {
        let tail = tail.clone();
        s.spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                // mmdebstrap's phases end in "..." (`installing essential packages...`).
                if let Some(phase) = line.strip_prefix("I: ").and_then(|l| l.strip_suffix("..."))
                    && !phase.starts_with("running ")
                {
                    progress(phase);
                }
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                t.push(line);
                let n = t.len();
                if n > 400 {
                    t.drain(..n - 200);
                }
            }
        });
        child.wait_deadline(DEADLINE)
    })?;
    if !status.success() || !tar.is_file() {
        let t = tail.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&String> = t.iter().filter(|l| l.starts_with("E:") || l.contains("rror")).collect();
        let shown: Vec<&String> = if lines.is_empty() { t.iter().rev().take(12).rev().collect() } else { lines };
        return Err(fail!(
            Exit::Infra,
            "mmdebstrap failed ({status}) building {} {}:\n{}",
            src.archive,
            src.suite,
            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
        ));
    }
    let built = hash_and_count(&tar)?;
    let root = dir.join("root");
    std::fs::create_dir(&root)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(std::fs::File::open(&tar)?));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(is_root());
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(false);
    archive
        .unpack(&root)
        .with_context(|| format!("unpacking the image into {}", root.display()))?;
    std::fs::remove_file(&tar)?;
    let _ = std::fs::remove_dir_all(&work);
    let _ = std::fs::remove_dir_all(&list_dir);
    Ok(built)
}

/// Reads a tar through sha256, counting its entries and content bytes.
fn hash_and_count(tar: &Path) -> Result<Built> {
    struct Hashing<R> {
        inner: R,
        h: Sha256,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.h.update(&buf[..n]);
            Ok(n)
        }
    }
    let file = std::fs::File::open(tar).with_context(|| format!("opening {}", tar.display()))?;
    let mut r = Hashing {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        h: Sha256::new(),
    };
    let (mut entries, mut bytes) = (0u64, 0u64);
    {
        let mut a = tar::Archive::new(&mut r);
        for e in a.entries().context("reading the image tar")? {
            let e = e.context("reading the image tar")?;
            entries += 1;
            if e.header().entry_type().is_file() {
                bytes += e.size();
            }
        }
    }
    std::io::copy(&mut r, &mut std::io::sink())?;
    Ok(Built {
        content_sha256: hex::encode(r.h.finalize()),
        entries,
        bytes,
    })
}

/// Whether anything is mounted at or below `path` (read from `/proc/self/mountinfo`): such a
/// directory is never removed, so that a leftover bind mount cannot lead a removal into the host.
pub fn has_mounts_below(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let p = path.to_string_lossy();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " "))
        .any(|m| m == p || m.starts_with(&format!("{p}/")))
}

/// Removes a directory tree unless something is mounted below it.
pub fn remove_tree(path: &Path) -> Result<()> {
    if has_mounts_below(path) {
        return Err(fail!(
            Exit::Infra,
            "{} has mounts below it; not removing it (unmount them first)",
            path.display()
        ));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// The debs cache of one archive suite.
pub fn debs_dir(archive: &str, suite: &str) -> Result<PathBuf> {
    Ok(crate::paths::cache_dir("images")?.join("debs").join(format!("{archive}-{suite}")))
}
