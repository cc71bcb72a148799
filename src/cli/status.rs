//! `orca status`, `orca install`, `orca uninstall`.

use anyhow::Result;

use super::StatusArgs;
#[cfg(target_os = "linux")]
use super::{InstallArgs, UninstallArgs};
use crate::install;
#[cfg(target_os = "linux")]
use crate::install::{InstallOptions, What};

pub fn run(a: StatusArgs) -> Result<u8> {
    let root = crate::paths::project_root();
    // With a name, only that VM: the rest of the view is about the machine, not one VM.
    if let Some(name) = a.name.as_deref() {
        let vms = install::status::vms(Some(name));
        match a.json {
            true => println!("{}", serde_json::to_string_pretty(&vms)?),
            false => print!("{}", install::status::render_vms(&vms).trim_start()),
        }
        return Ok(0);
    }
    let status = install::status::gather(&root, &a.pin_dir);
    match a.json {
        true => println!("{}", serde_json::to_string_pretty(&status)?),
        false => print!("{}", install::status::render(&status)),
    }
    Ok(0)
}

#[cfg(target_os = "linux")]
pub fn install(a: InstallArgs) -> Result<u8> {
    let root = crate::paths::project_root();
    let objects = a.objects.unwrap_or_else(|| {
        let out = crate::plan::load_project(&root)
            .ok()
            .and_then(|p| p.toolchain)
            .map(|t| t.out_dir);
        root.join(out.unwrap_or_else(|| "build/ebpf".into()))
    });
    let step = crate::ui::Step::start(format!("install {}", objects.display()));
    let m = install::install(&InstallOptions {
        objects,
        pin_dir: a.pin_dir,
        iface: a.iface,
    })?;
    let count = |w: What| m.pins.iter().filter(|p| p.what == w).count();
    step.done(format!(
        "loaded: {} programs, {} maps, {} links pinned under {}",
        count(What::Program),
        count(What::Map),
        count(What::Link),
        m.pin_dir.display()
    ));
    Ok(0)
}

#[cfg(target_os = "linux")]
pub fn uninstall(a: UninstallArgs) -> Result<u8> {
    match install::uninstall(&a.pin_dir)? {
        Some(m) => {
            let pins = m.pins.iter().filter(|p| p.what != What::Qdisc).count();
            crate::ui::status(format!("removed {pins} pins under {}", m.pin_dir.display()))
        }
        None => crate::ui::status(format!("nothing installed under {}", a.pin_dir.display())),
    }
    Ok(0)
}
