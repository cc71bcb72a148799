//! From the plan to a [`VmConfig`]: which kernel, what resources, which shares, what the guest
//! command's environment is. Shared by `orca run`, `orca start`, `orca shell` and other layers.

use std::path::Path;

use anyhow::Result;

use super::machine::Root;
use super::provision::Provision;
use super::{Accel, VmConfig};
use crate::error::{Exit, Fail};
use crate::plan::{self, Mount, Plan};

/// Command-line overrides of a VM spec.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub kernel: Option<String>,
    pub cpus: Option<u32>,
    pub memory_mib: Option<u64>,
    pub network: bool,
    pub accel: Accel,
    /// The image to boot instead of the spec's (a matrix entry's image).
    pub image: Option<String>,
    /// Run an image VM's provision again even when its result is cached (`--reprovision`).
    pub reprovision: bool,
}

/// Defaults for a VM without a spec: the host image, 1 CPU (a second costs ~1 s of boot under
/// TCG), 1024 MiB, no NIC.
pub const DEFAULT_CPUS: u32 = 1;
pub const DEFAULT_MEMORY_MIB: u64 = 1024;

/// The catalog entry to boot: `--kernel`, else the spec's, else the newest with a source.
pub fn pick_kernel<'p>(plan: &'p Plan, vm: Option<&plan::Vm>, wanted: Option<&str>) -> Result<&'p plan::Kernel> {
    let version = wanted.map(String::from).or_else(|| vm.and_then(|v| v.kernel.clone()));
    let known = || {
        plan.kernels
            .iter()
            .map(|k| k.version.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match version {
        Some(v) => plan.kernel(&v).ok_or_else(|| {
            anyhow::Error::new(
                Fail::new(Exit::KernelUnavailable, format!("kernel {v} is not in the catalog"))
                    .hint(format!("choose one of: {} (configs/kernels.hcl)", known())),
            )
        }),
        None => plan.newest_kernel().ok_or_else(|| {
            anyhow::Error::new(
                Fail::new(
                    Exit::KernelUnavailable,
                    "the kernel catalog has no kernel with a source",
                )
                .hint("pin one with `orca kernel pin VERSION --debian PACKAGE --suite SUITE`"),
            )
        }),
    }
}

/// The VM spec declared in `file` (the first `vm { }` of that file).
pub fn vm_in_file<'p>(plan: &'p Plan, file: &Path, root: &Path) -> Result<&'p plan::Vm> {
    let want = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    plan.vms
        .iter()
        .find(|v| canonical(&plan.absolute(&v.file, root)) == want)
        .ok_or_else(|| {
            crate::error::usage(
                format!("{} declares no `vm {{ }}` block", file.display()),
                "name a VM spec such as configs/ebpf-test.hcl",
            )
        })
}

fn canonical(p: &Path) -> std::path::PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Prepares the kernel and fills a [`VmConfig`] from a spec (or the defaults) and overrides.
/// Share sources are made absolute against the project root. Provision is left to the caller:
/// see [`prepare`], which also says what provision a boot needs.
pub fn config(plan: &Plan, vm: Option<&plan::Vm>, o: &Overrides, root: &Path) -> Result<VmConfig> {
    Ok(prepare(plan, vm, o, root)?.cfg)
}

/// A VM ready to boot, and what its provision asks of the boot.
#[derive(Debug, Clone)]
pub struct Booting {
    pub cfg: VmConfig,
    pub provision: Provision,
}

