//! `orca clean`: what it removes, and removing it.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Exit;
use crate::error::Fail;

/// Cache areas (`paths::cache_dir(area)`) that `--cache` removes: what builds and runs produce.
pub const BUILD_AREAS: [&str; 2] = [
    "objects", // build::cache, compiled objects by content
    "results", // run::pipeline::cache, stage results
];

/// Cache areas that `--kernels` removes: everything fetched for, or derived from, a kernel.
pub const KERNEL_AREAS: [&str; 6] = [
    "kernels",   // kernel::fetch and kernel::unpack, downloaded parts and unpacked trees
    "apt",       // kernel::apt, the private apt state that downloads Debian kernel packages
    "vmlinux",   // vm::bootimage, PVH-bootable images extracted from a kernel's bzImage
    "initramfs", // vm::initramfs, images built from a kernel's modules
    "accel",     // vm::accel, whether KVM works on this host, found by booting a kernel
    "agentkit",  // vm::agentkit, orca with its loader and libraries for guests on images
];

/// Which groups of files to remove. Build outputs are always removed. Areas in neither list
/// (`toolchain`, clang probes memoized by stat) go only with `all`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    /// The object and result caches ([`BUILD_AREAS`]).
    pub cache: bool,
    /// Downloaded kernels and everything derived from them ([`KERNEL_AREAS`]).
    pub kernels: bool,
    /// Everything under the cache root.
    pub all: bool,
}

/// What `--unused` removes from the caches: kernels the catalog no longer names (their parts,
/// unpacked trees and boot images), and cache layouts this orca no longer reads. `catalog` is
/// the current catalog, or `None` when the specs do not load (then only old layouts go).
pub fn unused(catalog: Option<&[crate::plan::Kernel]>) -> Vec<PathBuf> {
    let cache = crate::paths::cache_root();
    let mut paths = Vec::new();
    // Areas whose entries live in a `v<N>` folder, and the folder this orca reads.
    let objects = format!("v{}", super::cache::SCHEMA);
    let layouts = [
        ("kernels", crate::kernel::LAYOUT),
        ("vmlinux", crate::vm::bootimage::LAYOUT),
        ("objects", objects.as_str()),
    ];
    for (area, current) in layouts {
        paths.extend(entries(&cache.join(area)).into_iter().filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            p.is_dir() && is_layout(&name) && name != current
        }));
    }
    let Some(catalog) = catalog else {
        return paths;
    };
    let ids: Vec<String> = catalog.iter().map(crate::kernel::kernel_id).collect();
    let shas: Vec<String> = catalog
        .iter()
        .flat_map(|k| k.sources.iter().map(|s| s.sha256().to_ascii_lowercase()))
        .collect();
    // An entry is named by its kernel's id, or the id and `.none` (a kernel without a PVH image).
    // A name starting with `.` is a running orca's temporary (an unpack or an atomic write): its
    // owner removes it, or the next run sweeps it once the owner is gone.
    let not_in_catalog = |p: &PathBuf| {
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let id = name.strip_suffix(".none").unwrap_or(&name);
        !name.starts_with('.') && !ids.iter().any(|i| i == id)
    };
    paths.extend(
        entries(&cache.join("kernels").join(crate::kernel::LAYOUT))
            .into_iter()
            .filter(not_in_catalog),
    );
    paths.extend(
        entries(&cache.join("vmlinux").join(crate::vm::bootimage::LAYOUT))
            .into_iter()
            .filter(not_in_catalog),
    );
    paths.extend(entries(&cache.join("kernels/parts")).into_iter().filter(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        // Only finished parts (`<sha256>.deb`/`.img`), never a download in progress.
        match name.split_once('.') {
            Some((sha, _)) if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                !shas.iter().any(|s| s == sha)
            }
            _ => false,
        }
    }));
    paths
}

fn is_layout(name: &str) -> bool {
    name.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The entries of a folder, sorted; none when it does not exist.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// One removed path and the disk space it used.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removed {
    pub path: PathBuf,
    pub bytes: u64,
    pub dir: bool,
}

