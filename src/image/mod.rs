//! The image layer of the native backend: distro root filesystems (`debian-12`, `ubuntu-22.04`,
//! or a project's own `image "NAME" { base = ... }`) built with mmdebstrap, pinned in the
//! project's `configs/images.lock`, and cached by content hash.
//!
//! [`ensure`] is what a VM needs: the unpacked root of an image, built on first use. With a pin
//! whose content is cached it touches nothing else (no network); otherwise it fetches the suite's
//! lists, checks them against the pin, builds, and checks the result's hash against the pin.
//!
//! Cache layout under `<cache>/images/`:
//! - `v1/<content-sha256>/root/`: the unpacked image; `v1/<content-sha256>/manifest.json`. An
//!   entry is built in `v1/.tmp-<pid>-*` and renamed into place whole, with its manifest inside,
//!   so a kill at any moment leaves either a whole entry or a leftover that the next build sweeps.
//! - `v1/index/<recipe>-<release-sha256>`: the content hash a recipe gave on that snapshot.
//! - `debs/<archive>-<suite>/`: downloaded packages, reused by later builds.
//! - `apt/<archive>-<suite>/`: the private apt state the lists are fetched into.

pub mod archive;
pub mod build;
pub mod lock;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Exit, Fail};
use crate::plan::{DistroImage, Image, ImageKind, Plan};

/// The layout version of cache entries; bumped when what a build writes changes.
pub const LAYOUT: &str = "v1";
/// Bumped when the mmdebstrap invocation changes what lands in the image.
const RECIPE_VERSION: u32 = 1;

/// What an image is built from, as far as its content goes (not where the packages come from).
#[derive(Debug, Clone, Serialize)]
pub struct Recipe {
    pub version: u32,
    pub archive: String,
    pub suite: String,
    pub arch: String,
    pub variant: String,
    pub packages: Vec<String>,
}

impl Recipe {
    pub fn of(img: &DistroImage) -> Recipe {
        Recipe {
            version: RECIPE_VERSION,
            archive: img.archive.clone(),
            suite: img.suite.clone(),
            arch: archive::arch().to_string(),
            variant: "minbase".into(),
            packages: img.packages.clone(),
        }
    }

    /// sha256 of the recipe's JSON.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }
}

/// A cache entry's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub content_sha256: String,
    pub recipe: String,
    pub archive: String,
    pub suite: String,
    pub arch: String,
    pub packages: Vec<String>,
    pub snapshot: archive::Snapshot,
    /// Entries in the image tar, and bytes of file content.
    pub entries: u64,
    pub bytes: u64,
}

/// An image ready to boot.
#[derive(Debug, Clone)]
pub struct Ready {
    pub name: String,
    /// The unpacked root filesystem. Shared by every VM on this image: never write into it.
    pub root: PathBuf,
    /// The image's identity: sha256 of the image tar.
    pub content_sha256: String,
    /// The catalog kernel the image boots unless a spec names one.
    pub kernel: Option<String>,
    pub archive: String,
    pub suite: String,
    /// True when the entry was already cached.
    pub cached: bool,
    pub manifest: Manifest,
}

fn base() -> Result<PathBuf> {
    Ok(crate::paths::cache_dir("images")?.join(LAYOUT))
}

/// Where the cache entry of an image with this content hash lives (whether or not it exists).
pub fn entry_path(content_sha256: &str) -> Result<PathBuf> {
    Ok(base()?.join(content_sha256))
}

/// The manifest of a whole cache entry, or `None`.
pub fn read_entry(content_sha256: &str) -> Result<Option<Manifest>> {
    let p = entry_path(content_sha256)?.join("manifest.json");
    match std::fs::read(&p) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(_) => Ok(None),
    }
}

