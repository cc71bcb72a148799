//! Kernel modules: which ones a set of wanted modules needs, in load order, read from each
//! module's own `.modinfo` section (not from depmod, which the host may lack or run differently).
//! Only hard dependencies (`depends=`) are followed; `softdep=` hints are not, as none of the
//! modules orca boots with needs one to work.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::Prepared;
use crate::error::{Exit, Fail};

/// One module to load, in the order [`closure`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's name as the kernel knows it (`9pnet_virtio`; dashes in file names become `_`).
    pub name: String,
    /// The plain ELF `.ko`, ready for `insmod`: the package's file when it ships modules
    /// uncompressed, else a decompressed copy kept beside the unpacked kernel.
    pub path: PathBuf,
}

/// A module's name from its file name: `kernel/fs/9p/9p.ko.xz` → `9p`, `crc32c-intel.ko` →
/// `crc32c_intel`. `None` for files that are not modules.
pub fn module_name(file: &str) -> Option<String> {
    let base = file.rsplit('/').next()?;
    let stem = base.strip_suffix(".ko").or_else(|| {
        [".ko.xz", ".ko.zst", ".ko.gz"]
            .iter()
            .find_map(|s| base.strip_suffix(s))
    })?;
    Some(stem.replace('-', "_"))
}

/// The names built into the image, from a `modules.builtin` file (one `kernel/…/x.ko` a line).
pub fn read_builtin(path: &Path) -> Result<BTreeSet<String>> {
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.lines().filter_map(module_name).collect())
}

