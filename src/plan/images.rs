//! The image catalog: the built-in distro images (`src/spec/images.hcl`), the project's own
//! `image` blocks over them, and each one's `base` chain folded into a flat [`DistroImage`].

use std::collections::BTreeMap;

use super::types::{DistroImage, Image, ImageKind, Plan};
use crate::spec::model::ImageSpec;

/// Every image: `host`, the built-in catalog and `declared`, a declared image replacing a
/// built-in one of the same name, in catalog order then declaration order.
pub fn resolve_all(declared: &[ImageSpec]) -> Vec<Image> {
    let builtin = crate::spec::read::image::builtin();
    let mut specs: Vec<&ImageSpec> = Vec::new();
    for b in &builtin {
        let own = declared.iter().find(|d| d.name.value == b.name.value);
        specs.push(own.unwrap_or(b));
    }
    for d in declared {
        if !builtin.iter().any(|b| b.name.value == d.name.value) {
            specs.push(d);
        }
    }
    let by_name: BTreeMap<&str, &ImageSpec> = specs.iter().map(|s| (s.name.value.as_str(), *s)).collect();
    let mut out = vec![Image {
        name: "host".into(),
        kind: ImageKind::Host,
    }];
    for s in specs {
        if s.name.value == "host" {
            continue;
        }
        let kind = if s.host {
            Some(ImageKind::Host)
        } else {
            fold(s, &by_name).map(ImageKind::Distro)
        };
        // A broken chain is a spec error (`spec::read::image::check`); it never gets here.
        if let Some(kind) = kind {
            out.push(Image {
                name: s.name.value.clone(),
                kind,
            });
        }
    }
    out
}

/// An image with its base chain folded in: the nearest `archive`/`suite`, `kernel` and `mirror`
/// win; packages add up. `None` when the chain is broken or loops.
fn fold(s: &ImageSpec, by_name: &BTreeMap<&str, &ImageSpec>) -> Option<DistroImage> {
    let mut chain = vec![s];
    let mut cur = s;
    while let Some(b) = &cur.base {
        cur = by_name.get(b.value.as_str())?;
        if cur.host || chain.len() > by_name.len() {
            return None;
        }
        chain.push(cur);
    }
    let root = chain.last()?;
    let mut packages: Vec<String> = chain.iter().flat_map(|i| i.packages.iter().cloned()).collect();
    packages.sort();
    packages.dedup();
    Some(DistroImage {
        archive: root.archive.clone()?,
        suite: root.suite.clone()?,
        kernel: chain.iter().find_map(|i| i.kernel.clone()),
        packages,
        mirror: chain.iter().find_map(|i| i.mirror.clone()),
        base: s.base.as_ref().map(|b| b.value.clone()),
    })
}

/// The whole catalog as `orca image` sees it: the plan's images, then the built-in ones the plan
/// does not hold (the plan keeps only the images its specs declare or use).
pub fn catalog(plan: &Plan) -> Vec<Image> {
    let mut out = plan.images.clone();
    for i in resolve_all(&[]) {
        if !out.iter().any(|o| o.name == i.name) {
            out.push(i);
        }
    }
    out
}

/// The catalog's image named `name`.
pub fn find(plan: &Plan, name: &str) -> Option<Image> {
    catalog(plan).into_iter().find(|i| i.name == name)
}
