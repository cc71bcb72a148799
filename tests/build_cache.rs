//! The object cache with the real clang: hits after `orca clean`, corruption, sharing between
//! checkouts, builds killed at random moments, and concurrent builds of one tree.

mod build_support;

use std::path::Path;
use std::time::{Duration, Instant};

use build_support::{Project, compiled, outcomes, text};

#[test]
fn a_full_cache_hit_after_clean_runs_clang_zero_times() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let objects = p.objects();

    let out = p.orca(&["clean"]);
    assert!(out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("removed build") && said.contains("freed"), "{said}");
    assert!(!p.root.join("build").exists());

    let s = p.build(&[]);
    assert_eq!(compiled(&s), 0, "{s:#}");
    assert_eq!(s["cached"], 3);
    assert_eq!(p.objects(), objects);
}

#[test]
fn clean_cache_empties_the_object_cache() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let out = p.orca(&["clean", "--cache"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("objects"), "{}", text(&out.stderr));
    assert!(!p.cache.join("objects").exists());
    assert_eq!(compiled(&p.build(&[])), 3);

    let out = p.orca(&["clean", "--all"]);
    assert!(out.status.success());
    assert!(!p.cache.exists());
    let out = p.orca(&["clean"]);
    assert!(text(&out.stderr).contains("nothing to remove"));
}

#[test]
fn a_corrupt_cache_entry_is_rebuilt_never_used() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let objects = p.objects();
    p.orca(&["clean"]);
    let mut corrupted = 0;
    for entry in walk(&p.cache.join("objects")) {
        if entry.extension().is_some_and(|e| e == "o") {
            let mut data = std::fs::read(&entry).unwrap();
            let last = data.len() - 1;
            data[last] ^= 0xff;
            std::fs::write(&entry, data).unwrap();
            corrupted += 1;
        }
    }
    assert_eq!(corrupted, 3);
    let out = p.orca(&["build", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(compiled(&s), 3, "corrupt entries are not used");
    assert!(text(&out.stderr).contains("discarding a corrupt object cache entry"));
    assert_eq!(p.objects(), objects);
    // The entries were replaced by good ones.
    p.orca(&["clean"]);
    assert_eq!(compiled(&p.build(&[])), 0);
}

#[test]
fn checkouts_at_different_paths_share_the_cache() {
    let a = Project::new("ebpf-basic", "a");
    a.build(&[]);
    let b = Project::with_cache("ebpf-basic", "somewhere/else/b", &a.cache);
    let s = b.build(&[]);
    assert_eq!(compiled(&s), 0, "{s:#}");
    assert_eq!(b.objects(), a.objects());
}

/// 20 builds killed with SIGKILL at random moments, each with sources no build has seen (so it
/// compiles, stores and installs). Whatever state that leaves, the next build must give exactly
/// the bytes of a clean build, and leave no temporary files or processes behind.
#[test]
fn builds_killed_at_random_moments_leave_a_usable_cache() {
    let p = Project::new("ebpf-basic", "proj");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill delays seeded with {seed}");
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let header = p.read("ebpf/include/counters.h");
    // The first build: how long a full compile takes here, to spread the kills over it.
    let t = Instant::now();
    p.build(&[]);
    let full = t.elapsed().as_millis() as u64 + 50;
    let mut killed = Vec::new();
    for i in 0..20 {
        p.write("ebpf/include/counters.h", &format!("{header}\n/* variant {i} */\n"));
        let mut child = p
            .command(&["build"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(next() % full));
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        killed.push(child.id());
        assert!(processes_of(child.id()).is_empty(), "no clang outlives a killed orca");
    }
    p.write("ebpf/include/counters.h", &format!("{header}\n/* final */\n"));
    p.build(&[]);
    assert_eq!(compiled(&p.build(&[])), 0, "the state after the kills is consistent");

    // A clean build of the same sources, elsewhere, with a cache of its own.
    let reference = Project::new("ebpf-basic", "reference");
    reference.write("ebpf/include/counters.h", &format!("{header}\n/* final */\n"));
    reference.build(&[]);
    assert_eq!(p.objects(), reference.objects());

    // Cached objects restored after a clean are the same bytes too.
    p.orca(&["clean"]);
    let s = p.build(&[]);
    assert_eq!(compiled(&s), 0);
    assert_eq!(p.objects(), reference.objects());

    // No temporary files remain in the tree or the cache.
    let temps: Vec<_> = walk(&p.root)
        .into_iter()
        .chain(walk(&p.cache))
        .filter(|f| {
            let n = f.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(".tmp-") || f.parent().is_some_and(|d| d.ends_with("tmp"))
        })
        .collect();
    assert!(temps.is_empty(), "left over: {temps:?}");
    // Nor the stages of killed builds (the next build sweeps them).
    let stages: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            killed
                .iter()
                .any(|pid| n.starts_with(&format!("orca-stage-{pid:010}-")))
        })
        .collect();
    assert!(stages.is_empty(), "stages left over: {stages:?}");
}