/// Prepares the image (a distro image is built on first use, and its provisioned root looked up)
/// and the kernel, and fills a [`VmConfig`] from a spec (or the defaults) and overrides.
///
/// - The image is `--image`/the matrix entry's, else the spec's, else `host`. `host` (or an image
///   declared `type = "host"`) boots the host's root; a distro image boots its own root, never a
///   substitute: an image that cannot be had here is an error (exit 4 where its archive is out of
///   reach).
/// - The kernel is the override's, else the spec's, else the image's default kernel (an image's
///   default missing from the catalog is exit 4, never another kernel), else the newest.
/// - On an image, provision runs once per (image content, lines): a cached result is booted
///   instead of the image ([`Provision::Reused`]) unless `reprovision`.
pub fn prepare(plan: &Plan, vm: Option<&plan::Vm>, o: &Overrides, root: &Path) -> Result<Booting> {
    let image_name = o
        .image
        .clone()
        .or_else(|| vm.map(|v| v.image.clone()))
        .unwrap_or_else(|| "host".into());
    let distro = match crate::plan::images::find(plan, &image_name) {
        Some(plan::Image {
            kind: plan::ImageKind::Host,
            ..
        }) => None,
        Some(plan::Image {
            kind: plan::ImageKind::Distro(d),
            ..
        }) => Some(d),
        None => {
            // The catalog's own error, with its suggestion.
            crate::image::distro(plan, &image_name)?;
            unreachable!("an image not in the catalog is an error")
        }
    };
    // The image first: an image that cannot be had says so before any kernel is fetched.
    let ready = match &distro {
        Some(_) => Some(crate::image::ensure(
            plan,
            &image_name,
            &crate::image::lock_path(root),
            crate::image::Pinning::Follow,
        )?),
        None => None,
    };
    let k = match (o.kernel.as_deref(), vm.and_then(|v| v.kernel.as_deref()), &distro) {
        (None, None, Some(d)) if d.kernel.is_some() => {
            let v = d.kernel.as_deref().unwrap_or_default();
            plan.kernel(v).ok_or_else(|| {
                anyhow::Error::new(
                    Fail::new(
                        Exit::KernelUnavailable,
                        format!("image {image_name} boots kernel {v} by default, and kernel {v} is not in the catalog"),
                    )
                    .hint(format!(
                        "add kernel \"{v}\" to configs/kernels.hcl, or name another with kernel_version in the spec"
                    )),
                )
            })?
        }
        _ => pick_kernel(plan, vm, o.kernel.as_deref())?,
    };
    let prepared = crate::kernel::prepare(k)?;
    let mut cfg = VmConfig::new(vm.map(|v| v.name.clone()).unwrap_or_else(|| "orca".into()), prepared);
    cfg.cpus = o.cpus.or(vm.map(|v| v.cpus)).unwrap_or(DEFAULT_CPUS);
    cfg.memory_mib = o.memory_mib.or(vm.map(|v| v.memory_mib)).unwrap_or(DEFAULT_MEMORY_MIB);
    cfg.network = o.network || vm.is_some_and(|v| v.network);
    cfg.accel = o.accel;
    let lines = vm.map(|v| v.provision.clone()).unwrap_or_default();
    let provision = match &ready {
        _ if lines.is_empty() => Provision::None,
        None => Provision::EveryBoot(lines),
        Some(r) => {
            let key = super::provision::key(&r.content_sha256, &lines);
            match super::provision::cached(&key)? {
                Some(dir) if !o.reprovision => {
                    cfg.root = Root::Image(dir);
                    Provision::Reused {
                        image: image_name.clone(),
                        key,
                    }
                }
                _ => Provision::Once {
                    sources: super::provision::sources_list(&crate::image::archive::source(
                        &image_name,
                        distro.as_ref().expect("an image that was made ready is a distro image"),
                    )?),
                    replace: o.reprovision,
                    image: image_name.clone(),
                    key,
                    base: r.root.clone(),
                    image_sha256: r.content_sha256.clone(),
                    lines,
                },
            }
        }
    };
    if let Some(r) = &ready {
        if cfg.root == Root::Host {
            cfg.root = Root::Image(r.root.clone());
        }
        // Provision on an image fetches packages: a NIC, unless the spec says `network = false`
        // (which the plan already turned into `network = false` for a VM declared on an image).
        let declared_on_image = vm.is_some_and(|v| v.image == image_name);
        if matches!(provision, Provision::Once { .. }) && !declared_on_image {
            cfg.network = true;
        }
    }
    if let Some(v) = vm {
        cfg.disk_mib = v.disk_mib;
        cfg.modules = v.modules.clone();
        cfg.mounts = v
            .mounts
            .iter()
            .map(|m| match m {
                Mount::Share {
                    source,
                    destination,
                    readonly,
                } => Mount::Share {
                    source: plan.absolute(source, root),
                    destination: destination.clone(),
                    readonly: *readonly,
                },
                t => t.clone(),
            })
            .collect();
    }
    Ok(Booting { cfg, provision })
}

/// The environment a guest command gets from the host: PATH (with orca's own folder first, so
/// `orca` works in the guest), HOME, USER, LANG, LC_ALL, TERM, `CI=true` when [`crate::ci`] is on,
/// then `extra` (`NAME=VALUE`).
pub fn command_env(extra: &[String]) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|p| p.to_string_lossy().into_owned()));
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    env.push((
        "PATH".to_string(),
        match exe_dir {
            Some(d) => format!("{d}:{path}"),
            None => path,
        },
    ));
    for k in ["HOME", "USER", "LANG", "LC_ALL", "TERM"] {
        if let Ok(v) = std::env::var(k) {
            env.push((k.to_string(), v));
        }
    }
    if crate::ci::enabled() {
        env.push((crate::ci::VAR.to_string(), "true".to_string()));
    }
    for e in extra {
        let Some((k, v)) = e.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(crate::error::usage(
                format!("`{e}` is not NAME=VALUE"),
                "write --env NAME=VALUE",
            ));
        };
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    Ok(env)
}

/// Parses `--memory` (e.g. `2GB`).
pub fn memory(text: &str) -> Result<u64> {
    crate::spec::units::size_mib(text)
        .map_err(|e| anyhow::Error::new(Fail::new(Exit::Usage, format!("--memory: {}", e.message)).hint(e.hint)))
}

/// Parses a duration option (e.g. `10m`).
pub fn duration(flag: &str, text: &str) -> Result<std::time::Duration> {
    crate::spec::units::duration_secs(text)
        .map(std::time::Duration::from_secs)
        .map_err(|e| anyhow::Error::new(Fail::new(Exit::Usage, format!("{flag}: {}", e.message)).hint(e.hint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_env_overrides_and_must_be_name_value() {
        let env = command_env(&["FOO=bar=baz".into(), "HOME=/x".into()]).unwrap();
        assert!(env.contains(&("FOO".into(), "bar=baz".into())));
        assert_eq!(env.iter().filter(|(k, _)| k == "HOME").count(), 1);
        assert!(env.contains(&("HOME".into(), "/x".into())));
        assert_eq!(
            crate::error::exit_of(&command_env(&["=x".into()]).unwrap_err()),
            Exit::Usage
        );
        assert_eq!(
            crate::error::exit_of(&command_env(&["NOVALUE".into()]).unwrap_err()),
            Exit::Usage
        );
    }
}
