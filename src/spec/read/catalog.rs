//! The build and kernel catalogs: `toolchain { }`, `program "NAME" { }`, `kernel "VERSION" { }`,
//! `image "NAME" { }`.

use super::fields::{At, Cx, Fields};
use crate::spec::model::{KernelSpec, ProgramSpec, SourceSpec, Specs, ToolchainSpec};
use crate::spec::syntax::Block;

/// The BPF targets clang knows.
const TARGETS: [&str; 3] = ["bpf", "bpfel", "bpfeb"];

pub fn read(cx: &mut Cx, top: &Fields, out: &mut Specs) {
    for b in top.blocks("toolchain") {
        if let Some(t) = toolchain(cx, b) {
            out.toolchains.push(t);
        }
    }
    for b in top.blocks("program") {
        if let Some(p) = program(cx, b) {
            out.programs.push(p);
        }
    }
    for b in top.blocks("kernel") {
        if let Some(k) = kernel(cx, b) {
            out.kernels.push(k);
        }
    }
    for b in top.blocks("image") {
        if let Some(i) = super::image::read(cx, b) {
            out.images.push(i);
        }
    }
}

fn toolchain(cx: &mut Cx, b: &Block) -> Option<ToolchainSpec> {
    cx.labels(b, 0, "toolchain { clang_version = \"14\" }");
    let f = Fields::body("toolchain", b.ident.span.clone(), &b.body);
    f.check(cx, &[], &[]);
    let clang_major = f.require(cx, "clang_version", "clang_version = \"14\"").and_then(|e| {
        let d = cx.deref(e)?;
        let s = match &d.kind {
            crate::spec::syntax::Kind::Num(n) => n.clone(),
            _ => cx.string(&d, "clang_version")?,
        };
        let major = s
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .filter(|m| (3..=99).contains(m));
        if major.is_none() {
            cx.error(
                e.span.clone(),
                format!("`clang_version` \"{s}\" is not a clang version"),
                "write the major version, e.g. clang_version = \"14\"",
            );
        }
        major
    });
    let clang = f.get("clang").and_then(|e| cx.name(e, "clang")).map(|a| a.value);
    let clang_sha256 = f.get("clang_sha256").and_then(|e| cx.sha256(e, "clang_sha256"));
    let target = f.get("target").and_then(|e| {
        let t = cx.string(e, "target")?;
        if !TARGETS.contains(&t.as_str()) {
            cx.error(
                e.span.clone(),
                format!("unknown BPF target \"{t}\""),
                "use \"bpf\" (host endianness), \"bpfel\" or \"bpfeb\"",
            );
            return None;
        }
        Some(t)
    });
    let cflags = f.get("cflags").and_then(|e| cx.strings(e, "cflags"));
    let include_dirs = f
        .get("include_dirs")
        .and_then(|e| cx.strings(e, "include_dirs"))
        .unwrap_or_default();
    let out_dir = f.get("out_dir").and_then(|e| cx.name(e, "out_dir")).map(|a| a.value);
    Some(ToolchainSpec {
        loc: cx.loc(b.ident.span.clone()),
        clang_major: clang_major?,
        clang,
        clang_sha256,
        target,
        cflags,
        include_dirs,
        out_dir,
    })
}

fn program(cx: &mut Cx, b: &Block) -> Option<ProgramSpec> {
    let label = cx.labels(b, 1, "program \"NAME\" { source = \"ebpf/NAME.c\" }")?[0].clone();
    let f = Fields::body("program", b.ident.span.clone(), &b.body);
    f.check(cx, &[], &[]);
    if label.text.is_empty()
        || !label
            .text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        cx.error(
            label.span.clone(),
            format!("\"{}\" is not a valid program name", label.text),
            "use letters, digits, `_` and `-`: the object is written as NAME.o",
        );
        return None;
    }
    let source = f
        .require(cx, "source", "source = \"ebpf/NAME.c\"")
        .and_then(|e| cx.name(e, "source"))
        .map(|a| a.value);
    let cflags = f
        .get("cflags")
        .and_then(|e| cx.strings(e, "cflags"))
        .unwrap_or_default();
    Some(ProgramSpec {
        name: At {
            value: label.text,
            loc: cx.loc(label.span),
        },
        source: source?,
        cflags,
    })
}

