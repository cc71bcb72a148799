//! Unpacking a kernel's parts (`.deb` packages or a bare image) into one tree:
//!
//! ```text
//! <tree>/vmlinuz                       the kernel image
//! <tree>/config                        its build config, when a part ships one
//! <tree>/lib/modules/<release>/        modules.builtin, modules.order, modules.builtin.modinfo
//!                                      and kernel/**/*.ko[.xz|.zst] exactly as packaged
//! <tree>/plain/<name>.ko               decompressed modules, made on demand by `modules::closure`
//! <tree>/lib/modules/<release>/modules.{dep,alias,symbols,…}[.bin]
//!                                      depmod's index, written once by `modules::index`
//! <tree>/modules-indexed               says that index is complete
//! <tree>/manifest.json                 what was found (written last)
//! ```
//!
//! Only these are extracted: no System.map, no docs. Whatever the package layout
//! (`boot/` and `lib/modules` up to bookworm, `usr/lib/modules` from trixie on, sid's image in
//! `usr/lib/modules/<release>/vmlinuz.unsigned` and config in another package), the tree is the
//! same.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// What an unpacked tree holds. Paths are relative to the tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The module directory's name, i.e. what `uname -r` prints.
    pub release: String,
    pub vmlinuz: PathBuf,
    pub config: Option<PathBuf>,
    pub modules_dir: PathBuf,
    /// Module name → file, relative to `modules_dir`.
    pub modules: BTreeMap<String, PathBuf>,
    /// `Package Version` of each `.deb` part, in order.
    pub packages: Vec<String>,
    /// Bytes written into the tree.
    pub bytes: u64,
}

/// The control fields of a `.deb` that matter here.
#[derive(Debug, Clone, Default)]
pub struct Control {
    pub package: String,
    pub version: String,
}

/// True when the file starts like a `.deb` (an `ar` archive).
pub fn is_deb(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 8];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"!<arch>\n")
}

/// The release string a bzImage carries in its setup header (`6.1.0-31-amd64`), if it has one.
pub fn image_release(bytes: &[u8]) -> Option<String> {
    if bytes.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let ptr = u16::from_le_bytes([*bytes.get(0x20E)?, *bytes.get(0x20F)?]) as usize + 0x200;
    let s = bytes.get(ptr..ptr + 256)?;
    let end = s.iter().position(|b| *b == 0 || *b == b' ')?;
    std::str::from_utf8(&s[..end]).ok().map(String::from)
}

/// Reads the `control` file of a `.deb`.
pub fn control(deb: &Path) -> Result<Control> {
    let mut ar = ar::Archive::new(std::fs::File::open(deb).with_context(|| format!("opening {}", deb.display()))?);
    while let Some(entry) = ar.next_entry() {
        let entry = entry.with_context(|| format!("reading {} as a .deb", deb.display()))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        if !name.starts_with("control.tar") {
            continue;
        }
        let mut tar = tar::Archive::new(decompressor(&name, entry)?);
        for e in tar.entries()? {
            let mut e = e?;
            if e.path()?.file_name().is_some_and(|n| n == "control") {
                let mut text = String::new();
                e.read_to_string(&mut text)?;
                let field = |k: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
                        .map(|v| v.trim().to_string())
                };
                return Ok(Control {
                    package: field("Package").unwrap_or_default(),
                    version: field("Version").unwrap_or_default(),
                });
            }
        }
    }
    bail!("{} has no control file", deb.display())
}

fn decompressor<'a>(name: &str, r: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    Ok(if name.ends_with(".xz") {
        Box::new(xz2::read::XzDecoder::new(r))
    } else if name.ends_with(".zst") {
        Box::new(zstd::stream::read::Decoder::new(r)?)
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(r))
    } else if name.ends_with(".tar") {
        Box::new(r)
    } else {
        bail!("unsupported member {name} in a .deb")
    })
}

/// What one packaged file becomes in the tree.
enum Dest {
    Image(String),
    Config,
    /// A file under the module directory of this release, at this relative path.
    Module(String, PathBuf),
}

/// Where a packaged path goes, if it is wanted.
fn classify(path: &str) -> Option<Dest> {
    let p = path.trim_start_matches("./").trim_start_matches('/');
    if let Some(rel) = p.strip_prefix("boot/vmlinuz-") {
        return Some(Dest::Image(rel.to_string()));
    }
    if p.starts_with("boot/config-") {
        return Some(Dest::Config);
    }
    let rest = p
        .strip_prefix("usr/lib/modules/")
        .or_else(|| p.strip_prefix("lib/modules/"))?;
    let (release, sub) = rest.split_once('/')?;
    if sub.starts_with("vmlinuz") {
        return Some(Dest::Image(release.to_string()));
    }
    if sub == "config" {
        return Some(Dest::Config);
    }
    let keep = matches!(sub, "modules.builtin" | "modules.order" | "modules.builtin.modinfo")
        || super::modules::module_name(sub).is_some();
    let safe = Path::new(sub).components().all(|c| matches!(c, Component::Normal(_)));
    (keep && safe).then(|| Dest::Module(release.to_string(), PathBuf::from(sub)))
}