/// The distro image `name` of the catalog, or a clear error.
pub fn distro(plan: &Plan, name: &str) -> Result<DistroImage> {
    match crate::plan::images::find(plan, name) {
        Some(Image {
            kind: ImageKind::Distro(d),
            ..
        }) => Ok(d),
        Some(_) => Err(anyhow::Error::new(
            Fail::new(Exit::Usage, format!("image \"{name}\" is the host root; there is nothing to build"))
                .hint("`orca image list` shows the distro images"),
        )),
        None => {
            let names: Vec<String> = crate::plan::images::catalog(plan)
                .into_iter()
                .filter(|i| i.kind != ImageKind::Host)
                .map(|i| i.name)
                .collect();
            let hint = match crate::spec::diag::did_you_mean(name, names.iter().map(String::as_str)) {
                Some(s) => format!("did you mean \"{s}\"? (`orca image list` shows the catalog)"),
                None => format!("choose one of: {}", names.join(", ")),
            };
            Err(anyhow::Error::new(
                Fail::new(Exit::Usage, format!("image \"{name}\" is not in the image catalog")).hint(hint),
            ))
        }
    }
}

/// How [`ensure`] treats the lock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pinning {
    /// Use the pin when it is for this recipe (the archive must still serve its snapshot and the
    /// result must match it); write one when there is none.
    Follow,
    /// Move the pin to the archive as it is now (`orca image pin`).
    Repin,
}

/// The image `name`, built and cached if needed, pinned in the lock at `lock_path`.
pub fn ensure(plan: &Plan, name: &str, lock_path: &Path, pinning: Pinning) -> Result<Ready> {
    let img = distro(plan, name)?;
    let recipe = Recipe::of(&img);
    let key = recipe.key();
    let pins = lock::read(lock_path)?;
    let pin = pins.images.get(name).filter(|p| p.recipe == key).cloned();
    if pinning == Pinning::Follow
        && let Some(p) = &pin
        && let Some(m) = read_entry(&p.content_sha256)?
    {
        return ready(name, &img, m, true);
    }
    let _guard = crate::kernel::lock::exclusive(&crate::paths::cache_dir("images")?.join("locks").join(&key))?;
    let src = archive::source(name, &img)?;
    let step = crate::ui::Step::start(format!("image {name}"));
    step.set(format!("reading the {} {} lists from {}", src.archive, src.suite, src.uri));
    let lists = archive::fetch_lists(name, &src)?;
    if pinning == Pinning::Follow
        && let Some(p) = &pin
        && p.snapshot.release_sha256 != lists.snapshot.release_sha256
    {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::KernelUnavailable,
                format!(
                    "image {name} is pinned to the {} {} archive of {} (Release sha256 {}), but {} now serves the archive of {} ({}); the pinned packages cannot be had",
                    src.archive,
                    src.suite,
                    p.snapshot.date,
                    &p.snapshot.release_sha256[..12],
                    src.uri,
                    lists.snapshot.date,
                    &lists.snapshot.release_sha256[..12]
                ),
            )
            .hint(format!("move the pin forward with `orca image pin {name}`, or point `mirror` at a snapshot of the pinned archive")),
        ));
    }
    let index = base()?.join("index").join(format!("{key}-{}", lists.snapshot.release_sha256));
    let known = std::fs::read_to_string(&index).ok().map(|s| s.trim().to_string());
    let manifest = match known.as_deref().map(read_entry).transpose()?.flatten() {
        Some(m) => {
            step.done(format!("cached as {} (built before from this snapshot)", &m.content_sha256[..12]));
            m
        }
        None => {
            step.set("building with mmdebstrap");
            let m = build_entry(name, &img, &src, &lists, &key, pin.as_ref().filter(|_| pinning == Pinning::Follow), &step)?;
            crate::paths::write_atomic(&index, m.content_sha256.as_bytes())?;
            step.done(format!(
                "built as {} ({} entries, {})",
                &m.content_sha256[..12],
                m.entries,
                crate::ui::bytes(m.bytes)
            ));
            m
        }
    };
    if let Some(p) = pin.as_ref().filter(|_| pinning == Pinning::Follow)
        && p.content_sha256 != manifest.content_sha256
    {
        return Err(mismatch(name, &p.content_sha256, &manifest.content_sha256));
    }
    if pin.as_ref().map(|p| (&p.content_sha256, &p.snapshot)) != Some((&manifest.content_sha256, &manifest.snapshot)) {
        lock::update(
            lock_path,
            name,
            lock::Pin {
                recipe: key.clone(),
                archive: img.archive.clone(),
                suite: img.suite.clone(),
                packages: img.packages.clone(),
                snapshot: manifest.snapshot.clone(),
                content_sha256: manifest.content_sha256.clone(),
            },
        )?;
        crate::ui::status(format!(
            "image {name}: pinned to the archive of {} as {} in {}",
            manifest.snapshot.date,
            &manifest.content_sha256[..12],
            lock_path.display()
        ));
    }
    ready(name, &img, manifest, false)
}