fn kernel(cx: &mut Cx, b: &Block) -> Option<KernelSpec> {
    let label = cx.labels(b, 1, "kernel \"6.1\" { debian { ... } }")?[0].clone();
    let f = Fields::body("kernel", b.ident.span.clone(), &b.body);
    f.check(cx, &["debian", "ubuntu", "url", "file"], &["debian", "ubuntu", "url", "file"]);
    let version_expr = crate::spec::syntax::Expr {
        kind: crate::spec::syntax::Kind::Str(vec![crate::spec::syntax::Part::Lit(label.text.clone())]),
        span: label.span.clone(),
    };
    let version = cx.version(&version_expr, "kernel");
    let release = f.get("release").and_then(|e| cx.name(e, "release")).map(|a| a.value);
    let nixpkgs = f.get("nixpkgs").and_then(|e| cx.name(e, "nixpkgs")).map(|a| a.value);
    let mut sources = Vec::new();
    for d in f.blocks("debian") {
        cx.labels(
            d,
            0,
            "debian { ... } with package = \"...\", suite = \"bookworm\" and sha256 = \"...\", one per line",
        );
        let df = Fields::body("debian", d.ident.span.clone(), &d.body);
        df.check(cx, &[], &[]);
        let package = df
            .require(cx, "package", "package = \"linux-image-...\"")
            .and_then(|e| cx.name(e, "package"));
        let version = df.get("version").and_then(|e| cx.name(e, "version")).map(|a| a.value);
        let suite = df
            .require(cx, "suite", "suite = \"bookworm\"")
            .and_then(|e| cx.name(e, "suite"));
        let sha256 = df
            .require(cx, "sha256", "sha256 = \"<64 hex digits>\"")
            .and_then(|e| cx.sha256(e, "sha256"));
        if let (Some(package), Some(suite), Some(sha256)) = (package, suite, sha256) {
            sources.push(SourceSpec::Debian {
                package: package.value,
                version,
                suite: suite.value,
                sha256,
            });
        }
    }
    for d in f.blocks("ubuntu") {
        cx.labels(
            d,
            0,
            "ubuntu { ... } with package = \"...\", version = \"...\" and suite = \"jammy-updates\", one per line",
        );
        let df = Fields::body("ubuntu", d.ident.span.clone(), &d.body);
        df.check(cx, &[], &[]);
        let package = df
            .require(cx, "package", "package = \"linux-image-unsigned-...-generic\"")
            .and_then(|e| cx.name(e, "package"));
        let version = df.get("version").and_then(|e| cx.name(e, "version")).map(|a| a.value);
        let suite = df
            .require(cx, "suite", "suite = \"jammy-updates\"")
            .and_then(|e| cx.name(e, "suite"));
        // Optional: an Ubuntu part may be listed before anyone could hash it (the archive is out
        // of reach from some machines); it is then unpinned, and never used until pinned.
        let sha256 = df.get("sha256").and_then(|e| cx.sha256(e, "sha256"));
        if let (Some(package), Some(suite)) = (package, suite) {
            sources.push(SourceSpec::Ubuntu {
                package: package.value,
                version,
                suite: suite.value,
                sha256,
            });
        }
    }
    for u in f.blocks("url") {
        cx.labels(u, 0, "url { ... } with url = \"https://...\" and sha256 = \"...\", one per line");
        let uf = Fields::body("url", u.ident.span.clone(), &u.body);
        uf.check(cx, &[], &[]);
        let url = uf.require(cx, "url", "url = \"https://...\"").and_then(|e| {
            let s = cx.name(e, "url")?.value;
            if !(s.starts_with("https://") || s.starts_with("http://")) {
                cx.error(
                    e.span.clone(),
                    format!("\"{s}\" is not an http(s) URL"),
                    "write a full URL, or use a `file { path sha256 }` block for a file on disk",
                );
                return None;
            }
            Some(s)
        });
        let sha256 = uf
            .require(cx, "sha256", "sha256 = \"<64 hex digits>\"")
            .and_then(|e| cx.sha256(e, "sha256"));
        if let (Some(url), Some(sha256)) = (url, sha256) {
            sources.push(SourceSpec::Url { url, sha256 });
        }
    }
    for p in f.blocks("file") {
        cx.labels(p, 0, "file { ... } with path = \"...\" and sha256 = \"...\", one per line");
        let pf = Fields::body("kernel file", p.ident.span.clone(), &p.body);
        pf.check(cx, &[], &[]);
        let path = pf
            .require(cx, "path", "path = \"kernels/vmlinuz\"")
            .and_then(|e| cx.name(e, "path"));
        let sha256 = pf
            .require(cx, "sha256", "sha256 = \"<64 hex digits>\"")
            .and_then(|e| cx.sha256(e, "sha256"));
        if let (Some(path), Some(sha256)) = (path, sha256) {
            sources.push(SourceSpec::File {
                path: path.value,
                sha256,
                dir: cx.src.dir(),
            });
        }
    }
    Some(KernelSpec {
        version: At {
            value: version?,
            loc: cx.loc(label.span),
        },
        release,
        nixpkgs,
        sources,
    })
}
