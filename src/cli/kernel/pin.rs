//! `orca kernel pin`: download a kernel's Debian packages, hash them, and write the kernel's block
//! into the catalog. The rest of the catalog, comments included, is left byte for byte: only the
//! kernel's `release` and its part blocks are rewritten (or a new block is appended).

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use hcl_edit::Span;
use hcl_edit::structure::{Body, Structure};

use crate::error::{Exit, Fail};
use crate::kernel::{self, fetch, unpack};
use crate::plan::{Kernel, KernelSource};
use crate::ui;

/// The archive parts as pinned: archive, package, exact version, suite, sha256.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// `debian` or `ubuntu`: the block the part is written as.
    pub archive: String,
    pub package: String,
    pub version: String,
    pub suite: String,
    pub sha256: String,
}

pub fn run(root: &Path, version: &str, packages: &[String], suite: &str, catalog: &Path) -> Result<u8> {
    if crate::plan::KernelVersion::parse(version).is_none() {
        return Err(crate::error::usage(
            format!("`{version}` is not a kernel version"),
            "name the catalog key as MAJOR.MINOR, e.g. `orca kernel pin 6.1 --debian ...`",
        ));
    }
    // Without --debian: the catalog entry's own archive parts, as they are listed (the Ubuntu
    // kernels ship unpinned where their archive is out of reach).
    let wanted: Vec<KernelSource> = if packages.is_empty() {
        let plan = crate::plan::load_project(root)?;
        let k = super::find(&plan, version)?;
        if k.sources.is_empty() || k.sources.iter().any(|s| matches!(s, KernelSource::Url { .. } | KernelSource::File { .. })) {
            return Err(crate::error::usage(
                format!("kernel {version} has no archive parts to pin (only `debian {{ }}` and `ubuntu {{ }}` parts are fetched by name)"),
                format!("name the package: `orca kernel pin {version} --debian PACKAGE --suite SUITE`"),
            ));
        }
        k.sources.clone()
    } else {
        packages
            .iter()
            .map(|package| KernelSource::Debian {
                package: package.clone(),
                version: None,
                suite: suite.to_string(),
                sha256: String::new(),
            })
            .collect()
    };
    let mut parts = Vec::new();
    for src in &wanted {
        let (archive, package, suite) = match src {
            KernelSource::Debian { package, suite, .. } => ("debian", package, suite),
            KernelSource::Ubuntu { package, suite, .. } => ("ubuntu", package, suite),
            _ => unreachable!("only archive parts are pinned by name"),
        };
        if archive == "ubuntu"
            && let Some(e) = fetch::unavailable(version, src).filter(|_| crate::kernel::apt::ubuntu_mirror().is_none())
        {
            return Err(e);
        }
        let (path, sha256) = fetch::fetch_unpinned(version, src, root, None)?;
        let control = unpack::control(&path)?;
        parts.push(Part {
            archive: archive.to_string(),
            package: package.clone(),
            version: control.version,
            suite: suite.clone(),
            sha256,
        });
    }
    let k = Kernel {
        version: version.to_string(),
        release: None,
        sources: parts
            .iter()
            .map(|p| match p.archive.as_str() {
                "ubuntu" => KernelSource::Ubuntu {
                    package: p.package.clone(),
                    version: Some(p.version.clone()),
                    suite: p.suite.clone(),
                    sha256: Some(p.sha256.clone()),
                },
                _ => KernelSource::Debian {
                    package: p.package.clone(),
                    version: Some(p.version.clone()),
                    suite: p.suite.clone(),
                    sha256: p.sha256.clone(),
                },
            })
            .collect(),
        nixpkgs: None,
    };
    let prepared = kernel::prepare_in(&k, root)?;
    if let Err(e) = kernel::check_config(&prepared, &kernel::boot_needs()) {
        ui::warn(format!("{e:#}"));
    }
    let text = match std::fs::read_to_string(catalog) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "schema_version = \"1.0\"\n".to_string(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", catalog.display())),
    };
    let new = edit(&text, version, &prepared.release, &parts)
        .with_context(|| format!("editing the catalog {}", catalog.display()))?;
    crate::paths::write_atomic(catalog, new.as_bytes())?;
    println!(
        "pinned kernel {version} ({}) in {}:",
        prepared.release,
        catalog.display()
    );
    for p in &parts {
        println!("  {} {} ({}) sha256 {}", p.package, p.version, p.suite, p.sha256);
    }
    Ok(0)
}