#[test]
fn concurrent_builds_of_one_tree_give_correct_objects() {
    let p = Project::new("ebpf-basic", "proj");
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.command(&["build", "--json"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        total += compiled(&s);
        assert!(outcomes(&s).values().all(|o| o != "failed"));
    }
    assert_eq!(total, 3, "builds of one tree take turns: each program is compiled once");
    let reference = Project::new("ebpf-basic", "reference");
    reference.build(&[]);
    assert_eq!(p.objects(), reference.objects());
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Live processes working in the stage of orca process `pid` (clang and llvm-strip run there).
fn processes_of(pid: u32) -> Vec<String> {
    std::thread::sleep(Duration::from_millis(50));
    let stage = format!("/tmp/orca-stage-{pid:010}-");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cwd) = std::fs::read_link(e.path().join("cwd"))
            && cwd.to_string_lossy().starts_with(&stage)
        {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(") ")
                .map(|(_, r)| r.chars().next().unwrap_or('?'))
                .unwrap_or('?');
            if state != 'Z' {
                found.push(stat);
            }
        }
    }
    found
}

#[test]
fn an_interrupted_build_exits_130_and_keeps_the_objects() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let before = p.objects();
    p.write(
        "ebpf/include/counters.h",
        &format!("{}\n/* changed */\n", p.read("ebpf/include/counters.h")),
    );
    let child = p
        .command(&["build"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once clang runs: when the stage exists.
    let stage = format!("orca-stage-{:010}-", child.id());
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20)
        && !std::fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&stage))
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"), "{}", text(&out.stderr));
    assert_eq!(p.objects().len(), before.len(), "objects are left in place");
    assert!(processes_of(out_pid(&stage)).is_empty());
    assert!(
        !std::fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&stage)),
        "the stage is removed"
    );
    // The next build does the work that was interrupted.
    assert_eq!(compiled(&p.build(&[])), 2);
}

fn out_pid(stage: &str) -> u32 {
    stage
        .trim_start_matches("orca-stage-")
        .trim_end_matches('-')
        .parse()
        .unwrap()
}

