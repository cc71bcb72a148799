//! `vm { name image kernel resources { } mounts provision artifacts network modules workdir }`.

use super::fields::{Cx, Fields};
use crate::spec::model::{ArtifactSpec, MountSpec, VmSpec};
use crate::spec::syntax::{Block, Expr, Kind};

/// Default tmpfs size when a tmpfs mount gives none.
pub const DEFAULT_TMPFS_MIB: u64 = 512;

pub fn read(cx: &mut Cx, b: &Block) -> Option<VmSpec> {
    cx.labels(b, 0, "vm { name = \"...\" ... }");
    let f = Fields::body("vm", b.ident.span.clone(), &b.body);
    f.check(cx, &["resources"], &[]);
    let name = f
        .require(cx, "name", "name = \"my-vm\"")
        .and_then(|e| cx.name(e, "name"));
    let image = f.get("image").and_then(|e| cx.name(e, "image"));
    let kernel = f.get("kernel").and_then(|e| {
        cx.version(e, "kernel").map(|v| super::fields::At {
            value: v,
            loc: cx.loc(e.span.clone()),
        })
    });
    let (mut cpus, mut memory_mib, mut disk_mib) = (None, None, None);
    if let Some(r) = f.blocks("resources").first() {
        cx.labels(r, 0, "resources { ... } with one setting per line (cpu = 2, memory = \"1GB\")");
        let rf = Fields::body("resources", r.ident.span.clone(), &r.body);
        rf.check(cx, &[], &[]);
        if let Some(e) = rf.get("cpu") {
            cpus = cx.int(e, "cpu").and_then(|n| match u32::try_from(n) {
                Ok(n) if (1..=256).contains(&n) => Some(n),
                _ => {
                    cx.error(
                        e.span.clone(),
                        format!("`cpu` must be between 1 and 256, found {n}"),
                        "give the number of virtual CPUs, e.g. cpu = 2",
                    );
                    None
                }
            });
        }
        memory_mib = rf.get("memory").and_then(|e| cx.size(e, "memory"));
        disk_mib = rf.get("disk").and_then(|e| cx.size(e, "disk"));
    }
    let mounts = f.get("mounts").map(|e| read_mounts(cx, e)).unwrap_or_default();
    let provision = f
        .get("provision")
        .and_then(|e| cx.strings(e, "provision"))
        .unwrap_or_default();
    let artifacts = f.get("artifacts").map(|e| read_artifacts(cx, e)).unwrap_or_default();
    let network = f.get("network").and_then(|e| cx.bool(e, "network"));
    let modules = f
        .get("modules")
        .and_then(|e| cx.strings(e, "modules"))
        .unwrap_or_default();
    for (i, m) in modules.iter().enumerate() {
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            let span = f.get("modules").map(|e| element_span(e, i)).unwrap_or_default();
            cx.error(
                span,
                format!("\"{m}\" is not a kernel module name"),
                "write the module's name as modprobe takes it, e.g. \"veth\"",
            );
        }
    }
    let workdir = f.get("workdir").and_then(|e| {
        let w = cx.string(e, "workdir")?;
        if !w.starts_with('/') {
            cx.error(
                e.span.clone(),
                format!("`workdir` \"{w}\" is not an absolute guest path"),
                "write where the VM's commands start as an absolute path in the guest, e.g. workdir = \"/flywall\"",
            );
            return None;
        }
        Some(w)
    });
    Some(VmSpec {
        name: name?,
        image,
        kernel,
        cpus,
        memory_mib,
        disk_mib,
        mounts,
        provision,
        artifacts,
        network,
        modules,
        workdir,
    })
}

/// The span of a list's i-th element, or the list's own.
fn element_span(e: &Expr, i: usize) -> std::ops::Range<usize> {
    match &e.kind {
        Kind::Array(items) => items.get(i).map(|x| x.span.clone()).unwrap_or(e.span.clone()),
        _ => e.span.clone(),
    }
}