/// The catalog text with kernel `version` pinned to `parts`.
pub fn edit(text: &str, version: &str, release: &str, parts: &[Part]) -> Result<String> {
    let body = parse(text)?;
    let block = body.iter().find_map(|s| match s {
        Structure::Block(b) if b.has_ident("kernel") && b.labels.first().is_some_and(|l| l.as_str() == version) => {
            Some(b)
        }
        _ => None,
    });
    let out = match block {
        None => {
            let mut out = text.trim_end().to_string();
            out.push_str(&format!(
                "\n\n# Pinned by `orca kernel pin`.\nkernel \"{version}\" {{\n  release = \"{release}\"\n"
            ));
            out.push_str(&render_parts(parts, "  "));
            out.push_str("}\n");
            out
        }
        Some(b) => {
            let span = b.span().context("the parser gave the kernel block no position")?;
            let mut edits: Vec<(Range<usize>, String)> = Vec::new();
            let olds: Vec<Range<usize>> = b
                .body
                .iter()
                .filter_map(|s| match s {
                    Structure::Block(p) if ["debian", "ubuntu", "url", "file"].iter().any(|i| p.has_ident(i)) => p.span(),
                    _ => None,
                })
                .collect();
            let release_attr = b.body.iter().find_map(|s| match s {
                Structure::Attribute(a) if a.has_key("release") => a.span(),
                _ => None,
            });
            let indent = olds
                .first()
                .or(release_attr.as_ref())
                .map(|r| indent_at(text, r.start))
                .unwrap_or_else(|| format!("{}  ", indent_at(text, span.start)));
            let rendered = render_parts(parts, &indent);
            let rendered = rendered.trim_start().trim_end_matches('\n').to_string();
            match olds.first() {
                Some(first) => {
                    edits.push((first.clone(), rendered));
                    for old in &olds[1..] {
                        edits.push((whole_lines(text, old.clone()), String::new()));
                    }
                }
                None => {
                    let close = text[..span.end]
                        .rfind('}')
                        .context("kernel block without a closing brace")?;
                    edits.push((
                        close..close,
                        format!("{indent}{rendered}\n{}", indent_at(text, span.start)),
                    ));
                }
            }
            match release_attr {
                Some(r) => edits.push((r, format!("release = \"{release}\""))),
                None => {
                    let at = olds.first().map(|r| r.start).unwrap_or(span.end);
                    let at = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(at);
                    edits.push((at..at, format!("{indent}release = \"{release}\"\n")));
                }
            }
            edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
            let mut out = text.to_string();
            for (r, s) in edits {
                out.replace_range(r, &s);
            }
            out
        }
    };
    parse(&out).context("the edited catalog would not parse (this is a bug in orca; the file was left unchanged)")?;
    Ok(out)
}

fn parse(text: &str) -> Result<Body> {
    hcl_edit::parser::parse_body(text)
        .map_err(|e| anyhow::Error::new(Fail::new(Exit::Usage, format!("the catalog is not valid HCL: {e}"))))
}

fn render_parts(parts: &[Part], indent: &str) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(&format!(
            "{indent}{} {{\n{indent}  package = \"{}\"\n{indent}  version = \"{}\"\n{indent}  suite   = \"{}\"\n{indent}  sha256  = \"{}\"\n{indent}}}\n",
            p.archive, p.package, p.version, p.suite, p.sha256
        ));
    }
    s
}

/// The whitespace before `at` on its line.
fn indent_at(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    text[start..at].chars().take_while(|c| c.is_whitespace()).collect()
}

