//! `orca gen`: the plan, rendered as the JSON files `flake.nix` reads.
//!
//! The flake never parses HCL (that would need import-from-derivation). Instead orca writes
//! `nix/generated/*.json` from the plan and the files are committed; CI runs `orca gen --check` so
//! they cannot drift from `configs/`. Output is deterministic: sorted keys, two-space indent, one
//! trailing newline, so a diff of a stale file shows exactly what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::error::Exit;
use crate::fail;
use crate::plan::{Cell, ImageKind, Plan, Program, Toolchain};

/// Where the generated files live, project-relative.
pub const GENERATED_DIR: &str = "nix/generated";

/// One file `orca gen` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFile {
    /// Project-relative path, e.g. `nix/generated/toolchain.json`.
    pub path: PathBuf,
    pub contents: String,
}

/// A generated file whose committed copy differs from what the plan gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub path: PathBuf,
    /// A unified diff from the committed file to the generated one.
    pub diff: String,
}

/// Renders every generated file from the plan, in a fixed order.
pub fn render(plan: &Plan) -> Result<Vec<GeneratedFile>> {
    let file = |name: &str, value: Value| GeneratedFile {
        path: Path::new(GENERATED_DIR).join(name),
        contents: to_json(&value),
    };
    Ok(vec![
        file("toolchain.json", toolchain(plan.toolchain.as_ref())),
        file(
            "programs.json",
            Value::Array(plan.programs.iter().map(program).collect()),
        ),
        file("kernels.json", kernels(plan)),
        file("matrix.json", matrix(plan)?),
        file("images.json", images(plan)),
    ])
}

/// Writes the files that differ from what is on disk, and removes `.json` files in the generated
/// directory that orca no longer writes. Returns the paths it changed.
pub fn write(root: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for f in files {
        let abs = root.join(&f.path);
        if std::fs::read_to_string(&abs).ok().as_deref() != Some(f.contents.as_str()) {
            crate::paths::write_atomic(&abs, f.contents.as_bytes())?;
            changed.push(f.path.clone());
        }
    }
    for extra in leftovers(root, files)? {
        std::fs::remove_file(root.join(&extra)).with_context(|| format!("removing {}", extra.display()))?;
        changed.push(extra);
    }
    Ok(changed)
}

/// Compares the files on disk with the generated ones; empty when they are in sync.
pub fn check(root: &Path, files: &[GeneratedFile]) -> Result<Vec<Stale>> {
    let mut stale = Vec::new();
    for f in files {
        let committed = match std::fs::read_to_string(root.join(&f.path)) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", f.path.display())),
        };
        if committed != f.contents {
            stale.push(Stale {
                path: f.path.clone(),
                diff: diff(&f.path, &committed, &f.contents),
            });
        }
    }
    for extra in leftovers(root, files)? {
        let old = std::fs::read_to_string(root.join(&extra)).unwrap_or_default();
        stale.push(Stale {
            diff: diff(&extra, &old, ""),
            path: extra,
        });
    }
    Ok(stale)
}

/// `.json` files in the generated directory that `files` does not contain.
fn leftovers(root: &Path, files: &[GeneratedFile]) -> Result<Vec<PathBuf>> {
    let dir = root.join(GENERATED_DIR);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| Path::new(GENERATED_DIR).join(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !files.iter().any(|f| &f.path == p))
        .collect();
    out.sort();
    Ok(out)
}

fn diff(path: &Path, old: &str, new: &str) -> String {
    let a = format!("a/{}", path.display());
    let b = format!("b/{}", path.display());
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string()
}

/// Pretty JSON with sorted keys (serde_json's map is ordered by key) and a trailing newline.
fn to_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("a serde_json::Value always serializes");
    s.push('\n');
    s
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn toolchain(t: Option<&Toolchain>) -> Value {
    let Some(t) = t else { return Value::Null };
    // Absolute include dirs are the host's (Debian keeps asm/ in /usr/include/<multiarch>); the
    // flake gives clang linuxHeaders and libbpf instead, so only project-relative dirs carry over.
    let (project, host): (Vec<&PathBuf>, Vec<&PathBuf>) = t.include_dirs.iter().partition(|d| d.is_relative());
    json!({
        "clang_major": t.clang_major,
        "target": t.target,
        "cflags": t.cflags,
        "include_dirs": project.iter().map(|d| path_str(d)).collect::<Vec<_>>(),
        "host_include_dirs": host.iter().map(|d| path_str(d)).collect::<Vec<_>>(),
        "out_dir": path_str(&t.out_dir),
    })
}