fn read_mounts(cx: &mut Cx, e: &Expr) -> Vec<MountSpec> {
    let mut out = Vec::new();
    let mut destinations: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in cx.list(e, "mounts").unwrap_or_default() {
        let Kind::Object(attrs) = &item.kind else {
            let msg = format!("each mount must be an object, found {}", item.kind.type_name());
            cx.error(item.span.clone(), msg, "write { source = \"..\", destination = \"/src\" } or { type = \"tmpfs\", destination = \"/tmp/x\", size = \"1GB\" }");
            continue;
        };
        let f = Fields::object("mount", item.span.clone(), attrs);
        f.check(cx, &[], &[]);
        let kind = match f.get("type") {
            None => Some("share".to_string()),
            Some(t) => cx.string(t, "type").and_then(|s| match s.as_str() {
                "share" | "9p" | "tmpfs" => Some(s),
                other => {
                    let hint = match crate::spec::diag::did_you_mean(other, ["share", "tmpfs"]) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => {
                            "a mount is a host folder (type = \"share\", the default) or a tmpfs (type = \"tmpfs\")"
                                .into()
                        }
                    };
                    cx.error(t.span.clone(), format!("unknown mount type \"{other}\""), hint);
                    None
                }
            }),
        };
        let dest_expr = f.require(cx, "destination", "destination = \"/path/in/guest\"");
        let destination = dest_expr.and_then(|d| cx.guest_path(d, "destination"));
        if let (Some(d), Some(de)) = (&destination, dest_expr) {
            if let Some(line) = destinations.get(d) {
                let msg = format!("two mounts share the destination \"{d}\" (first at line {line})");
                cx.error(de.span.clone(), msg, "give each mount its own destination");
            }
            let line = cx.line_of(&de.span);
            destinations.entry(d.clone()).or_insert(line);
        }
        match kind.as_deref() {
            Some("tmpfs") => {
                if let Some(s) = f.key("source") {
                    cx.error(
                        s.span.clone(),
                        "a tmpfs mount has no `source`",
                        "remove `source`, or drop `type = \"tmpfs\"` to share a host folder",
                    );
                }
                if let Some(r) = f.key("readonly") {
                    cx.error(
                        r.span.clone(),
                        "a tmpfs mount is always writable; `readonly` does not apply",
                        "remove `readonly`",
                    );
                }
                let size_mib = f
                    .get("size")
                    .map(|s| cx.size(s, "size"))
                    .unwrap_or(Some(DEFAULT_TMPFS_MIB));
                if let (Some(destination), Some(size_mib)) = (destination, size_mib) {
                    out.push(MountSpec::Tmpfs { destination, size_mib });
                }
            }
            Some(_) => {
                if let Some(s) = f.key("size") {
                    cx.error(
                        s.span.clone(),
                        "only a tmpfs mount has a `size`",
                        "remove `size`, or add `type = \"tmpfs\"`",
                    );
                }
                let source = f.require(
                    cx,
                    "source",
                    "source = \"..\" (a host folder, relative to this file's folder)",
                );
                let source = source.and_then(|s| cx.name(s, "source")).map(|s| s.value);
                let readonly = f.get("readonly").map(|r| cx.bool(r, "readonly")).unwrap_or(Some(true));
                if let (Some(source), Some(destination), Some(readonly)) = (source, destination, readonly) {
                    out.push(MountSpec::Share {
                        source,
                        destination,
                        readonly,
                    });
                }
            }
            None => {}
        }
    }
    out
}

fn read_artifacts(cx: &mut Cx, e: &Expr) -> Vec<ArtifactSpec> {
    let mut out = Vec::new();
    for item in cx.list(e, "artifacts").unwrap_or_default() {
        let Kind::Object(attrs) = &item.kind else {
            let msg = format!("each artifact must be an object, found {}", item.kind.type_name());
            cx.error(
                item.span.clone(),
                msg,
                "write { source = \"/guest/path\", destination = \"host/path\" }",
            );
            continue;
        };
        let f = Fields::object("artifact", item.span.clone(), attrs);
        f.check(cx, &[], &[]);
        let source = f
            .require(cx, "source", "source = \"/path/in/guest\"")
            .and_then(|s| cx.guest_path(s, "source"));
        let destination = f
            .require(
                cx,
                "destination",
                "destination = \"../build/out\" (a host path, relative to this file's folder)",
            )
            .and_then(|d| {
                let s = cx.name(d, "destination")?.value;
                configs_relative_warning(cx, d, &s);
                Some(s)
            });
        if let (Some(source), Some(destination)) = (source, destination) {
            out.push(ArtifactSpec { source, destination });
        }
    }
    out
}

