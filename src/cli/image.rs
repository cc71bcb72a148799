//! `orca image list | build | pin | rm | gc`: the image catalog, its pins and its cache.

use anyhow::Result;

use super::ImageCommand;
use crate::image::{self, Pinning};
use crate::plan;
use crate::ui;

pub fn run(c: ImageCommand) -> Result<u8> {
    let root = crate::paths::project_root();
    let lock = image::lock_path(&root);
    match c {
        ImageCommand::List { json } => {
            let rows = image::list(&plan::load_project(&root)?, &lock)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(0);
            }
            println!("{:<22} {:<8} {:<10} {:<7} {:<26} PACKAGES", "IMAGE", "ARCHIVE", "SUITE", "KERNEL", "PINNED / CACHED");
            for r in &rows {
                let state = match (&r.pinned, r.cached, r.bytes) {
                    (Some(p), true, Some(b)) => format!("{} {}", &p[..12], ui::bytes(b)),
                    (Some(p), _, _) => format!("{} not cached", &p[..12]),
                    (None, _, _) => "not pinned".to_string(),
                };
                let pkgs = if r.image.packages.is_empty() {
                    "(essential only)".to_string()
                } else {
                    r.image.packages.join(" ")
                };
                println!(
                    "{:<22} {:<8} {:<10} {:<7} {:<26} {pkgs}",
                    r.name,
                    r.image.archive,
                    r.image.suite,
                    r.image.kernel.as_deref().unwrap_or("newest"),
                    state
                );
            }
            Ok(0)
        }
        ImageCommand::Build { names } => build(&root, &lock, &names, Pinning::Follow),
        ImageCommand::Pin { names } => build(&root, &lock, &names, Pinning::Repin),
        ImageCommand::Rm { names } => {
            let plan = plan::load_project(&root)?;
            for n in &names {
                match image::remove(&plan, n, &lock)? {
                    Some(b) => ui::status(format!("image {n}: removed from the cache ({} freed)", ui::bytes(b))),
                    None => ui::status(format!("image {n}: not cached")),
                }
            }
            Ok(0)
        }
        ImageCommand::Gc { debs, provisioned } => {
            let f = image::gc(&lock, debs)?;
            // After the images: a provisioned root goes with its image.
            let p = crate::vm::provision::gc(provisioned)?;
            let d = if debs { format!(", {} of packages", ui::bytes(f.debs_bytes)) } else { String::new() };
            ui::status(format!(
                "removed {} unpinned image(s), {}{d}; {} provisioned root(s)",
                f.images,
                ui::bytes(f.bytes),
                p.roots
            ));
            Ok(0)
        }
    }
}

fn build(root: &std::path::Path, lock: &std::path::Path, names: &[String], pinning: Pinning) -> Result<u8> {
    let plan = plan::load_project(root)?;
    for n in names {
        // Check every name before building any, so a typo does not cost a build.
        image::distro(&plan, n)?;
    }
    for n in names {
        let r = image::ensure(&plan, n, lock, pinning)?;
        if r.cached {
            ui::status(format!("image {n}: cached ({})", &r.content_sha256[..12]));
        }
        println!("{n} {} {}", r.content_sha256, r.root.display());
    }
    Ok(0)
}