fn mismatch(name: &str, want: &str, got: &str) -> anyhow::Error {
    anyhow::Error::new(
        Fail::new(
            Exit::KernelUnavailable,
            format!(
                "image {name}: the rebuild from its pin gave content sha256 {got}, but the lock pins {want}: the build is not reproducible here"
            ),
        )
        .hint(format!("check the host's mmdebstrap and apt; `orca image pin {name}` accepts the new content")),
    )
}

fn ready(name: &str, img: &DistroImage, m: Manifest, cached: bool) -> Result<Ready> {
    Ok(Ready {
        name: name.to_string(),
        root: entry_path(&m.content_sha256)?.join("root"),
        content_sha256: m.content_sha256.clone(),
        kernel: img.kernel.clone(),
        archive: img.archive.clone(),
        suite: img.suite.clone(),
        cached,
        manifest: m,
    })
}

/// Builds into a temporary directory beside the entries, then renames it into place.
fn build_entry(
    name: &str,
    img: &DistroImage,
    src: &archive::Source,
    lists: &archive::Lists,
    key: &str,
    pin: Option<&lock::Pin>,
    step: &crate::ui::Step,
) -> Result<Manifest> {
    let base = base()?;
    std::fs::create_dir_all(&base)?;
    sweep(&base);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{}-", std::process::id()))
        .tempdir_in(&base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))?;
    let setter = step.setter();
    let label = format!("image {name}");
    let plain = !crate::ui::fancy();
    let progress = move |phase: &str| {
        if plain {
            crate::ui::status(format!("{label}: {phase}"));
        } else {
            setter(phase);
        }
    };
    let debs = build::debs_dir(&img.archive, &img.suite)?;
    let built = build::build(src, lists, &img.packages, &debs, tmp.path(), &progress)?;
    if let Some(p) = pin
        && p.content_sha256 != built.content_sha256
    {
        return Err(mismatch(name, &p.content_sha256, &built.content_sha256));
    }
    let manifest = Manifest {
        content_sha256: built.content_sha256.clone(),
        recipe: key.to_string(),
        archive: img.archive.clone(),
        suite: img.suite.clone(),
        arch: archive::arch().to_string(),
        packages: img.packages.clone(),
        snapshot: lists.snapshot.clone(),
        entries: built.entries,
        bytes: built.bytes,
    };
    crate::paths::write_atomic(&tmp.path().join("manifest.json"), &serde_json::to_vec_pretty(&manifest)?)?;
    let dest = base.join(&built.content_sha256);
    if read_entry(&built.content_sha256)?.is_some() {
        return Ok(manifest); // the same content is already there (another orca, another recipe)
    }
    if dest.exists() {
        build::remove_tree(&dest)?; // a directory without a manifest is a leftover
    }
    std::fs::rename(tmp.path(), &dest).with_context(|| format!("moving the image into {}", dest.display()))?;
    let _ = tmp.keep();
    Ok(manifest)
}

/// Removes build directories left by orca processes that died (`.tmp-<pid>-*`).
pub fn sweep(base: &Path) {
    for p in crate::paths::left_by_dead_processes(base, ".tmp-") {
        let _ = build::remove_tree(&p);
    }
}