/// The paths `scope` covers: `build/` and the configured output directory (when it lies outside
/// `build/`) in the project, then cache areas.
pub fn targets(root: &Path, out_dir: Option<&Path>, scope: Scope) -> Result<Vec<PathBuf>> {
    let build = root.join("build");
    let mut paths = vec![build.clone()];
    if let Some(o) = out_dir.map(|o| root.join(o))
        && !o.starts_with(&build)
    {
        paths.push(o);
    }
    let cache = crate::paths::cache_root();
    if scope.all {
        refuse_dangerous(&cache, root)?;
        paths.push(cache);
        return Ok(paths);
    }
    let mut areas = Vec::new();
    if scope.cache {
        areas.extend(BUILD_AREAS);
    }
    if scope.kernels {
        areas.extend(KERNEL_AREAS);
    }
    paths.extend(areas.iter().map(|a| cache.join(a)));
    Ok(paths)
}

/// `--all` removes the cache root itself: refuse when it is `/`, the home directory or holds
/// the project (a mistyped `ORCA_CACHE_DIR` must not wipe a home or a checkout).
fn refuse_dangerous(cache: &Path, root: &Path) -> Result<()> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let dangerous = cache.parent().is_none()
        || !cache.is_absolute()
        || root.starts_with(cache)
        || home.as_ref().is_some_and(|h| h.starts_with(cache));
    if dangerous {
        return Err(Fail::new(
            Exit::Usage,
            format!("refusing to remove the cache root {}: it is relative, or holds the project or your home directory", cache.display()),
        )
        .hint("point ORCA_CACHE_DIR at a directory used only by orca, or remove the caches with `orca clean --cache --kernels`")
        .into());
    }
    Ok(())
}

/// Removes `paths`, returning those that existed. Waits for a build of the tree to finish first,
/// so that a running build never has its output directory deleted under it.
pub fn remove(paths: &[PathBuf], out_dir: Option<&Path>) -> Result<Vec<Removed>> {
    let lock = out_dir.map(|o| o.join(".orca").join("lock")).filter(|l| l.exists());
    let _guard = match lock {
        Some(l) => Some(super::files::TreeLock::acquire(&l, || {
            crate::ui::status("waiting for a running orca build to finish")
        })?),
        None => None,
    };
    let mut removed = Vec::new();
    for p in paths {
        let dir = p.is_dir();
        if let Some(bytes) = super::files::remove(p)? {
            removed.push(Removed {
                path: p.clone(),
                bytes,
                dir,
            });
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_add_cache_areas() {
        let root = Path::new("/src/proj");
        let only = targets(root, Some(Path::new("build/ebpf")), Scope::default()).unwrap();
        assert_eq!(only, vec![root.join("build")]);
        let outside = targets(root, Some(Path::new("out/bpf")), Scope::default()).unwrap();
        assert_eq!(outside, vec![root.join("build"), root.join("out/bpf")]);
        let cache = targets(
            root,
            None,
            Scope {
                cache: true,
                kernels: true,
                all: false,
            },
        )
        .unwrap();
        let names: Vec<_> = cache[1..]
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["objects", "results", "kernels", "apt", "vmlinux", "initramfs", "accel", "agentkit"]
        );
    }

    /// Every area some code opens with `paths::cache_dir` is classified, so a new area cannot
    /// silently escape `--kernels` or `--cache`.
    #[test]
    fn every_cache_area_in_the_source_is_classified() {
        // Images (minutes to rebuild, pinned by their lock) go only with `--all` or `orca image gc`.
        let only_all = ["toolchain", "images"];
        let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut found = std::collections::BTreeSet::new();
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for (_, rest) in text
                        .match_indices("cache_dir(\"")
                        .map(|(i, m)| (i, &text[i + m.len()..]))
                    {
                        if let Some(end) = rest.find('"') {
                            found.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
        assert!(found.contains("kernels") && found.contains("objects"), "{found:?}");
        for area in &found {
            let known = BUILD_AREAS.contains(&area.as_str())
                || KERNEL_AREAS.contains(&area.as_str())
                || only_all.contains(&area.as_str());
            assert!(known, "cache area `{area}` is in neither BUILD_AREAS nor KERNEL_AREAS");
        }
    }

    #[test]
    fn refuses_to_wipe_a_home_or_the_project() {
        assert!(refuse_dangerous(Path::new("/"), Path::new("/src/proj")).is_err());
        assert!(refuse_dangerous(Path::new("/src"), Path::new("/src/proj")).is_err());
        assert!(refuse_dangerous(Path::new("/var/cache/orca"), Path::new("/src/proj")).is_ok());
    }
}