/// The `key=value` fields of an ELF module's `.modinfo` section, in order.
pub fn modinfo(elf: &[u8]) -> Result<Vec<(String, String)>> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).context("not an ELF kernel module")?;
    let Some(section) = file.section_by_name(".modinfo") else {
        return Ok(Vec::new());
    };
    let data = section.data().context("reading the .modinfo section")?;
    Ok(data
        .split(|b| *b == 0)
        .filter_map(|field| std::str::from_utf8(field).ok())
        .filter_map(|field| field.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The modules a module depends on (`depends=` in its `.modinfo`).
pub fn depends(fields: &[(String, String)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(k, _)| k == "depends")
        .flat_map(|(_, v)| v.split(','))
        .filter(|d| !d.is_empty())
        .map(|d| d.replace('-', "_"))
        .collect()
}

/// Reads a module file, decompressing `.ko.xz`, `.ko.zst` and `.ko.gz`.
pub fn read_plain(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.to_string_lossy();
    let mut out = Vec::with_capacity(raw.len() * 4);
    if name.ends_with(".xz") {
        xz2::read::XzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&raw[..])?.read_to_end(&mut out)
    } else if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else {
        return Ok(raw);
    }
    .with_context(|| format!("decompressing {}", path.display()))?;
    Ok(out)
}

/// The file that says a tree's module directory has been indexed by depmod.
const INDEXED: &str = "modules-indexed";

/// Where `depmod` is: `PATH`, then the sbin folders a non-root user's `PATH` often lacks.
fn depmod_binary() -> Option<PathBuf> {
    crate::process::on_path("depmod").or_else(|| {
        ["/usr/sbin/depmod", "/sbin/depmod"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| crate::process::is_executable(p))
    })
}

/// Indexes the kernel's packaged modules once, with the host's `depmod`, into the module
/// directory of the cached tree (`modules.dep`, `modules.alias`, `modules.symbols` and their
/// `.bin` forms): what `modprobe` and the kernel's own autoload (`request_module`) read in the
/// guest, where that directory is mounted at `/lib/modules/<release>`. Debian's packages do not
/// ship these files; their postinst runs depmod. Done under the kernel's lock, marked done by a
/// file written last, so a killed or concurrent orca never leaves or reads half an index.
pub fn index(p: &Prepared) -> Result<()> {
    if p.modules.is_empty() || p.tree.join(INDEXED).is_file() {
        return Ok(());
    }
    let locks = crate::paths::cache_dir("kernels")?.join("locks");
    let _lock = super::lock::exclusive(&locks.join(format!("{}.depmod", p.id)))?;
    if p.tree.join(INDEXED).is_file() {
        return Ok(());
    }
    let Some(depmod) = depmod_binary() else {
        return Err(anyhow::Error::new(
            Fail::new(
                Exit::Infra,
                format!(
                    "kernel {} ({}): depmod is not installed; orca needs it to index the kernel's modules for modprobe in the guest",
                    p.version, p.release
                ),
            )
            .hint("install kmod (Debian: apt-get install kmod), which also gives the guest its modprobe"),
        ));
    };
    let step = crate::ui::Step::start(format!("kernel {}: indexing {} modules", p.version, p.modules.len()));
    let mut cmd = std::process::Command::new(&depmod);
    cmd.arg("-b").arg(&p.tree).arg(&p.release);
    crate::process::run_ok(&mut cmd, "depmod", std::time::Duration::from_secs(600))
        .with_context(|| format!("kernel {} ({}): indexing its modules", p.version, p.release))?;
    if !p.modules_dir.join("modules.dep").is_file() {
        bail!(
            "kernel {} ({}): depmod wrote no modules.dep into {}",
            p.version,
            p.release,
            p.modules_dir.display()
        );
    }
    crate::paths::write_atomic(&p.tree.join(INDEXED), depmod.to_string_lossy().as_bytes())?;
    step.done("modules.dep written");
    Ok(())
}

/// The wanted modules and everything they depend on, dependencies first, each once. Modules built
/// into the image are left out (they need no loading). A kernel that ships no modules at all (a
/// bare image) is taken to have everything built in; its config check is what catches a lack.
pub fn closure(p: &Prepared, wanted: &[&str]) -> Result<Vec<Module>> {
    if p.modules.is_empty() {
        return Ok(Vec::new());
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    for w in wanted {
        let name = w.replace('-', "_");
        visit(p, &name, None, &mut done, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

fn visit(
    p: &Prepared,
    name: &str,
    parent: Option<&str>,
    done: &mut BTreeSet<String>,
    stack: &mut Vec<String>,
    order: &mut Vec<Module>,
) -> Result<()> {
    if done.contains(name) || p.builtin.contains(name) {
        return Ok(());
    }
    if stack.iter().any(|s| s == name) {
        bail!(
            "module dependency cycle in kernel {}: {} -> {name}",
            p.release,
            stack.join(" -> ")
        );
    }
    let Some(file) = p.modules.get(name) else {
        return Err(unknown(p, name, parent));
    };
    let plain = plain_copy(p, name, file)?;
    let bytes = std::fs::read(&plain).with_context(|| format!("reading {}", plain.display()))?;
    let fields = modinfo(&bytes).with_context(|| format!("module {name} ({})", file.display()))?;
    stack.push(name.to_string());
    for dep in depends(&fields) {
        visit(p, &dep, Some(name), done, stack, order)?;
    }
    stack.pop();
    done.insert(name.to_string());
    order.push(Module {
        name: name.to_string(),
        path: plain,
    });
    Ok(())
}

/// The plain `.ko` for a module: the file itself, or a decompressed copy under `<tree>/plain/`,
/// written atomically so a concurrent or killed orca never sees half a module.
fn plain_copy(p: &Prepared, name: &str, file: &Path) -> Result<PathBuf> {
    if file.extension().is_some_and(|e| e == "ko") {
        return Ok(file.to_path_buf());
    }
    let dest = p.tree.join("plain").join(format!("{name}.ko"));
    if !dest.exists() {
        let bytes = read_plain(file)?;
        crate::paths::write_atomic(&dest, &bytes)?;
    }
    Ok(dest)
}

fn unknown(p: &Prepared, name: &str, parent: Option<&str>) -> anyhow::Error {
    if let Some(parent) = parent {
        return anyhow::Error::new(Fail::new(
            Exit::KernelUnavailable,
            format!(
                "kernel {} ({}): module {parent} depends on {name}, which the package does not ship",
                p.version, p.release
            ),
        ))
        .context("the kernel package looks incomplete; check that the catalog lists all of its parts");
    }
    let mut near: Vec<(f64, &String)> = p
        .modules
        .keys()
        .map(|k| (strsim::jaro_winkler(k, name), k))
        .filter(|(s, _)| *s > 0.85)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hint = match near.first() {
        Some((_, k)) => format!("did you mean `{k}`? Module names are file names without .ko, with `_` for `-`"),
        None => format!(
            "this kernel has no such module and does not build it in; list its modules with `find {} -name '*.ko*'`, or choose another kernel",
            p.modules_dir.display()
        ),
    };
    anyhow::Error::new(
        Fail::new(
            Exit::KernelConfig,
            format!("kernel {} ({}) has no module `{name}`", p.version, p.release),
        )
        .hint(hint),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(module_name("kernel/fs/9p/9p.ko").as_deref(), Some("9p"));
        assert_eq!(
            module_name("kernel/net/9p/9pnet_virtio.ko.xz").as_deref(),
            Some("9pnet_virtio")
        );
        assert_eq!(
            module_name("kernel/arch/x86/crypto/crc32c-intel.ko.zst").as_deref(),
            Some("crc32c_intel")
        );
        assert_eq!(module_name("modules.order"), None);
        assert_eq!(module_name("kernel/x/readme.txt"), None);
    }

    #[test]
    fn depends_splits_and_normalises() {
        let f = vec![
            ("license".to_string(), "GPL".to_string()),
            ("depends".to_string(), "9pnet,fscache,crc32c-generic".to_string()),
            ("depends".to_string(), String::new()),
        ];
        assert_eq!(depends(&f), ["9pnet", "fscache", "crc32c_generic"]);
    }

    #[test]
    fn modinfo_of_a_non_elf_is_an_error() {
        assert!(modinfo(b"not an elf").is_err());
    }
}
