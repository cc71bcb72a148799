//! From the plan to a [`VmConfig`]: which kernel, what resources, which shares, what the guest
//! command's environment is. Shared by `orca run`, `orca start`, `orca shell` and other layers.

use std::path::Path;

use anyhow::Result;

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
/// Share sources are made absolute against the project root.
pub fn config(plan: &Plan, vm: Option<&plan::Vm>, o: &Overrides, root: &Path) -> Result<VmConfig> {
    let k = pick_kernel(plan, vm, o.kernel.as_deref())?;
    let prepared = crate::kernel::prepare(k)?;
    let mut cfg = VmConfig::new(vm.map(|v| v.name.clone()).unwrap_or_else(|| "orca".into()), prepared);
    cfg.cpus = o.cpus.or(vm.map(|v| v.cpus)).unwrap_or(DEFAULT_CPUS);
    cfg.memory_mib = o.memory_mib.or(vm.map(|v| v.memory_mib)).unwrap_or(DEFAULT_MEMORY_MIB);
    cfg.network = o.network || vm.is_some_and(|v| v.network);
    cfg.accel = o.accel;
    if let Some(v) = vm {
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
    Ok(cfg)
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
