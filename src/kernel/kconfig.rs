//! A kernel's build configuration (`config-<release>` from its package), and the check that it
//! has what orca needs to boot it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::{Exit, Fail};

/// How one option is set. Options that are "not set" are absent from [`Kconfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `=y`: built into the image.
    Builtin,
    /// `=m`: built as a module, to be loaded.
    Module,
    /// Any other value: a number or a string (quotes removed).
    Value(String),
}

/// A parsed kernel config. Keys are stored without the `CONFIG_` prefix.
#[derive(Debug, Clone, Default)]
pub struct Kconfig {
    /// The file it was read from; `None` when the kernel came without one (a bare image).
    pub file: Option<PathBuf>,
    options: BTreeMap<String, Setting>,
}

/// One option orca needs, and why.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// The option without `CONFIG_`. A `=y` suffix means it must be built in; otherwise a module
    /// will do, because orca loads modules from its initramfs.
    pub option: &'static str,
    pub reason: &'static str,
}

/// What booting a kernel the orca way needs: its initramfs, the host root over 9p with a tmpfs
/// overlay, and the agent on a virtio-serial port. The VM layer passes these to [`check_config`].
/// A kernel without 9p that has virtiofs ([`VIRTIOFS_NEEDS`]) passes too: [`check`] accepts it
/// in place of the 9p options, and the VM layer shares the host root through virtiofsd.
pub const BOOT_NEEDS: &[Need] = &[
    Need {
        option: "BLK_DEV_INITRD=y",
        reason: "orca boots from its own initramfs",
    },
    Need {
        option: "DEVTMPFS=y",
        reason: "the initramfs mounts /dev as devtmpfs",
    },
    Need {
        option: "BINFMT_ELF=y",
        reason: "busybox and the agent are ELF executables",
    },
    Need {
        option: "BINFMT_SCRIPT=y",
        reason: "the initramfs's /init is a shell script",
    },
    Need {
        option: "TMPFS=y",
        reason: "the writable overlay on the shared root lives in tmpfs",
    },
    Need {
        option: "SERIAL_8250=y",
        reason: "the kernel log and panics go to the serial port ttyS0",
    },
    Need {
        option: "SERIAL_8250_CONSOLE=y",
        reason: "console=ttyS0 needs a console on the 8250 UART",
    },
    Need {
        option: "PCI=y",
        reason: "QEMU attaches virtio devices over PCI",
    },
    Need {
        option: "VIRTIO",
        reason: "the virtio core, for every device orca gives the guest",
    },
    Need {
        option: "VIRTIO_PCI",
        reason: "virtio devices on QEMU's PCI bus",
    },
    Need {
        option: "VIRTIO_CONSOLE",
        reason: "the agent's virtio-serial port",
    },
    Need {
        option: "NET_9P",
        reason: "the 9p protocol, for the shared host root",
    },
    Need {
        option: "NET_9P_VIRTIO",
        reason: "9p over virtio, QEMU's -virtfs transport",
    },
    Need {
        option: "9P_FS",
        reason: "mounting the host root over 9p",
    },
    Need {
        option: "OVERLAY_FS",
        reason: "a writable tmpfs overlay on the read-only shared root",
    },
];

/// The 9p options of [`BOOT_NEEDS`]: the default way the guest sees the host's files.
pub const NINEP_OPTIONS: &[&str] = &["NET_9P", "NET_9P_VIRTIO", "9P_FS"];

/// The alternative to [`NINEP_OPTIONS`]: the host root over virtiofs, served by a virtiofsd on
/// the host (Debian's `-cloud-amd64` kernels have virtiofs but no 9p).
pub const VIRTIOFS_NEEDS: &[Need] = &[
    Need {
        option: "FUSE_FS",
        reason: "virtiofs is a FUSE transport",
    },
    Need {
        option: "VIRTIO_FS",
        reason: "mounting the host root over virtiofs",
    },
];