/// `r` widened to whole lines (with the trailing newline), for deleting a block cleanly.
fn whole_lines(text: &str, r: Range<usize>) -> Range<usize> {
    let start = text[..r.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[r.end..].find('\n').map(|i| r.end + i + 1).unwrap_or(text.len());
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(pkg: &str, sha: &str) -> Part {
        Part {
            archive: "debian".into(),
            package: pkg.into(),
            version: "1.0-1".into(),
            suite: "sid".into(),
            sha256: sha.into(),
        }
    }

    const CATALOG: &str = r#"schema_version = "1.0"

# Debian 12.
kernel "6.1" {
  release = "6.1.0-31-amd64" # old
  nixpkgs = "linuxPackages_6_1"
  # the image
  debian {
    package = "linux-image-6.1.0-31-amd64-unsigned"
    suite   = "bookworm"
    sha256  = "aaaa"
  }
  debian {
    package = "second"
    suite   = "bookworm"
    sha256  = "bbbb"
  }
}

kernel "5.10" {
  debian {
    package = "x"
    suite = "bullseye"
    sha256 = "cccc"
  }
}
"#;

    #[test]
    fn repinning_rewrites_only_the_kernels_parts_and_release() {
        let out = edit(
            CATALOG,
            "6.1",
            "6.1.0-50-amd64",
            &[part("linux-image-6.1.0-50-amd64-unsigned", "dddd")],
        )
        .unwrap();
        assert!(out.contains("release = \"6.1.0-50-amd64\" # old"), "{out}");
        assert!(out.contains("nixpkgs = \"linuxPackages_6_1\""), "{out}");
        assert!(out.contains("# Debian 12.\nkernel \"6.1\" {"), "{out}");
        assert!(
            out.contains("  # the image\n  debian {\n    package = \"linux-image-6.1.0-50-amd64-unsigned\"\n"),
            "{out}"
        );
        assert!(out.contains("    sha256  = \"dddd\"\n  }\n}\n"), "{out}");
        assert!(!out.contains("aaaa") && !out.contains("second"), "{out}");
        assert!(out.ends_with("kernel \"5.10\" {\n  debian {\n    package = \"x\"\n    suite = \"bullseye\"\n    sha256 = \"cccc\"\n  }\n}\n"), "{out}");
    }

    #[test]
    fn a_new_version_is_appended_and_a_split_kernel_gets_every_part() {
        let out = edit(
            CATALOG,
            "7.2",
            "7.2.13+deb14-amd64",
            &[part("a", "1111"), part("b", "2222")],
        )
        .unwrap();
        assert!(out.starts_with(CATALOG.trim_end()), "{out}");
        let tail = &out[CATALOG.trim_end().len()..];
        assert!(
            tail.contains("kernel \"7.2\" {\n  release = \"7.2.13+deb14-amd64\"\n  debian {\n    package = \"a\""),
            "{tail}"
        );
        assert_eq!(tail.matches("debian {").count(), 2, "{tail}");
        parse(&out).unwrap();
    }

    #[test]
    fn a_kernel_without_release_or_parts_gets_both() {
        let text = "schema_version = \"1.0\"\nkernel \"6.12\" {\n  nixpkgs = \"linuxPackages_6_12\"\n}\n";
        let out = edit(text, "6.12", "6.12.117+deb13-amd64", &[part("p", "eeee")]).unwrap();
        assert!(out.contains("  nixpkgs = \"linuxPackages_6_12\"\n"), "{out}");
        assert!(out.contains("release = \"6.12.117+deb13-amd64\""), "{out}");
        assert!(out.contains("package = \"p\""), "{out}");
        parse(&out).unwrap();
    }

    #[test]
    fn an_invalid_catalog_is_a_usage_error() {
        let err = edit("kernel \"6.1\" {", "6.1", "r", &[part("p", "e")]).unwrap_err();
        assert_eq!(crate::error::exit_of(&err), Exit::Usage);
    }
}