/// An artifact destination resolves against the spec file's folder, like a mount's `source`. In
/// a folder named `configs` (where a project keeps its specs), `"build/ebpf"` lands in
/// `configs/build/ebpf`, which was most likely meant as the project's `build/ebpf`: say so, once
/// per destination. `"./build/ebpf"` says the spec folder is meant, and is not warned about.
fn configs_relative_warning(cx: &mut Cx, d: &Expr, dest: &str) {
    let in_configs = std::path::absolute(&cx.src.path)
        .ok()
        .as_deref()
        .and_then(std::path::Path::parent)
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "configs");
    let first = dest.split('/').next().unwrap_or_default();
    if !in_configs || dest.starts_with('/') || first == ".." || first == "." {
        return;
    }
    cx.warn(
        &d.span,
        format!(
            "artifact destination \"{dest}\" is relative to this file's folder: it lands in configs/{dest}; \
             write \"../{dest}\" for the project's {dest}, or \"./{dest}\" to keep configs/{dest} and silence this"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::super::pipeline::tests::load;

    #[test]
    fn workdir_is_read_and_must_be_absolute() {
        let (specs, diags) = load("schema_version = \"1.0\"\nvm {\n  name = \"b\"\n  workdir = \"/flywall\"\n}\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(specs.vms[0].workdir.as_deref(), Some("/flywall"));
        let (specs, diags) = load("schema_version = \"1.0\"\nvm {\n  name = \"b\"\n}\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(specs.vms[0].workdir, None);
        let (_, diags) = load("schema_version = \"1.0\"\nvm {\n  name = \"b\"\n  workdir = \"flywall\"\n}\n");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!((diags[0].file.as_str(), diags[0].line, diags[0].column), ("spec.hcl", 4, 13));
        assert!(diags[0].message.contains("not an absolute guest path"), "{diags:?}");
        assert!(diags[0].hint.as_deref().unwrap().contains("workdir = \"/flywall\""));
    }

    #[test]
    fn an_artifact_destination_is_kept_as_written_and_warned_about_only_in_configs() {
        let spec = "schema_version = \"1.0\"\nvm {\n  name = \"b\"\n  artifacts = [\n    { source = \"/o\", destination = \"build/ebpf\" },\n    { source = \"/o\", destination = \"../build/x\" },\n    { source = \"/o\", destination = \"./here\" },\n    { source = \"/o\", destination = \"/abs/y\" },\n  ]\n}\n";
        // Anywhere but in a folder named configs: no warning; `..` is no error.
        let (specs, diags) = load(spec);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(specs.warnings.is_empty(), "{:?}", specs.warnings);
        let dests: Vec<&str> = specs.vms[0].artifacts.iter().map(|a| a.destination.as_str()).collect();
        assert_eq!(dests, ["build/ebpf", "../build/x", "./here", "/abs/y"]);
        // In configs/: the one destination that lands in configs/ without saying so.
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("configs")).unwrap();
        let path = d.path().join("configs/b.hcl");
        std::fs::write(&path, spec).unwrap();
        let (specs, diags) = crate::spec::load(&[crate::spec::Input {
            path,
            display: "configs/b.hcl".into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(specs.warnings.len(), 1, "{:?}", specs.warnings);
        let w = &specs.warnings[0];
        assert!(w.starts_with("configs/b.hcl:5:36: artifact destination \"build/ebpf\""), "{w}");
        assert!(w.contains("lands in configs/build/ebpf") && w.contains("\"../build/ebpf\""), "{w}");
    }
}
