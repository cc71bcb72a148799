//! `image "NAME" { }`: the host root, or a distro root filesystem built with mmdebstrap, and the
//! built-in image catalog (`src/spec/images.hcl`) that a project's own blocks extend or override.

use std::collections::{HashMap, HashSet};

use super::fields::{At, Cx, Fields};
use crate::spec::diag::Diagnostic;
use crate::spec::model::{ImageSpec, Specs};
use crate::spec::source::SourceFile;
use crate::spec::syntax::Block;

/// The built-in image catalog, as shipped in the binary.
pub const BUILTIN: &str = include_str!("../images.hcl");
/// The name diagnostics give the built-in catalog.
pub const BUILTIN_NAME: &str = "<orca>/images.hcl";

/// The archives orca can build images from.
pub const ARCHIVES: [&str; 2] = ["debian", "ubuntu"];

const EXAMPLE: &str = "image \"NAME\" { base = \"debian-12\" }";

/// Reads one `image` block.
pub fn read(cx: &mut Cx, b: &Block) -> Option<ImageSpec> {
    let label = cx.labels(b, 1, EXAMPLE)?[0].clone();
    let f = Fields::body("image", b.ident.span.clone(), &b.body);
    f.check(cx, &[], &[]);
    if label.text.is_empty()
        || !label
            .text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        cx.error(
            label.span.clone(),
            format!("\"{}\" is not a valid image name", label.text),
            "use letters, digits, `.`, `_` and `-`, e.g. image \"debian-12-builder\"",
        );
        return None;
    }
    let name = At {
        value: label.text.clone(),
        loc: cx.loc(label.span.clone()),
    };
    let mut spec = ImageSpec {
        name,
        host: false,
        base: None,
        archive: None,
        suite: None,
        kernel: None,
        packages: Vec::new(),
        mirror: None,
    };
    if let Some(e) = f.get("type") {
        let t = cx.string(e, "type")?;
        if t != "host" {
            cx.error(
                e.span.clone(),
                format!("unknown image type \"{t}\""),
                "`type = \"host\"` is the host root; a distro image has `base = \"debian-12\"`, or `archive` and `suite`",
            );
            return None;
        }
        let mut ok = true;
        for key in ["base", "archive", "suite", "kernel", "packages", "mirror"] {
            if let Some(w) = f.key(key) {
                cx.error(
                    w.span.clone(),
                    format!("a host image takes no `{key}`"),
                    "remove `type = \"host\"` to build a distro image, or remove this key",
                );
                ok = false;
            }
        }
        spec.host = true;
        return ok.then_some(spec);
    }
    let mut ok = true;
    spec.base = f.get("base").and_then(|e| cx.name(e, "base"));
    spec.archive = f.get("archive").and_then(|e| {
        let a = cx.string(e, "archive")?;
        if !ARCHIVES.contains(&a.as_str()) {
            cx.error(
                e.span.clone(),
                format!("unknown archive \"{a}\""),
                "orca builds images from the \"debian\" and \"ubuntu\" archives",
            );
            return None;
        }
        Some(a)
    });
    spec.suite = f.get("suite").and_then(|e| {
        let s = cx.name(e, "suite")?.value;
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            cx.error(
                e.span.clone(),
                format!("\"{s}\" is not a suite name"),
                "write the suite's codename, e.g. suite = \"bookworm\"",
            );
            return None;
        }
        Some(s)
    });
    spec.kernel = f.get("kernel").and_then(|e| cx.version(e, "kernel"));
    if let Some(e) = f.get("packages") {
        match cx.strings(e, "packages") {
            Some(list) => {
                for p in list {
                    if !is_package_name(&p) {
                        cx.error(
                            e.span.clone(),
                            format!("\"{p}\" is not a package name"),
                            "list package names only, e.g. packages = [\"clang\", \"libbpf-dev\"]",
                        );
                        ok = false;
                    } else {
                        spec.packages.push(p);
                    }
                }
            }
            None => ok = false,
        }
    }
    spec.mirror = f.get("mirror").and_then(|e| {
        let m = cx.name(e, "mirror")?.value;
        if !["http://", "https://", "file:/"].iter().any(|p| m.starts_with(p)) {
            cx.error(
                e.span.clone(),
                format!("\"{m}\" is not an archive URL"),
                "write the archive's URL, e.g. mirror = \"http://mirror.example/debian\"",
            );
            return None;
        }
        Some(m.trim_end_matches('/').to_string())
    });
    match (&spec.base, f.key("archive"), f.key("suite")) {
        (Some(_), a, s) => {
            for w in [a, s].into_iter().flatten() {
                cx.error(
                    w.span.clone(),
                    format!("`{}` comes from the base image", w.text),
                    "remove it, or remove `base` and give both `archive` and `suite`",
                );
                ok = false;
            }
        }
        (None, Some(_), Some(_)) => {}
        (None, None, None) => {
            cx.error(
                label.span.clone(),
                format!("image \"{}\" has no `base`", label.text),
                format!("extend a catalog image: {EXAMPLE}; or give `archive` and `suite`"),
            );
            ok = false;
        }
        (None, _, _) => {
            let missing = if f.key("archive").is_none() { "archive" } else { "suite" };
            f.require(cx, missing, "archive = \"debian\" and suite = \"bookworm\"");
            ok = false;
        }
    }
    let complete = (spec.base.is_some() || (spec.archive.is_some() && spec.suite.is_some()))
        && (f.get("kernel").is_none() || spec.kernel.is_some())
        && (f.get("mirror").is_none() || spec.mirror.is_some());
    (ok && complete).then_some(spec)
}

