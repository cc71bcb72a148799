//! The kernel layer of the native backend: turns a catalog entry ([`plan::Kernel`]) into files a
//! VM can boot, and answers what that kernel has.
//!
//! - [`prepare`] fetches each part (a Debian package through the host's mirror, a URL or a local
//!   file), checks it against its sha256 pin, unpacks it once, and returns a [`Prepared`] kernel.
//!   Everything is cached by content under `<cache>/kernels/`, and every cache write is atomic, so
//!   a kill at any moment leaves no half-written entry. A warm `prepare` reads one small manifest.
//! - [`module_closure`] lists the modules to `insmod`, dependencies first, read from each
//!   module's `.modinfo` (no depmod), decompressed so that busybox `insmod` can load them.
//! - [`modules::index`] runs the host's `depmod` once over the packaged modules, so `modprobe`
//!   and the kernel's autoload work in guests, which see that directory at `/lib/modules/<release>`.
//! - [`check_config`] refuses a kernel that lacks an option orca needs ([`BOOT_NEEDS`]), naming
//!   every missing option at once (exit 5).
//!
//! Failures carry their exit code: 4 when a kernel cannot be had (no source, hash mismatch,
//! mirror without the package), 5 when it lacks a config option or module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::{Exit, Fail};
use crate::plan;

pub mod apt;
pub mod fetch;
pub mod kconfig;
pub mod lock;
pub mod modules;
pub mod unpack;

pub use kconfig::{BOOT_NEEDS, BPF_NEEDS, Kconfig, Need, Setting};
pub use modules::Module;

/// The layout version of unpacked trees; bumped when `unpack` changes what it writes.
pub const LAYOUT: &str = "v1";

/// The modules orca's guests load at boot when the kernel builds them as modules, and why; the
/// 9p ones are [`ShareFs::NineP`](kconfig::ShareFs)'s.
pub const BOOT_MODULES: &[(&str, &str)] = &[
    ("virtio_pci", "virtio devices on QEMU's PCI bus"),
    ("virtio_console", "the agent's virtio-serial port"),
    ("9pnet_virtio", "9p over virtio (pulls in 9pnet)"),
    (
        "9p",
        "the host root shared over 9p (pulls in netfs/fscache where needed)",
    ),
    ("overlay", "the writable tmpfs overlay on the read-only root"),
];

/// The boot modules of [`BOOT_MODULES`] that this kernel's guests load when they mount the host's
/// files with `share`: for virtiofs, `virtiofs` (which pulls in fuse) in place of the 9p modules.
pub fn boot_modules(share: kconfig::ShareFs) -> Vec<&'static str> {
    use kconfig::ShareFs;
    let nine_p = ShareFs::NineP.modules();
    let mut wanted: Vec<&'static str> = BOOT_MODULES
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| share == ShareFs::NineP || !nine_p.contains(m))
        .collect();
    if share != ShareFs::NineP {
        wanted.extend(share.modules());
    }
    wanted
}

/// A kernel ready to boot: verified, unpacked, its config parsed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The catalog key, e.g. `6.1`.
    pub version: String,
    /// What `uname -r` prints in the guest, e.g. `6.1.0-50-amd64`; also the module directory's name.
    pub release: String,
    /// The kernel image (bzImage), in the cache.
    pub vmlinuz: PathBuf,
    /// `<tree>/lib/modules/<release>`: `modules.builtin`, `modules.order` and the `.ko` files
    /// exactly as packaged (plain `.ko` up to bookworm, `.ko.xz` from trixie on). Use
    /// [`module_closure`] for loadable, decompressed files.
    pub modules_dir: PathBuf,
    /// The parsed `config-<release>` (empty, with `file: None`, for a bare image).
    pub config: Kconfig,
    /// sha256 over the parts' sha256s, in catalog order: the kernel's identity for cache keys of
    /// initramfs images and results.
    pub id: String,
    /// The unpacked tree (see `unpack` for its layout).
    pub tree: PathBuf,
    /// The verified parts in the cache (`.deb` files or a bare image), in catalog order. Only
    /// those still cached: the tree is all a boot needs, so parts may be removed after unpacking.
    pub parts: Vec<PathBuf>,
    /// Module name → packaged file (under `modules_dir`).
    pub modules: std::collections::BTreeMap<String, PathBuf>,
    /// Modules built into the image (from `modules.builtin`).
    pub builtin: BTreeSet<String>,
    /// `Package Version` of each `.deb` part.
    pub packages: Vec<String>,
}