/// One row of `orca image list`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    #[serde(flatten)]
    pub image: DistroImage,
    /// The pinned content hash, if the lock has a pin for this recipe.
    pub pinned: Option<String>,
    /// The Release date of the pinned snapshot.
    pub pinned_date: Option<String>,
    /// Whether the pinned content is in the cache.
    pub cached: bool,
    /// Its size (file content), when cached.
    pub bytes: Option<u64>,
}

/// Every distro image of the catalog with its pin and cache state.
pub fn list(plan: &Plan, lock_path: &Path) -> Result<Vec<Row>> {
    let pins = lock::read(lock_path)?;
    let mut out = Vec::new();
    for i in crate::plan::images::catalog(plan) {
        let ImageKind::Distro(d) = i.kind else { continue };
        let key = Recipe::of(&d).key();
        let pin = pins.images.get(&i.name).filter(|p| p.recipe == key);
        let entry = match pin {
            Some(p) => read_entry(&p.content_sha256)?,
            None => None,
        };
        out.push(Row {
            name: i.name,
            image: d,
            pinned: pin.map(|p| p.content_sha256.clone()),
            pinned_date: pin.map(|p| p.snapshot.date.clone()),
            cached: entry.is_some(),
            bytes: entry.map(|m| m.bytes),
        });
    }
    Ok(out)
}

/// Removes the cached content of image `name` (its pinned entry). Returns the bytes freed, or
/// `None` when nothing was cached.
pub fn remove(plan: &Plan, name: &str, lock_path: &Path) -> Result<Option<u64>> {
    let img = distro(plan, name)?;
    let key = Recipe::of(&img).key();
    let pins = lock::read(lock_path)?;
    let Some(pin) = pins.images.get(name).filter(|p| p.recipe == key) else {
        return Ok(None);
    };
    remove_entry(&pin.content_sha256)
}

/// Removes one cache entry atomically: renamed aside first, so it is never seen half-removed.
fn remove_entry(content_sha256: &str) -> Result<Option<u64>> {
    let Some(m) = read_entry(content_sha256)? else { return Ok(None) };
    let dest = entry_path(content_sha256)?;
    let aside = base()?.join(format!(".tmp-{}-rm-{}", std::process::id(), &content_sha256[..12]));
    std::fs::rename(&dest, &aside).with_context(|| format!("removing {}", dest.display()))?;
    build::remove_tree(&aside)?;
    Ok(Some(m.bytes))
}

/// What `orca image gc` freed.
#[derive(Debug, Default, Serialize)]
pub struct Freed {
    pub images: usize,
    pub bytes: u64,
    pub debs_bytes: u64,
}

/// Removes cached images the lock does not pin, leftovers of killed builds, and with `debs` the
/// downloaded packages.
pub fn gc(lock_path: &Path, debs: bool) -> Result<Freed> {
    let pins = lock::read(lock_path)?;
    let keep: std::collections::HashSet<&str> = pins.images.values().map(|p| p.content_sha256.as_str()).collect();
    let base = base()?;
    sweep(&base);
    let mut freed = Freed::default();
    for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()) && !keep.contains(n.as_str()) {
            match remove_entry(&n)? {
                Some(b) => {
                    freed.images += 1;
                    freed.bytes += b;
                }
                None => build::remove_tree(&e.path())?,
            }
        }
    }
    let index = base.join("index");
    for e in std::fs::read_dir(&index).into_iter().flatten().flatten() {
        let points = std::fs::read_to_string(e.path()).unwrap_or_default();
        if read_entry(points.trim())?.is_none() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if debs {
        let d = crate::paths::cache_dir("images")?.join("debs");
        for e in walk_files(&d) {
            freed.debs_bytes += e;
        }
        build::remove_tree(&d)?;
    }
    Ok(freed)
}

fn walk_files(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk_files(&e.path())),
            Ok(t) if t.is_file() => out.push(e.metadata().map(|m| m.len()).unwrap_or(0)),
            _ => {}
        }
    }
    out
}

/// The project's image lock path, for a missing-lock-dir-safe default.
pub fn lock_path(root: &Path) -> PathBuf {
    lock::path(root)
}