/// A Debian package name: lower-case letters, digits, `+`, `-` and `.`, starting with a letter or
/// digit, at least two characters.
pub fn is_package_name(p: &str) -> bool {
    p.len() >= 2
        && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// The built-in catalog's images. The catalog is checked by a unit test, so this cannot fail at
/// run time; a broken one would show as missing images, never as a panic.
pub fn builtin() -> Vec<ImageSpec> {
    let src = SourceFile::new(BUILTIN_NAME.into(), BUILTIN_NAME.into(), BUILTIN.into());
    let mut specs = Specs::default();
    let mut diags = Vec::new();
    if let Ok(body) = crate::spec::syntax::parse_all(BUILTIN) {
        super::read_file(0, &src, &body, &mut specs, &mut diags);
    }
    specs.images
}

/// Cross-file checks of the images: every `base` names a distro image (the project's or the
/// built-in catalog's), and no chain of bases loops.
pub fn check(specs: &Specs, diags: &mut Vec<Diagnostic>) {
    let builtin = builtin();
    let mut by_name: HashMap<&str, &ImageSpec> = builtin.iter().map(|i| (i.name.value.as_str(), i)).collect();
    for i in &specs.images {
        by_name.insert(i.name.value.as_str(), i);
    }
    for img in &specs.images {
        let Some(base) = &img.base else { continue };
        let file = &specs.files[base.loc.file];
        let at = |msg: String, hint: String| Diagnostic::at(file, base.loc.span.clone(), msg, Some(hint));
        match by_name.get(base.value.as_str()) {
            None => {
                let mut names: Vec<&str> = by_name
                    .iter()
                    .filter(|(_, i)| !i.host)
                    .map(|(n, _)| *n)
                    .collect();
                names.sort();
                let hint = match crate::spec::diag::did_you_mean(&base.value, names.iter().copied()) {
                    Some(s) => format!("did you mean \"{s}\"? (`orca image list` shows the catalog)"),
                    None => format!("choose one of: {}", names.join(", ")),
                };
                diags.push(at(format!("base image \"{}\" is not in the image catalog", base.value), hint));
            }
            Some(b) if b.host || base.value == "host" => diags.push(at(
                format!("image \"{}\" cannot extend the host root", img.name.value),
                "a distro image extends a distro image, e.g. base = \"debian-12\"".into(),
            )),
            Some(_) => {
                let mut seen = HashSet::from([img.name.value.as_str()]);
                let mut next = Some(base.value.as_str());
                while let Some(n) = next {
                    if !seen.insert(n) {
                        diags.push(at(
                            format!("the bases of image \"{}\" loop back to \"{n}\"", img.name.value),
                            "one image in the chain must name an archive and suite instead of a base".into(),
                        ));
                        break;
                    }
                    next = by_name
                        .get(n)
                        .and_then(|i| i.base.as_ref())
                        .map(|b| b.value.as_str());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_reads_cleanly_and_names_every_image() {
        let src = SourceFile::new(BUILTIN_NAME.into(), BUILTIN_NAME.into(), BUILTIN.into());
        let body = crate::spec::syntax::parse_all(BUILTIN).expect("the built-in catalog parses");
        let mut specs = Specs::default();
        let mut diags = Vec::new();
        super::super::read_file(0, &src, &body, &mut specs, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let want = [
            ("debian-11", "bullseye", "5.10"),
            ("debian-12", "bookworm", "6.1"),
            ("debian-13", "trixie", "6.12"),
            ("ubuntu-20.04", "focal", "5.4"),
            ("ubuntu-22.04", "jammy", "5.15"),
            ("ubuntu-24.04", "noble", "6.8"),
        ];
        let images = builtin();
        assert_eq!(images.len(), 12);
        for (name, suite, kernel) in want {
            for n in [name.to_string(), format!("{name}-minimal")] {
                let i = images.iter().find(|i| i.name.value == n).unwrap_or_else(|| panic!("{n}"));
                assert_eq!(i.suite.as_deref(), Some(suite), "{n}");
                assert_eq!(i.kernel.as_deref(), Some(kernel), "{n}");
                assert_eq!(i.archive.as_deref(), Some(&name[..6]), "{n}");
                assert_eq!(i.packages.is_empty(), n.ends_with("-minimal"), "{n}");
            }
        }
    }

    #[test]
    fn package_names() {
        assert!(is_package_name("libbpf-dev"));
        assert!(is_package_name("g++"));
        assert!(is_package_name("linux-headers-6.1.0-9-amd64"));
        assert!(!is_package_name("Clang"));
        assert!(!is_package_name("clang;rm"));
        assert!(!is_package_name("-x"));
    }
}