/// The content id of a kernel: sha256 over its parts' sha256s, one per line, in catalog order.
pub fn kernel_id(kernel: &plan::Kernel) -> String {
    let mut h = Sha256::new();
    for s in &kernel.sources {
        h.update(s.sha256().to_ascii_lowercase().as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Where the unpacked tree of a kernel with this id lives (whether or not it exists yet).
pub fn tree_path(id: &str) -> Result<PathBuf> {
    Ok(crate::paths::cache_dir("kernels")?.join(LAYOUT).join(id))
}

/// Fetches (cached by hash), verifies, unpacks (cached) and parses a catalog kernel. Relative
/// `file` sources are taken from the project root.
pub fn prepare(kernel: &plan::Kernel) -> Result<Prepared> {
    prepare_in(kernel, &crate::paths::project_root())
}

/// [`prepare`] with relative `file` sources taken from `root`.
pub fn prepare_in(kernel: &plan::Kernel, root: &Path) -> Result<Prepared> {
    let v = &kernel.version;
    if kernel.sources.is_empty() {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::KernelUnavailable,
                format!("kernel {v} has no source in the catalog"),
            )
            .hint(format!(
                "pin one with `orca kernel pin {v} --debian PACKAGE --suite SUITE`"
            )),
        ));
    }
    // An Ubuntu part that cannot be had here (its archive out of reach, or no sha256 yet) makes
    // the kernel unavailable, with that reason: never another kernel, never unchecked bytes.
    if let Some(e) = kernel.sources.iter().filter(|s| !s.pinned()).find_map(|s| fetch::unavailable(v, s)) {
        return Err(e);
    }
    let id = kernel_id(kernel);
    let tree = tree_path(&id)?;
    let manifest = match unpack::read_manifest(&tree) {
        Ok(m) => m,
        Err(_) => {
            let _lock = lock::exclusive(&crate::paths::cache_dir("kernels")?.join("locks").join(&id))?;
            match unpack::read_manifest(&tree) {
                Ok(m) => m, // another orca finished it while we waited
                Err(_) => build_tree(kernel, root, &tree)?,
            }
        }
    };
    if let Some(want) = &kernel.release
        && *want != manifest.release
    {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::KernelUnavailable,
                format!(
                    "kernel {v}: the catalog says release {want}, but its packages hold {}",
                    manifest.release
                ),
            )
            .hint(format!(
                "fix `release` in the catalog, or re-pin with `orca kernel pin {v} ...`"
            )),
        ));
    }
    let mut parts = Vec::new();
    for s in &kernel.sources {
        parts.extend(fetch::cached(s.sha256())?);
    }
    let modules_dir = tree.join(&manifest.modules_dir);
    let config = match &manifest.config {
        Some(c) => Kconfig::read(&tree.join(c))?,
        None => Kconfig::default(),
    };
    let p = Prepared {
        version: v.clone(),
        release: manifest.release,
        vmlinuz: tree.join(&manifest.vmlinuz),
        builtin: modules::read_builtin(&modules_dir.join("modules.builtin"))?,
        modules: manifest
            .modules
            .into_iter()
            .map(|(n, p)| (n, modules_dir.join(p)))
            .collect(),
        modules_dir,
        config,
        id,
        tree,
        parts,
        packages: manifest.packages,
    };
    modules::index(&p)?;
    Ok(p)
}

/// Fetches every part and unpacks them into a temporary directory beside `tree`, then renames
/// it into place: a tree exists completely or not at all.
fn build_tree(kernel: &plan::Kernel, root: &Path, tree: &Path) -> Result<unpack::Manifest> {
    let mut parts = Vec::new();
    for src in &kernel.sources {
        parts.push(fetch::fetch(&kernel.version, src, root)?);
    }
    let base = tree.parent().context("tree path has no parent")?;
    std::fs::create_dir_all(base)?;
    fetch::sweep(base);
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{}-", std::process::id()))
        .tempdir_in(base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))?;
    let step = crate::ui::Step::start(format!("kernel {}: unpacking", kernel.version));
    let manifest =
        unpack::unpack(&parts, tmp.path()).with_context(|| format!("kernel {}: unpacking", kernel.version))?;
    let _ = std::fs::remove_dir_all(tree); // a tree without a manifest is a leftover
    std::fs::rename(tmp.path(), tree).with_context(|| format!("moving the unpacked kernel to {}", tree.display()))?;
    let _ = tmp.keep();
    step.done(format!(
        "{} ({} modules, {})",
        manifest.release,
        manifest.modules.len(),
        crate::ui::bytes(manifest.bytes)
    ));
    Ok(manifest)
}

/// The wanted modules (by name; `-` and `_` alike) and their dependencies, in load order, as
/// plain `.ko` files. Modules built into the image are skipped. A module the kernel does not
/// have is an `Exit::KernelConfig` error with a suggestion.
pub fn module_closure(p: &Prepared, wanted: &[&str]) -> Result<Vec<Module>> {
    modules::closure(p, wanted)
}

/// Checks that the kernel's config sets every option in `needs` (e.g. [`BOOT_NEEDS`]' options;
/// `X` accepts `=y` or `=m`, `X=y` demands built in). Every missing option is named at once in
/// an `Exit::KernelConfig` error with how to fix it.
pub fn check_config(p: &Prepared, needs: &[&str]) -> Result<()> {
    kconfig::check(&format!("{} ({})", p.version, p.release), &p.config, needs)
}

/// The options of [`BOOT_NEEDS`], for [`check_config`].
pub fn boot_needs() -> Vec<&'static str> {
    BOOT_NEEDS.iter().map(|n| n.option).collect()
}

/// What the cache holds of a kernel, for `orca kernel list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheState {
    /// How many of the kernel's parts are cached (verified).
    pub parts_cached: usize,
    /// Total size of the cached parts.
    pub parts_bytes: u64,
    /// Whether the unpacked tree is ready.
    pub unpacked: bool,
    /// Size of the unpacked tree as written (without decompressed modules).
    pub unpacked_bytes: u64,
    /// The release read from the unpacked tree. Not serialized: `orca kernel list` flattens this
    /// struct beside the catalog's own `release`, and a second `release` key would shadow it.
    #[serde(skip)]
    pub release: Option<String>,
}

/// Looks at the cache without fetching anything.
pub fn cache_state(kernel: &plan::Kernel) -> Result<CacheState> {
    let mut s = CacheState {
        parts_cached: 0,
        parts_bytes: 0,
        unpacked: false,
        unpacked_bytes: 0,
        release: None,
    };
    for src in &kernel.sources {
        if let Some(p) = fetch::cached(src.sha256())? {
            s.parts_cached += 1;
            s.parts_bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
    }
    if !kernel.sources.is_empty()
        && let Ok(m) = unpack::read_manifest(&tree_path(&kernel_id(kernel))?)
    {
        s.unpacked = true;
        s.unpacked_bytes = m.bytes;
        s.release = Some(m.release);
    }
    Ok(s)
}