/// `--kernels` removes every kernel-derived area and nothing else, `--cache` the build areas,
/// `--all` the rest; each removed area is reported with the space it used, and the total freed
/// is their sum. The area list is the one `orca status` reports from the same cache root.
#[test]
fn clean_removes_every_cache_area_of_its_scope_and_reports_the_space() {
    let p = Project::new("ebpf-basic", "proj");
    let kernel_areas = ["kernels", "apt", "vmlinux", "initramfs", "accel"];
    let build_areas = ["objects", "results"];
    let all_areas = [&kernel_areas[..], &build_areas[..], &["toolchain"]].concat();
    for (i, area) in all_areas.iter().enumerate() {
        // Distinct sizes, in a nested directory as the real areas have.
        let dir = p.cache.join(area).join("v1").join("entry");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data"), vec![0x5a; (i + 1) * 37 * 1024]).unwrap();
        std::fs::write(p.cache.join(area).join("top"), b"x").unwrap();
    }

    let out = p.orca(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut listed: Vec<&str> = status["caches"]["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    listed.sort();
    let mut expected = all_areas.clone();
    expected.sort();
    assert_eq!(listed, expected, "orca status lists every area");

    let used: Vec<u64> = kernel_areas.iter().map(|a| disk_usage(&p.cache.join(a))).collect();
    let out = p.orca(&["clean", "--kernels"]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    for (area, bytes) in kernel_areas.iter().zip(&used) {
        assert!(!p.cache.join(area).exists(), "{area} is removed");
        let line = format!("removed {}/ ({})", p.cache.join(area).display(), human(*bytes));
        assert!(said.contains(&line), "`{line}` in:\n{said}");
    }
    assert!(said.contains(&format!("freed {}", human(used.iter().sum()))), "{said}");
    for area in build_areas.iter().chain(&["toolchain"]) {
        assert!(p.cache.join(area).exists(), "{area} stays with --kernels");
    }

    let used: u64 = build_areas.iter().map(|a| disk_usage(&p.cache.join(a))).sum();
    let out = p.orca(&["clean", "--cache"]);
    let said = text(&out.stderr);
    assert!(said.contains(&format!("freed {}", human(used))), "{said}");
    assert!(build_areas.iter().all(|a| !p.cache.join(a).exists()), "{said}");
    assert!(p.cache.join("toolchain").exists());

    let used = disk_usage(&p.cache);
    let out = p.orca(&["clean", "--all"]);
    let said = text(&out.stderr);
    assert!(said.contains(&format!("freed {}", human(used))), "{said}");
    assert!(!p.cache.exists());
}

/// Allocated blocks, each inode once: what clean counts as freed.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(path).unwrap();
    let mut total = md.blocks() * 512;
    if md.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            total += disk_usage(&e.path());
        }
    }
    total
}

/// The figure as `orca` prints sizes (1024-based, one decimal).
fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let (mut v, mut u) = (n as f64, 0);
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[test]
fn clean_unused_removes_kernels_the_catalog_no_longer_names_and_old_layouts() {
    use sha2::{Digest, Sha256};
    let p = Project::new("ebpf-basic", "proj");
    let kept_sha = "a".repeat(64);
    let gone_sha = "b".repeat(64);
    std::fs::write(
        p.root.join("configs/kernels.hcl"),
        format!(
            "schema_version = \"1.0\"\nkernel \"6.1\" {{\n  file {{\n    path = \"k.deb\"\n    sha256 = \"{kept_sha}\"\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let id = |sha: &str| hex::encode(Sha256::digest(format!("{sha}\n")));
    let (kept, gone) = (id(&kept_sha), id(&gone_sha));
    let c = &p.cache;
    let make = |rel: &str| {
        let path = c.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if rel.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("data"), b"x").unwrap();
        } else {
            std::fs::write(&path, b"x").unwrap();
        }
    };
    let keep = [
        format!("kernels/v1/{kept}/"),
        format!("kernels/parts/{kept_sha}.deb"),
        format!("vmlinux/v3/{kept}/"),
        format!("vmlinux/v3/{kept}.none"),
        "kernels/locks/x".to_string(),
        // A running orca's unpack and atomic write in progress.
        "kernels/v1/.tmp-1-abc/".to_string(),
        "vmlinux/v3/.tmpXYZ".to_string(),
        "objects/v2/ab/".to_string(),
        "results/r.json".to_string(),
        "initramfs/i.cpio".to_string(),
    ];
    let remove = [
        format!("kernels/v1/{gone}/"),
        format!("kernels/parts/{gone_sha}.deb"),
        format!("vmlinux/v3/{gone}/"),
        format!("vmlinux/v3/{gone}.none"),
        "vmlinux/v2/".to_string(),
        "kernels/v0/".to_string(),
        "objects/v1/".to_string(),
    ];
    for rel in keep.iter().chain(&remove) {
        make(rel);
    }
    let out = p.orca(&["clean", "--unused"]);
    let said = text(&out.stderr);
    assert!(out.status.success(), "{said}");
    for rel in &keep {
        assert!(c.join(rel).exists(), "{rel} stays:\n{said}");
    }
    for rel in &remove {
        assert!(!c.join(rel).exists(), "{rel} is removed:\n{said}");
        let shown = c.join(rel.trim_end_matches('/'));
        assert!(
            said.contains(&format!("removed {}", shown.display())),
            "{rel} reported:\n{said}"
        );
    }
}