/// Unpacks `parts` into the empty directory `dest`, returning (and writing) its manifest.
/// `dest` should be a temporary directory the caller renames into place afterwards.
pub fn unpack(parts: &[PathBuf], dest: &Path) -> Result<Manifest> {
    let mut m = Manifest {
        release: String::new(),
        vmlinuz: PathBuf::from("vmlinuz"),
        config: None,
        modules_dir: PathBuf::new(),
        modules: BTreeMap::new(),
        packages: Vec::new(),
        bytes: 0,
    };
    let mut image_release = None;
    let mut have_image = false;
    for part in parts {
        crate::process::check_interrupted()?;
        if !is_deb(part)? {
            // A bare kernel image.
            let n = std::fs::copy(part, dest.join("vmlinuz")).with_context(|| format!("copying {}", part.display()))?;
            m.bytes += n;
            have_image = true;
            continue;
        }
        let c = control(part)?;
        m.packages.push(format!("{} {}", c.package, c.version));
        let mut ar = ar::Archive::new(std::fs::File::open(part)?);
        while let Some(entry) = ar.next_entry() {
            let entry = entry.with_context(|| format!("reading {}", part.display()))?;
            let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
            if !name.starts_with("data.tar") {
                continue;
            }
            let mut tar = tar::Archive::new(decompressor(&name, entry)?);
            for e in tar
                .entries()
                .with_context(|| format!("reading {name} of {}", part.display()))?
            {
                let mut e = e.with_context(|| format!("reading {name} of {}", part.display()))?;
                if !e.header().entry_type().is_file() {
                    continue;
                }
                let path = e.path()?.to_string_lossy().into_owned();
                let Some(d) = classify(&path) else { continue };
                let rel = match d {
                    Dest::Image(rel) => {
                        image_release = Some(rel);
                        have_image = true;
                        PathBuf::from("vmlinuz")
                    }
                    Dest::Config => {
                        m.config = Some(PathBuf::from("config"));
                        PathBuf::from("config")
                    }
                    Dest::Module(release, sub) => {
                        if m.release.is_empty() {
                            m.release = release.clone();
                        } else if m.release != release {
                            bail!(
                                "the kernel's parts hold modules of two releases, {} and {release}",
                                m.release
                            );
                        }
                        if let Some(name) = super::modules::module_name(&sub.to_string_lossy()) {
                            m.modules.insert(name, sub.clone());
                        }
                        Path::new("lib/modules").join(&release).join(sub)
                    }
                };
                let target = dest.join(&rel);
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut out =
                    std::fs::File::create(&target).with_context(|| format!("writing {}", target.display()))?;
                m.bytes += std::io::copy(&mut e, &mut out).with_context(|| format!("extracting {path}"))?;
            }
        }
    }
    if !have_image {
        bail!(
            "none of the kernel's parts holds a kernel image (boot/vmlinuz-*, or usr/lib/modules/<release>/vmlinuz*)"
        );
    }
    if m.release.is_empty() {
        m.release = match image_release {
            Some(r) => r,
            None => image_release_of(&dest.join("vmlinuz")).unwrap_or_default(),
        };
    }
    m.modules_dir = Path::new("lib/modules").join(&m.release);
    std::fs::create_dir_all(dest.join(&m.modules_dir))?;
    let json = serde_json::to_vec_pretty(&m)?;
    crate::paths::write_atomic(&dest.join("manifest.json"), &json)?;
    Ok(m)
}

fn image_release_of(path: &Path) -> Option<String> {
    let mut head = vec![0u8; 64 * 1024];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    image_release(&head[..n])
}

/// Reads the manifest of an unpacked tree.
pub fn read_manifest(tree: &Path) -> Result<Manifest> {
    let path = tree.join("manifest.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(p: &str) -> Option<String> {
        classify(p).map(|d| match d {
            Dest::Image(r) => format!("image {r}"),
            Dest::Config => "config".into(),
            Dest::Module(r, s) => format!("{r} {}", s.display()),
        })
    }

    #[test]
    fn every_layout_lands_in_the_same_tree() {
        assert_eq!(
            dest("./boot/vmlinuz-6.1.0-50-amd64").as_deref(),
            Some("image 6.1.0-50-amd64")
        );
        assert_eq!(dest("./boot/config-6.1.0-50-amd64").as_deref(), Some("config"));
        assert_eq!(dest("./boot/System.map-6.1.0-50-amd64"), None);
        assert_eq!(
            dest("./lib/modules/6.1.0-50-amd64/kernel/fs/9p/9p.ko").as_deref(),
            Some("6.1.0-50-amd64 kernel/fs/9p/9p.ko")
        );
        assert_eq!(
            dest("./usr/lib/modules/7.2.13+deb14-amd64/vmlinuz.unsigned").as_deref(),
            Some("image 7.2.13+deb14-amd64")
        );
        assert_eq!(
            dest("./usr/lib/modules/7.2.13+deb14-amd64/config").as_deref(),
            Some("config")
        );
        assert_eq!(
            dest("./usr/lib/modules/7.2.13+deb14-amd64/modules.builtin").as_deref(),
            Some("7.2.13+deb14-amd64 modules.builtin")
        );
        assert_eq!(dest("./usr/lib/modules/7.2.13+deb14-amd64/System.map"), None);
        assert_eq!(dest("./usr/share/doc/linux-base/changelog.Debian.gz"), None);
        assert_eq!(dest("./lib/modules/6.1/../../etc/evil.ko"), None);
    }

    #[test]
    fn a_bzimage_header_names_its_release() {
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20E..0x210].copy_from_slice(&(0x300u16).to_le_bytes());
        img[0x500..0x500 + 30].copy_from_slice(b"6.1.0-50-amd64 (debian-kernel)");
        assert_eq!(image_release(&img).as_deref(), Some("6.1.0-50-amd64"));
        assert_eq!(image_release(&[0u8; 0x1000]), None);
    }
}
