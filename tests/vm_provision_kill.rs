//! Killing orca while it keeps a provisioned root leaves no corrupt cache entry (for real: TCG,
//! the debian-12-minimal image the other image tests build, a real kernel).
//!
//! The provision writes 150 MB into the guest's write layer, so archiving that layer and applying
//! it on the host takes seconds; orca is killed with SIGKILL half a second after the script's last
//! line, while it is keeping the root. Then:
//! - no QEMU, socket or scratch file of the killed orca is left;
//! - the key's cache entry holds no `root` (or only a complete one: the rename is the commit);
//! - the next `orca run` does not boot on a half-kept root: it provisions again and keeps the root,
//!   and the run after that reuses it.

mod vm_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use vm_support::{Vm, project, stderr};

fn spec(nonce: &str) -> String {
    format!(
        r#"schema_version = "1.0"
vm {{
  name  = "pk"
  image = "debian-12-minimal"
  resources {{
    cpu    = 1
    memory = "1GB"
    disk   = "1GB"
  }}
  provision = [
    "echo provision-{nonce}",
    "head -c 150000000 /dev/urandom > /var/big",
    "echo PROVISION-DONE",
  ]
}}
"#
    )
}

fn cache_root() -> PathBuf {
    if let Ok(d) = std::env::var("ORCA_CACHE_DIR") {
        return PathBuf::from(d);
    }
    match std::env::var("XDG_CACHE_HOME") {
        Ok(d) if !d.is_empty() => PathBuf::from(d).join("orca"),
        _ => PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/orca"),
    }
}

#[test]
fn killing_orca_while_it_keeps_a_provisioned_root_leaves_nothing_corrupt() {
    let Some(vm) = Vm::new() else { return };
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let text = spec(&nonce);
    let proj = project(&[("configs/pk.hcl", &text)]);
    let dir = proj.path();
    let provisioned = cache_root().join("images/provisioned");
    let before: Vec<_> = std::fs::read_dir(&provisioned)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();

    let mut child = vm
        .orca()
        .current_dir(dir)
        .env("CI", "true")
        .args(["run", "configs/pk.hcl", "--", "true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The script's output comes through orca's stdout or stderr; watch both.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    for r in [Box::new(out) as Box<dyn std::io::Read + Send>, Box::new(err)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    // Only the readers hold senders now: when orca exits, the channel says so.
    drop(tx);
    let until = Instant::now() + Duration::from_secs(1500);
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the provision never finished:\n{}", seen.join("\n"));
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains("PROVISION-DONE");
                seen.push(line);
                if done {
                    break;
                }
            }
            Err(_) => panic!("orca ended before the provision finished:\n{}", seen.join("\n")),
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the orca this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    // What it printed up to the kill, for the record.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.push(line);
    }
    eprintln!("--- the killed run\n{}", seen.join("\n"));
    assert!(
        !seen.iter().any(|l| l.contains("kept the provisioned root")),
        "orca finished keeping the root before the kill; the test did not kill it mid-keep"
    );
    // Its QEMU dies with it. (Its scratch folder stays until the next orca sweeps it: a process
    // killed with SIGKILL cleans nothing; the last check below is that it was swept.)
    let runtime = vm.runtime.path().to_string_lossy().into_owned();
    let until = Instant::now() + Duration::from_secs(10);
    while !vm_support::processes_mentioning(&runtime).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = vm_support::processes_mentioning(&runtime);
    assert!(left.is_empty(), "still running after orca was killed: {left:?}");

    // The new key's entry: no root, or a complete one (renamed in whole).
    let new: Vec<_> = std::fs::read_dir(&provisioned)
        .map(|r| r.flatten().filter(|e| !before.contains(&e.file_name())).map(|e| e.path()).collect())
        .unwrap_or_default();
    for e in &new {
        let root = e.join("root");
        if root.exists() {
            assert!(root.join("var/big").is_file(), "{} is a partial root", root.display());
            assert_eq!(std::fs::metadata(root.join("var/big")).unwrap().len(), 150_000_000);
        }
    }

    // The next run provisions again (nothing usable was kept) or reuses a complete root; the run
    // after it reuses.
    let again = vm
        .orca()
        .current_dir(dir)
        .env("CI", "true")
        .args(["run", "configs/pk.hcl", "--", "sh", "-c", "test -f /var/big && wc -c < /var/big"])
        .output()
        .unwrap();
    eprintln!("--- the next run\n{}", stderr(&again));
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("150000000"));
    let kept_before = new.iter().any(|e| e.join("root").exists());
    if !kept_before {
        assert!(stderr(&again).contains("first boot of image"), "it did not provision again");
        assert!(stderr(&again).contains("kept the provisioned root"));
        // Keeping the root again swept what the killed orca left (its layer archive, its
        // half-applied root).
        for e in &new {
            let left: Vec<_> = std::fs::read_dir(e)
                .unwrap()
                .flatten()
                .map(|x| x.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tmp-"))
                .collect();
            assert!(left.is_empty(), "{} still holds {left:?}", e.display());
        }
    }
    let third = vm
        .orca()
        .current_dir(dir)
        .env("CI", "true")
        .args(["run", "configs/pk.hcl", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    assert!(stderr(&third).contains("provision skipped"), "{}", stderr(&third));
    vm.assert_clean();
    // Leave nothing of this test's key in the user's cache.
    for e in std::fs::read_dir(&provisioned).unwrap().flatten() {
        if !before.contains(&e.file_name()) {
            let _ = std::process::Command::new("rm").arg("-rf").arg(e.path()).status();
        }
    }
}