fn program(p: &Program) -> Value {
    json!({
        "name": p.name,
        "source": path_str(&p.source),
        "object": path_str(&p.object),
        "cflags": p.cflags,
    })
}

fn kernels(plan: &Plan) -> Value {
    let map: serde_json::Map<String, Value> = plan
        .kernels
        .iter()
        .map(|k| (k.version.clone(), json!({ "nixpkgs": k.nixpkgs, "release": k.release })))
        .collect();
    Value::Object(map)
}

/// The check attribute a cell becomes in the flake: `matrix-` and the id with `.` as `_` and
/// anything else outside `[A-Za-z0-9_-]` as `-`, so that `nix build .#checks.<system>.<attr>`
/// needs no quoting (`6.1/0` → `matrix-6_1-0`).
pub fn check_attr(cell_id: &str) -> String {
    let safe: String = cell_id
        .chars()
        .map(|c| match c {
            '.' => '_',
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => c,
            _ => '-',
        })
        .collect();
    format!("matrix-{safe}")
}

fn matrix(plan: &Plan) -> Result<Value> {
    let Some(m) = &plan.matrix else {
        return Ok(json!({
            "file": null, "timeout_secs": null, "expectations": [], "cells": [],
            "commands": [], "results": [], "vm": null,
        }));
    };
    let mut seen = std::collections::BTreeMap::new();
    let mut cells = Vec::new();
    for c in &m.cells {
        let attr = check_attr(&c.id);
        if let Some(other) = seen.insert(attr.clone(), c.id.clone()) {
            return Err(fail!(
                Exit::Usage,
                "{}: cells {other:?} and {:?} both become the flake check {attr:?}",
                m.file.display(),
                c.id
            )
            .context("rendering nix/generated/matrix.json"));
        }
        cells.push(cell(plan, c, attr, m.test.timeout_secs));
    }
    Ok(json!({
        "file": path_str(&m.file),
        "timeout_secs": m.test.timeout_secs,
        // The script every cell runs (one shell, stopping at the first failing line) and the JUnit
        // files it writes, relative to where it runs.
        "commands": m.test.commands,
        "results": m.test.results,
        "vm": m.test.vm.as_deref().and_then(|name| plan.vm(name)).map(guest),
        "expectations": m.test.expectations.iter().map(|e| json!({
            "test": e.test, "min_kernel": e.min_kernel, "reason": e.reason,
        })).collect::<Vec<_>>(),
        "cells": cells,
    }))
}

/// What the flake's NixOS guest takes from the matrix's VM spec: its size, the modules it loads,
/// where the project is shared (the destination of the share of the project root, `source = ".."`
/// from configs/) and where the script starts. A matrix without `vm` writes `null`: its default VM
/// shares the project at `/<folder name>`, which differs between clones, and the flake uses
/// `/project`.
fn guest(vm: &crate::plan::Vm) -> Value {
    let project_dir = vm.mounts.iter().find_map(|m| match m {
        crate::plan::Mount::Share {
            source, destination, ..
        } if source.as_os_str() == "." => Some(destination.clone()),
        _ => None,
    });
    json!({
        "cpus": vm.cpus,
        "memory_mib": vm.memory_mib,
        "modules": vm.modules,
        "project_dir": project_dir,
        "workdir": vm.workdir(),
    })
}

fn cell(plan: &Plan, c: &Cell, attr: String, timeout_secs: u64) -> Value {
    json!({
        "id": c.id,
        "check": attr,
        "name": c.name,
        "image": c.image,
        "kernel": c.kernel,
        "nixpkgs": plan.kernel(&c.kernel).and_then(|k| k.nixpkgs.clone()),
        "command": c.command,
        "timeout_secs": timeout_secs,
    })
}

