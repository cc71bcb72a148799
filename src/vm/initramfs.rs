//! The initramfs orca boots every kernel with, written here in Rust as cpio newc.
//!
//! Two archives, concatenated (Linux unpacks them in order):
//! - the **base**, cached by its inputs under `<cache>/initramfs/`: the static busybox, the
//!   kernel's own modules (the closure of what the boot and the spec need, dependencies first,
//!   decompressed) and `/init` (`init.sh`). Uncompressed: measured no slower to boot under TCG
//!   than gzip, and nothing to decompress on either side.
//! - the **boot part**, a few hundred bytes per boot: `/orca/boot.sh` with this VM's settings
//!   (the agent's path, 9p or virtiofs, shares and tmpfs mounts), so one base serves every VM of a
//!   kernel.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::Exit;
use crate::fail;
use crate::kernel::{self, Prepared};

/// The init script, PID 1 of the guest until it hands over to the agent.
pub const INIT: &str = include_str!("init.sh");

/// Where orca takes busybox from. It must be statically linked (Debian: busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// Bumped when the layout of the archive changes.
const LAYOUT: &str = "v2";

/// The busybox applets init calls by name. Busybox's standalone shell runs them without an exec;
/// for a busybox built without it, `/bin/<applet>` links to busybox.
const APPLETS: &[&str] = &[
    "cat", "cp", "ip", "mkdir", "modprobe", "mount", "poweroff", "sleep", "sync",
];

/// The cached base archive for this kernel and module list, built if missing.
pub fn base(k: &Prepared, modules: &[String]) -> Result<PathBuf> {
    let busybox = std::fs::read(BUSYBOX).map_err(|e| {
        crate::error::Fail::new(Exit::Infra, format!("cannot read {BUSYBOX}: {e}"))
            .hint("install a static busybox (Debian: apt-get install busybox-static)")
    })?;
    if is_dynamic(&busybox) {
        return Err(anyhow::Error::new(
            crate::error::Fail::new(
                Exit::Infra,
                format!("{BUSYBOX} is dynamically linked; the guest's initramfs has no libc"),
            )
            .hint("install the static build (Debian: apt-get install busybox-static)"),
        ));
    }
    let mut h = Sha256::new();
    for part in [LAYOUT, env!("CARGO_PKG_VERSION"), &k.id, INIT] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    for m in modules {
        h.update(m.as_bytes());
        h.update(b"\0");
    }
    h.update(&busybox);
    let key = hex::encode(h.finalize());
    let path = crate::paths::cache_dir("initramfs")?.join(format!("{}.cpio", &key[..32]));
    if path.is_file() {
        return Ok(path);
    }
    let wanted: Vec<&str> = modules.iter().map(String::as_str).collect();
    let closure = kernel::module_closure(k, &wanted)?;
    let mut w = Archive::new(Vec::with_capacity(4 << 20));
    // The modules sit where modprobe looks (/lib/modules/<release>), with a modules.dep that names
    // each and no dependencies: init loads them all with one `modprobe -a` in the closure's order,
    // one process instead of an insmod fork per module (~10 ms each under TCG).
    let mods = format!("lib/modules/{}", k.release);
    for d in ["bin", "dev", "proc", "sys", "lower", "rw", "newroot", "modules", "orca", "lib", "lib/modules", &mods] {
        w.dir(d)?;
    }
    w.file("init", 0o755, INIT.as_bytes())?;
    w.file("bin/busybox", 0o755, &busybox)?;
    for a in APPLETS {
        w.symlink(&format!("bin/{a}"), "busybox")?;
    }
    let (mut order, mut dep) = (String::new(), String::new());
    for m in &closure {
        let bytes = std::fs::read(&m.path).with_context(|| format!("reading module {}", m.path.display()))?;
        let file = format!("{}.ko", m.name);
        w.file(&format!("{mods}/{file}"), 0o644, &bytes)?;
        order.push_str(&m.name);
        order.push('\n');
        dep.push_str(&file);
        dep.push_str(":\n");
    }
    w.file("modules/order", 0o644, order.as_bytes())?;
    w.file(&format!("{mods}/modules.dep"), 0o644, dep.as_bytes())?;
    let bytes = w.finish()?;
    crate::paths::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Per-boot settings, written as `/orca/boot.sh` and sourced by init.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// The agent: the host's orca binary, at the same absolute path.
    pub exe: PathBuf,
    pub hostname: String,
    /// Whether the shares are virtiofs (tags of vhost-user-fs devices) rather than 9p; the 9p
    /// settings below are then unused.
    pub virtiofs: bool,
    /// 9p msize in bytes.
    pub msize: u32,
    /// 9p cache mode of the read-only root.
    pub root_cache: String,
    /// 9p cache mode of declared shares (they may change on the host while the VM runs).
    pub share_cache: String,
    /// Shares as (tag, guest path, readonly).
    pub shares: Vec<(String, String, bool)>,
    /// tmpfs mounts as (guest path, size in MiB).
    pub tmpfs: Vec<(String, u64)>,
    pub network: bool,
    /// The kernel's module folder on the host (canonical, seen in the guest through the root
    /// share), bound at `/lib/modules/<release>`; `None` for a kernel without modules.
    pub modules: Option<PathBuf>,
    /// What `uname -r` prints: the module folder's name in the guest.
    pub release: String,
    /// On an image root: the tag of the share holding the kernel's modules, mounted at
    /// `/lib/modules/<release>` (the host's tree is not visible through such a root).
    pub modules_tag: Option<String>,
    /// On an image root: the agent comes from the agent kit appended to the initramfs.
    pub agent_kit: bool,
    /// The size of the write layer's tmpfs in MiB (`None`: tmpfs's default).
    pub rw_mib: Option<u64>,
}