/// How the guest mounts the host's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareFs {
    /// virtio-9p, served by QEMU itself: the default, needing no daemon and no root.
    NineP,
    /// virtiofs, served by one virtiofsd per share.
    Virtiofs,
}

impl ShareFs {
    /// The modules a guest loads to mount shares this way (their dependencies come with them).
    pub fn modules(self) -> &'static [&'static str] {
        match self {
            ShareFs::NineP => &["9pnet_virtio", "9p"],
            // Pulls in fuse through its dependencies.
            ShareFs::Virtiofs => &["virtiofs"],
        }
    }
}

/// What the project's eBPF tests need on top of booting (loading, verifying and attaching the
/// XDP and tc programs, and the veth pairs tests send packets over).
pub const BPF_NEEDS: &[Need] = &[
    Need {
        option: "BPF=y",
        reason: "eBPF itself",
    },
    Need {
        option: "BPF_SYSCALL=y",
        reason: "the bpf(2) system call, to load programs and maps",
    },
    Need {
        option: "DEBUG_INFO_BTF=y",
        reason: "kernel BTF at /sys/kernel/btf/vmlinux, for CO-RE relocations",
    },
    Need {
        option: "NET_CLS_BPF",
        reason: "attaching TC programs (cls_bpf)",
    },
    Need {
        option: "NET_SCH_INGRESS",
        reason: "the clsact qdisc TC programs hang off",
    },
    Need {
        option: "VETH",
        reason: "the veth pairs tests send packets over",
    },
];

impl Kconfig {
    /// Reads a config file.
    pub fn read(path: &Path) -> Result<Kconfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading kernel config {}", path.display()))?;
        let mut k = Kconfig::parse(&text);
        k.file = Some(path.to_path_buf());
        Ok(k)
    }

    /// Parses config text: `CONFIG_X=y|m|value` lines; `# CONFIG_X is not set` and other comments
    /// leave the option absent.
    pub fn parse(text: &str) -> Kconfig {
        let mut options = BTreeMap::new();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let Some(name) = key.strip_prefix("CONFIG_") else {
                continue;
            };
            let setting = match value {
                "y" => Setting::Builtin,
                "m" => Setting::Module,
                "n" => continue,
                v => Setting::Value(v.trim_matches('"').to_string()),
            };
            options.insert(name.to_string(), setting);
        }
        Kconfig { file: None, options }
    }

    /// The setting of an option, by name with or without `CONFIG_`; `None` when not set.
    pub fn get(&self, option: &str) -> Option<&Setting> {
        self.options.get(option.strip_prefix("CONFIG_").unwrap_or(option))
    }

    /// True when the config came with the kernel (a bare image has none).
    pub fn is_known(&self) -> bool {
        self.file.is_some()
    }

    /// How many options are set.
    pub fn len(&self) -> usize {
        self.options.len()
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }

    /// Whether every option in `options` is set (built in or a module).
    fn has_all<'a>(&self, mut options: impl Iterator<Item = &'a str>) -> bool {
        options.all(|o| self.get(o).is_some())
    }

    /// Whether the kernel can mount a 9p share over virtio.
    pub fn has_9p(&self) -> bool {
        self.has_all(NINEP_OPTIONS.iter().copied())
    }

    /// Whether the kernel can mount a virtiofs share.
    pub fn has_virtiofs(&self) -> bool {
        self.has_all(VIRTIOFS_NEEDS.iter().map(|n| n.option))
    }

    /// How a guest of this kernel mounts the host's files: 9p when the kernel has it, else
    /// virtiofs when it has that; `None` when it has neither. A kernel without a config is
    /// assumed to have 9p, as Debian's generic kernels do.
    pub fn share_fs(&self) -> Option<ShareFs> {
        if !self.is_known() || self.has_9p() {
            Some(ShareFs::NineP)
        } else if self.has_virtiofs() {
            Some(ShareFs::Virtiofs)
        } else {
            None
        }
    }
}