/// The image catalog (built-in images, the project's `image` blocks, each with its `base` chain
/// folded in) and the VM spec the matrix's cells run in: what `nix/lib/images.nix` maps to
/// nixpkgs' `vmTools` images. `provision` is there because its `apt-get install` lines become the
/// image's package list in Nix (the build sandbox has no network to run them in the VM).
fn images(plan: &Plan) -> Value {
    let images: serde_json::Map<String, Value> = crate::plan::images::catalog(plan)
        .into_iter()
        .map(|i| {
            let v = match &i.kind {
                ImageKind::Host => json!({ "type": "host" }),
                ImageKind::Distro(d) => json!({
                    "type": "distro",
                    "archive": d.archive,
                    "suite": d.suite,
                    "kernel": d.kernel,
                    "packages": d.packages,
                    "mirror": d.mirror,
                    "base": d.base,
                }),
            };
            (i.name, v)
        })
        .collect();
    let vm = plan
        .matrix
        .as_ref()
        .and_then(|m| m.test.vm.as_ref())
        .and_then(|name| plan.vms.iter().find(|v| &v.name == name));
    json!({
        "images": images,
        "matrix_vm": vm.map(|v| json!({
            "name": v.name,
            "provision": v.provision,
            "disk_mib": v.disk_mib,
            "memory_mib": v.memory_mib,
            "cpus": v.cpus,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Expectation, Kernel, Matrix, TestSpec};

    pub(crate) fn sample_plan() -> Plan {
        let kernel = |v: &str, attr: Option<&str>| Kernel {
            version: v.into(),
            release: None,
            sources: vec![],
            nixpkgs: attr.map(String::from),
        };
        let cell = |k: &str| Cell {
            id: format!("k{k}/0"),
            name: format!("k{k}"),
            image: "host".into(),
            kernel: k.into(),
            command: "make test".into(),
            unavailable: None,
        };
        Plan {
            toolchain: Some(Toolchain {
                clang_major: 14,
                clang: None,
                clang_sha256: None,
                target: "bpf".into(),
                cflags: vec!["-O2".into(), "-g".into()],
                include_dirs: vec!["ebpf/include".into(), "/usr/include/x86_64-linux-gnu".into()],
                out_dir: "build/ebpf".into(),
            }),
            programs: vec![Program {
                name: "xdp_drop".into(),
                source: "ebpf/xdp_drop.c".into(),
                object: "build/ebpf/xdp_drop.o".into(),
                cflags: vec![],
            }],
            kernels: vec![kernel("5.10", Some("linuxPackages_5_10")), kernel("7.2", None)],
            matrix: Some(Matrix {
                file: "configs/ebpf-test-matrix.hcl".into(),
                test: TestSpec {
                    results: vec![],
                    cache: true,
                    parallel: true,
                    timeout_secs: 600,
                    commands: vec!["make test".into()],
                    vm: None,
                    expectations: vec![Expectation {
                        test: "cgroup_count/*".into(),
                        min_kernel: "5.17".into(),
                        reason: Some("uses bpf_loop".into()),
                    }],
                },
                cells: vec![cell("5.10"), cell("7.2")],
            }),
            ..Plan::default()
        }
    }

    #[test]
    fn host_include_dirs_are_split_off() {
        let files = render(&sample_plan()).unwrap();
        let tc: Value = serde_json::from_str(&files[0].contents).unwrap();
        assert_eq!(tc["include_dirs"], json!(["ebpf/include"]));
        assert_eq!(tc["host_include_dirs"], json!(["/usr/include/x86_64-linux-gnu"]));
        assert_eq!(tc["clang_major"], json!(14));
    }

    #[test]
    fn output_is_sorted_and_ends_in_one_newline() {
        for f in render(&sample_plan()).unwrap() {
            assert!(
                f.contents.ends_with("}\n") || f.contents.ends_with("]\n"),
                "{}",
                f.path.display()
            );
            assert!(!f.contents.ends_with("\n\n"));
        }
        let tc = &render(&sample_plan()).unwrap()[0].contents;
        let keys: Vec<&str> = tc
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split_once("\": ").map(|(k, _)| k))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn cells_carry_the_catalog_attribute_or_null() {
        let files = render(&sample_plan()).unwrap();
        let m: Value = serde_json::from_str(&files[3].contents).unwrap();
        assert_eq!(m["cells"][0]["nixpkgs"], json!("linuxPackages_5_10"));
        assert_eq!(m["cells"][0]["check"], json!("matrix-k5_10-0"));
        assert_eq!(m["cells"][1]["nixpkgs"], Value::Null);
        assert_eq!(m["expectations"][0]["min_kernel"], json!("5.17"));
    }

    #[test]
    fn images_carry_the_catalog_and_the_matrix_vms_provision() {
        let mut plan = sample_plan();
        let m: Value = serde_json::from_str(&render(&plan).unwrap()[4].contents).unwrap();
        assert_eq!(m["images"]["host"], json!({ "type": "host" }));
        assert_eq!(m["images"]["debian-12"]["suite"], json!("bookworm"));
        assert_eq!(m["images"]["debian-12-minimal"]["packages"], json!([]));
        assert_eq!(m["images"]["ubuntu-20.04"]["archive"], json!("ubuntu"));
        assert_eq!(m["matrix_vm"], Value::Null, "no test.vm, no VM");

        let mut vm = crate::plan::Vm::default_for_tests(std::path::Path::new("/p"));
        vm.name = "builder".into();
        vm.provision = vec!["apt-get update".into(), "apt-get install -y clang".into()];
        vm.disk_mib = Some(20480);
        plan.vms.push(vm);
        plan.matrix.as_mut().unwrap().test.vm = Some("builder".into());
        let m: Value = serde_json::from_str(&render(&plan).unwrap()[4].contents).unwrap();
        assert_eq!(m["matrix_vm"]["provision"][1], json!("apt-get install -y clang"));
        assert_eq!(m["matrix_vm"]["disk_mib"], json!(20480));
    }

    #[test]
    fn check_attrs_need_no_quoting() {
        assert_eq!(check_attr("6.1/0"), "matrix-6_1-0");
        assert_eq!(check_attr("debian 6.12/3"), "matrix-debian-6_12-3");
    }

    #[test]
    fn colliding_check_attrs_are_refused() {
        let mut plan = sample_plan();
        let m = plan.matrix.as_mut().unwrap();
        m.cells[1].id = "k5.10/0".into();
        m.cells[0].id = "k5_10/0".into();
        let err = render(&plan).unwrap_err();
        assert!(format!("{err:#}").contains("both become the flake check"), "{err:#}");
    }

    #[test]
    fn check_finds_stale_missing_and_leftover_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = render(&sample_plan()).unwrap();
        assert_eq!(check(dir.path(), &files).unwrap().len(), files.len(), "all missing");
        assert_eq!(write(dir.path(), &files).unwrap().len(), files.len());
        assert!(check(dir.path(), &files).unwrap().is_empty());
        assert!(
            write(dir.path(), &files).unwrap().is_empty(),
            "nothing rewritten when in sync"
        );

        let mut plan = sample_plan();
        plan.toolchain.as_mut().unwrap().clang_major = 19;
        let newer = render(&plan).unwrap();
        let stale = check(dir.path(), &newer).unwrap();
        assert_eq!(stale.len(), 1);
        assert!(stale[0].diff.contains("-  \"clang_major\": 14,"), "{}", stale[0].diff);
        assert!(stale[0].diff.contains("+  \"clang_major\": 19,"), "{}", stale[0].diff);
        assert!(
            stale[0].diff.starts_with("--- a/nix/generated/toolchain.json"),
            "{}",
            stale[0].diff
        );

        std::fs::write(dir.path().join(GENERATED_DIR).join("old.json"), "{}\n").unwrap();
        let stale = check(dir.path(), &files).unwrap();
        assert_eq!(
            stale.iter().map(|s| s.path.clone()).collect::<Vec<_>>(),
            vec![PathBuf::from("nix/generated/old.json")]
        );
        write(dir.path(), &files).unwrap();
        assert!(!dir.path().join("nix/generated/old.json").exists());
    }
}