impl BootConfig {
    /// The shell fragment init sources.
    pub fn script(&self) -> String {
        let mut s = String::new();
        let mut var = |k: &str, v: &str| s.push_str(&format!("{k}={}\n", quote(v)));
        var("EXE", &self.exe.to_string_lossy());
        var("HOSTNAME", &self.hostname);
        var("SHARE_FS", if self.virtiofs { "virtiofs" } else { "9p" });
        var("MSIZE", &self.msize.to_string());
        var("ROOT_CACHE", &self.root_cache);
        var("SHARE_CACHE", &self.share_cache);
        var("NETWORK", if self.network { "1" } else { "" });
        var(
            "MODULES",
            &self
                .modules
                .as_ref()
                .map(|m| m.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        var("RELEASE", &self.release);
        var("MODULES_TAG", self.modules_tag.as_deref().unwrap_or(""));
        var("AGENT_KIT", if self.agent_kit { "1" } else { "" });
        var("RW_SIZE", &self.rw_mib.map(|m| m.to_string()).unwrap_or_default());
        s.push_str("mounts() {\n  :\n");
        for (tag, dest, ro) in &self.shares {
            s.push_str(&format!(
                "  share {} {} {}\n",
                quote(tag),
                quote(dest),
                if *ro { "ro" } else { "rw" }
            ));
        }
        for (dest, mib) in &self.tmpfs {
            s.push_str(&format!("  tmpfs_at {} {mib}\n", quote(dest)));
        }
        s.push_str("}\n");
        s
    }
}

/// Writes `base`, the agent kit's archive when the root is an image, and the boot part for `cfg`
/// to `out` (a file in the VM's temp dir).
pub fn assemble(base: &Path, cfg: &BootConfig, kit: Option<&Path>, out: &Path) -> Result<()> {
    let mut w = Archive::new(Vec::new());
    w.file("orca/boot.sh", 0o644, cfg.script().as_bytes())?;
    let part = w.finish()?;
    let mut f = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut b = std::fs::File::open(base).with_context(|| format!("opening {}", base.display()))?;
    std::io::copy(&mut b, &mut f)?;
    if let Some(kit) = kit {
        let mut k = std::fs::File::open(kit).with_context(|| format!("opening {}", kit.display()))?;
        std::io::copy(&mut k, &mut f)?;
    }
    // Each archive is padded to 4 bytes by cpio itself; Linux accepts concatenated archives.
    f.write_all(&part)?;
    Ok(())
}

/// Single-quotes a string for sh.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Whether an ELF file asks for a dynamic loader (has a PT_INTERP program header).
fn is_dynamic(elf: &[u8]) -> bool {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    let (Some(phoff), Some(size), Some(n)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..n).any(|i| elf.get(phoff + i * size..phoff + i * size + 4) == Some(&3u32.to_le_bytes()[..]))
}

/// A cpio newc writer with fixed owners and times, so the same inputs give the same bytes.
pub(crate) struct Archive {
    out: Vec<u8>,
    ino: u32,
}

impl Archive {
    pub(crate) fn new(out: Vec<u8>) -> Archive {
        Archive { out, ino: 1 }
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<()> {
        self.ino += 1;
        let size = u32::try_from(data.len()).map_err(|_| fail!(Exit::Infra, "{name} is too large for cpio"))?;
        let mut w = cpio::newc::Builder::new(name)
            .ino(self.ino)
            .mode(mode)
            .nlink(1)
            .write(&mut self.out, size);
        w.write_all(data)?;
        w.finish()?;
        Ok(())
    }

    pub(crate) fn dir(&mut self, name: &str) -> Result<()> {
        self.entry(name, 0o040755, &[])
    }

    pub(crate) fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.entry(name, 0o100000 | perm, data)
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> Result<()> {
        self.entry(name, 0o120777, target.as_bytes())
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        Ok(cpio::newc::trailer(self.out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_script_quotes_everything() {
        let cfg = BootConfig {
            exe: "/opt/my orca/orca".into(),
            hostname: "vm".into(),
            virtiofs: true,
            msize: 512000,
            root_cache: "loose".into(),
            share_cache: "mmap".into(),
            shares: vec![("orca.share0".into(), "/it's here".into(), false)],
            tmpfs: vec![("/scratch".into(), 64)],
            network: false,
            modules: Some("/c/kernels/v1/x/lib/modules/6.1.0-50-amd64".into()),
            release: "6.1.0-50-amd64".into(),
            modules_tag: None,
            agent_kit: false,
            rw_mib: None,
        };
        let s = cfg.script();
        assert!(s.contains("EXE='/opt/my orca/orca'\n"), "{s}");
        assert!(s.contains("share 'orca.share0' '/it'\\''s here' rw\n"), "{s}");
        assert!(s.contains("tmpfs_at '/scratch' 64\n"), "{s}");
        assert!(s.contains("NETWORK=''\n"), "{s}");
        assert!(s.contains("SHARE_FS='virtiofs'\n"), "{s}");
        assert!(s.contains("MODULES='/c/kernels/v1/x/lib/modules/6.1.0-50-amd64'\nRELEASE='6.1.0-50-amd64'\n"), "{s}");
    }

    /// Every command init runs is a shell builtin, one of its functions, or a listed applet: an
    /// unlisted applet works with Debian's standalone busybox and fails with any other.
    #[test]
    fn init_calls_only_listed_applets() {
        let builtins = [
            "echo", "export", "exec", "set", "unset", "while", "for", "do", "done", "if", "then", "fi",
            "else", "elif", "read", "case", "esac", "true", "return", "local", ".", "[", "mark", "die",
            "share", "tmpfs_at", "mounts",
        ];
        let mut unknown = Vec::new();
        // Inside a string that spans lines (the fstab init writes), lines are text, not commands.
        let mut in_string = false;
        for line in INIT.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let was_in_string = in_string;
            if line.matches('"').count() % 2 == 1 {
                in_string = !in_string;
            }
            if was_in_string {
                continue;
            }
            // Quoted text is not commands (but `$(...)` inside it is).
            let mut quoted = false;
            let unquoted: String = line
                .split("$(")
                .map(|seg| {
                    seg.chars()
                        .filter(|c| {
                            if *c == '"' {
                                quoted = !quoted;
                            }
                            !quoted && *c != '"'
                        })
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("; ");
            let cleaned = unquoted.replace("&&", ";").replace("||", ";").replace('|', ";");
            for part in cleaned.split(';') {
                let mut words = part.split_whitespace();
                let mut w = words.next();
                while let Some(x) = w
                    && (["do", "then", "else", "!", "exec"].contains(&x) || x.contains('=') && !x.starts_with('['))
                {
                    w = words.next();
                }
                let Some(cmd) = w else { continue };
                let cmd = cmd.trim_start_matches('(');
                if cmd.is_empty() || !cmd.chars().next().unwrap().is_ascii_lowercase() && cmd != "[" && cmd != "." {
                    continue;
                }
                if !builtins.contains(&cmd) && !APPLETS.contains(&cmd) && !cmd.contains('(') {
                    unknown.push(format!("{cmd} (in: {line})"));
                }
            }
        }
        assert!(unknown.is_empty(), "init calls applets missing from APPLETS: {unknown:#?}");
    }

    #[test]
    fn archive_is_readable_cpio() {
        let mut w = Archive::new(Vec::new());
        w.dir("bin").unwrap();
        w.file("bin/x", 0o755, b"hello").unwrap();
        let bytes = w.finish().unwrap();
        let r = cpio::newc::Reader::new(&bytes[..]).unwrap();
        assert_eq!(r.entry().name(), "bin");
        let rest = r.finish().unwrap();
        let r = cpio::newc::Reader::new(rest).unwrap();
        assert_eq!(r.entry().name(), "bin/x");
        assert_eq!(r.entry().file_size(), 5);
        assert_eq!(r.entry().mode(), 0o100755);
    }
}