/// Why an option is needed, from [`BOOT_NEEDS`] / [`BPF_NEEDS`], if it is one of theirs.
fn reason_for(option: &str) -> Option<&'static str> {
    let bare = |o: &str| o.trim_end_matches("=y").to_string();
    BOOT_NEEDS
        .iter()
        .chain(BPF_NEEDS)
        .chain(VIRTIOFS_NEEDS)
        .find(|n| bare(n.option) == bare(option))
        .map(|n| n.reason)
}

/// Checks that `config` sets every option in `needs` (names without `CONFIG_`; a `=y` suffix
/// demands built-in, otherwise a module is enough). Returns every shortfall at once, as an
/// `Exit::KernelConfig` failure naming each option, its reason and how to fix it. `kernel` names
/// the kernel in the message. A missing 9p option ([`NINEP_OPTIONS`]) is no shortfall when the
/// kernel has virtiofs instead; when it has neither, the message names both ways.
pub fn check(kernel: &str, config: &Kconfig, needs: &[&str]) -> Result<()> {
    if !config.is_known() {
        crate::ui::warn(format!(
            "kernel {kernel} came without a config file; cannot check its options before booting"
        ));
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut lacks_9p = false;
    for need in needs {
        let option = need.trim_start_matches("CONFIG_");
        let (name, builtin) = match option.strip_suffix("=y") {
            Some(n) => (n, true),
            None => (option, false),
        };
        let problem = match config.get(name) {
            Some(Setting::Builtin) => None,
            Some(Setting::Module) if !builtin => None,
            Some(Setting::Module) => Some("is a module (=m) but must be built in (=y)"),
            Some(Setting::Value(_)) => None,
            None => Some("is not set"),
        };
        if problem.is_some() && NINEP_OPTIONS.contains(&name) {
            if config.has_virtiofs() {
                continue;
            }
            lacks_9p = true;
        }
        if let Some(p) = problem {
            let why = reason_for(name)
                .map(|r| format!(": needed because {r}"))
                .unwrap_or_default();
            missing.push(format!("  CONFIG_{name} {p}{why}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if lacks_9p {
        missing.push(
            "  or, instead of the 9p options: CONFIG_FUSE_FS and CONFIG_VIRTIO_FS, to share the host root over virtiofs (served by virtiofsd on the host)".to_string(),
        );
    }
    let file = config
        .file
        .as_ref()
        .map(|f| format!(" ({})", f.display()))
        .unwrap_or_default();
    Err(anyhow::Error::new(
        Fail::new(
            Exit::KernelConfig,
            format!(
                "kernel {kernel} lacks {} option(s) orca needs{file}:\n{}",
                missing.len() - usize::from(lacks_9p),
                missing.join("\n")
            ),
        )
        .hint("choose another kernel from the catalog (`orca kernel list`), or build this one with those options (=y, or =m where a module will do)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "\
# Linux/x86 6.1 Kernel Configuration
CONFIG_CC_VERSION_TEXT=\"gcc (Debian 12.2.0-14) 12.2.0\"
CONFIG_VIRTIO=y
CONFIG_VIRTIO_PCI=m
# CONFIG_9P_FS is not set
CONFIG_DEVTMPFS=m
CONFIG_HZ=250
CONFIG_OVERLAY_FS=n
";

    fn fixture() -> Kconfig {
        let mut k = Kconfig::parse(FIXTURE);
        k.file = Some(PathBuf::from("config-fixture"));
        k
    }

    #[test]
    fn parses_tristates_values_and_unset() {
        let k = fixture();
        assert_eq!(k.get("CONFIG_VIRTIO"), Some(&Setting::Builtin));
        assert_eq!(k.get("VIRTIO_PCI"), Some(&Setting::Module));
        assert_eq!(k.get("HZ"), Some(&Setting::Value("250".into())));
        assert_eq!(
            k.get("CC_VERSION_TEXT"),
            Some(&Setting::Value("gcc (Debian 12.2.0-14) 12.2.0".into()))
        );
        assert_eq!(k.get("9P_FS"), None);
        assert_eq!(k.get("OVERLAY_FS"), None);
        assert_eq!(k.get("NO_SUCH_THING"), None);
    }

    #[test]
    fn a_module_satisfies_a_need_unless_built_in_is_demanded() {
        check("t", &fixture(), &["VIRTIO", "VIRTIO_PCI", "CONFIG_HZ"]).unwrap();
        let err = check("t", &fixture(), &["VIRTIO_PCI=y"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("CONFIG_VIRTIO_PCI is a module (=m) but must be built in"),
            "{err}"
        );
    }

    #[test]
    fn every_missing_option_is_named_with_its_reason_and_exit_5() {
        let err = check(
            "6.1",
            &fixture(),
            &["VIRTIO", "9P_FS", "DEVTMPFS=y", "OVERLAY_FS", "NET_9P"],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert_eq!(crate::error::exit_of(&err), Exit::KernelConfig);
        assert_eq!(crate::error::exit_of(&err).code(), 5);
        for name in [
            "CONFIG_9P_FS is not set",
            "CONFIG_DEVTMPFS is a module",
            "CONFIG_OVERLAY_FS",
            "CONFIG_NET_9P",
        ] {
            assert!(msg.contains(name), "{name} missing from: {msg}");
        }
        assert!(!msg.contains("CONFIG_VIRTIO "), "{msg}");
        assert!(msg.contains("mounting the host root over 9p"), "{msg}");
        assert!(msg.contains("lacks 4 option(s)"), "{msg}");
        assert!(
            msg.contains("or, instead of the 9p options: CONFIG_FUSE_FS and CONFIG_VIRTIO_FS"),
            "{msg}"
        );
        let hint = crate::error::find_fail(&err).and_then(|f| f.hint.clone()).unwrap();
        assert!(hint.contains("another kernel") && hint.contains("build"), "{hint}");
    }

    #[test]
    fn virtiofs_stands_in_for_9p_and_is_chosen_only_without_9p() {
        let cloud = |extra: &str| {
            let mut k = Kconfig::parse(&format!("CONFIG_VIRTIO=y\nCONFIG_OVERLAY_FS=m\n{extra}"));
            k.file = Some(PathBuf::from("config-cloud"));
            k
        };
        let needs = ["VIRTIO", "NET_9P", "NET_9P_VIRTIO", "9P_FS", "OVERLAY_FS"];
        let virtiofs = cloud("CONFIG_FUSE_FS=m\nCONFIG_VIRTIO_FS=m\n");
        check("cloud", &virtiofs, &needs).unwrap();
        assert_eq!(virtiofs.share_fs(), Some(ShareFs::Virtiofs));
        let both =
            cloud("CONFIG_FUSE_FS=y\nCONFIG_VIRTIO_FS=y\nCONFIG_NET_9P=m\nCONFIG_NET_9P_VIRTIO=m\nCONFIG_9P_FS=m\n");
        assert_eq!(both.share_fs(), Some(ShareFs::NineP));
        // FUSE alone is not virtiofs.
        let fuse_only = cloud("CONFIG_FUSE_FS=m\n");
        assert_eq!(fuse_only.share_fs(), None);
        let err = check("cloud", &fuse_only, &needs).unwrap_err().to_string();
        assert!(
            err.contains("lacks 3 option(s)") && err.contains("CONFIG_VIRTIO_FS"),
            "{err}"
        );
        assert_eq!(Kconfig::default().share_fs(), Some(ShareFs::NineP));
    }

    #[test]
    fn the_default_boot_modules_are_the_9p_ones() {
        let boot: Vec<&str> = crate::kernel::BOOT_MODULES.iter().map(|(m, _)| *m).collect();
        for m in ShareFs::NineP.modules() {
            assert!(boot.contains(m), "{m} in {boot:?}");
        }
        assert!(
            ShareFs::Virtiofs.modules().iter().all(|m| !boot.contains(m)),
            "{boot:?}"
        );
    }

    #[test]
    fn a_kernel_without_config_is_not_refused() {
        check("bare", &Kconfig::default(), &["VIRTIO"]).unwrap();
    }
}
