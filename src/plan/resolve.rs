//! Spec model → plan: defaults applied, paths made project-relative, matrix cells expanded,
//! pipeline order computed, and every reference this host cannot resolve listed in `unresolved`.
//!
//! Resolution cannot fail: the spec layer has already refused everything malformed. Unknown
//! images, kernels and VMs are not spec errors (the spec may be right and the host lacking), so
//! they become `unresolved` entries and unavailable cells.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use super::types::*;
use crate::spec::graph::topo_order;
use crate::spec::model::{MountSpec, SourceSpec, Specs};

pub use super::types::{DEFAULT_CPUS, DEFAULT_MEMORY_MIB};
/// Default deadline of one matrix cell, seconds (under KVM; scaled under TCG).
pub const DEFAULT_CELL_TIMEOUT_SECS: u64 = 600;
/// Default deadline of one pipeline stage, seconds.
pub const DEFAULT_STAGE_TIMEOUT_SECS: u64 = 1800;
/// Default object directory.
pub const DEFAULT_OUT_DIR: &str = "build/ebpf";

/// Resolves a checked model. `root` is the project root that plan paths are relative to.
pub fn resolve(specs: &Specs, root: &Path) -> Plan {
    let rel = |p: &Path| relative_to(root, p);
    let mut plan = Plan {
        base: root.to_path_buf(),
        files: specs
            .files
            .iter()
            .filter(|f| !crate::spec::is_builtin(f))
            .map(|f| rel(&f.path))
            .collect(),
        ..Plan::default()
    };

    plan.toolchain = specs.toolchains.first().map(|t| Toolchain {
        clang_major: t.clang_major,
        clang: t.clang.clone(),
        clang_sha256: t.clang_sha256.clone(),
        target: t.target.clone().unwrap_or_else(|| "bpf".into()),
        cflags: t.cflags.clone().unwrap_or_else(|| vec!["-O2".into(), "-g".into()]),
        include_dirs: t.include_dirs.iter().map(PathBuf::from).collect(),
        out_dir: PathBuf::from(t.out_dir.as_deref().unwrap_or(DEFAULT_OUT_DIR)),
    });
    let out_dir = plan
        .toolchain
        .as_ref()
        .map(|t| t.out_dir.clone())
        .unwrap_or_else(|| DEFAULT_OUT_DIR.into());
    plan.programs = specs
        .programs
        .iter()
        .map(|p| Program {
            name: p.name.value.clone(),
            source: PathBuf::from(&p.source),
            object: out_dir.join(format!("{}.o", p.name.value)),
            cflags: p.cflags.clone(),
        })
        .collect();

    plan.kernels = specs
        .kernels
        .iter()
        .map(|k| Kernel {
            version: k.version.value.clone(),
            release: k.release.clone(),
            nixpkgs: k.nixpkgs.clone(),
            sources: k
                .sources
                .iter()
                .map(|s| match s {
                    SourceSpec::Debian {
                        package,
                        version,
                        suite,
                        sha256,
                    } => KernelSource::Debian {
                        package: package.clone(),
                        version: version.clone(),
                        suite: suite.clone(),
                        sha256: sha256.clone(),
                    },
                    SourceSpec::Ubuntu {
                        package,
                        version,
                        suite,
                        sha256,
                    } => KernelSource::Ubuntu {
                        package: package.clone(),
                        version: version.clone(),
                        suite: suite.clone(),
                        sha256: sha256.clone(),
                    },
                    SourceSpec::Url { url, sha256 } => KernelSource::Url {
                        url: url.clone(),
                        sha256: sha256.clone(),
                    },
                    SourceSpec::File { path, sha256, dir } => KernelSource::File {
                        path: rel(&dir.join(path)),
                        sha256: sha256.clone(),
                    },
                })
                .collect(),
        })
        .collect();

    plan.kernel_origins = specs
        .kernels
        .iter()
        .map(|k| {
            let f = &specs.files[k.version.loc.file];
            let origin = if crate::spec::is_builtin(f) {
                crate::spec::BUILTIN.to_string()
            } else {
                rel(&f.path).display().to_string()
            };
            (k.version.value.clone(), origin)
        })
        .collect();

    // The plan holds the images its specs declare or use; `images::catalog` has the rest.
    let used: HashSet<&str> = specs
        .vms
        .iter()
        .filter_map(|v| v.image.as_ref())
        .chain(specs.matrices.iter().flat_map(|m| m.entries.iter().map(|e| &e.image)))
        .map(|i| i.value.as_str())
        .collect();
    plan.images = super::images::resolve_all(&specs.images)
        .into_iter()
        .filter(|i| {
            i.name == "host" || used.contains(i.name.as_str()) || specs.images.iter().any(|d| d.name.value == i.name)
        })
        .collect();

    plan.vms = specs
        .vms
        .iter()
        .map(|v| {
            let file = &specs.files[v.name.loc.file];
            Vm {
                name: v.name.value.clone(),
                file: rel(&file.path),
                image: v
                    .image
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_else(|| "host".into()),
                kernel: v.kernel.as_ref().map(|k| k.value.clone()),
                cpus: v.cpus.unwrap_or(DEFAULT_CPUS),
                memory_mib: v.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB),
                disk_mib: v.disk_mib,
                mounts: v
                    .mounts
                    .iter()
                    .map(|m| match m {
                        MountSpec::Share {
                            source,
                            destination,
                            readonly,
                        } => Mount::Share {
                            source: rel(&file.dir().join(source)),
                            destination: destination.clone(),
                            readonly: *readonly,
                        },
                        MountSpec::Tmpfs { destination, size_mib } => Mount::Tmpfs {
                            destination: destination.clone(),
                            size_mib: *size_mib,
                        },
                    })
                    .collect(),
                provision: v.provision.clone(),
                artifacts: v
                    .artifacts
                    .iter()
                    .map(|a| Artifact {
                        source: a.source.clone(),
                        destination: rel(&file.dir().join(&a.destination)),
                    })
                    .collect(),
                // A VM provisioned on a distro image fetches packages: a NIC unless it says no.
                network: v.network.unwrap_or_else(|| {
                    let image = v.image.as_ref().map_or("host", |i| i.value.as_str());
                    !v.provision.is_empty()
                        && plan
                            .images
                            .iter()
                            .any(|i| i.name == image && matches!(i.kind, ImageKind::Distro(_)))
                }),
                modules: v.modules.clone(),
                workdir: v.workdir.clone(),
            }
        })
        .collect();

    let index = Index::new(&plan);
    resolve_matrix(specs, &mut plan, &index, &rel);
    resolve_pipelines(specs, &mut plan, &index, &rel);
    collect_unresolved(&mut plan, &index);
    plan
}

/// Name lookups over the catalog and VMs, so that resolution stays linear in the specs' size.
struct Index {
    /// Image name → whether it is the host root (distro images are built when a VM needs them).
    images: HashMap<String, bool>,
    /// Kernel version → whether the catalog has a source for it.
    kernels: HashMap<String, bool>,
    /// VM name → its kernel.
    vms: HashMap<String, Option<String>>,
    newest: Option<String>,
}

impl Index {
    fn new(plan: &Plan) -> Index {
        Index {
            images: plan
                .images
                .iter()
                .map(|i| (i.name.clone(), i.kind == ImageKind::Host))
                .collect(),
            kernels: plan
                .kernels
                .iter()
                .map(|k| (k.version.clone(), !k.sources.is_empty()))
                .collect(),
            vms: plan.vms.iter().map(|v| (v.name.clone(), v.kernel.clone())).collect(),
            newest: plan.newest_kernel().map(|k| k.version.clone()),
        }
    }

    /// Why an image cannot be used here, if it cannot.
    fn image_problem(&self, image: &str) -> Option<String> {
        match self.images.get(image) {
            Some(true) => None,
            // A distro image is built when a cell needs it; one that cannot be had is
            // unavailable then, with the reason.
            Some(false) => None,
            None => Some(format!(
                "image \"{image}\" is not in the image catalog (`orca image list`); declare it with image \"{image}\" {{ base = \"debian-12\" }}"
            )),
        }
    }

    /// Why a kernel cannot be booted here, if it cannot.
    fn kernel_problem(&self, version: &str) -> Option<String> {
        match self.kernels.get(version) {
            None => Some(format!(
                "kernel {version} is neither in orca's built-in catalog nor in the project's; add kernel \"{version}\" {{ ... }} to configs/kernels.hcl"
            )),
            Some(false) => Some(format!(
                "kernel {version} has no source in the catalog; pin one with `orca kernel pin {version} --debian PACKAGE`"
            )),
            Some(true) => None,
        }
    }

    fn vm_problem(&self, name: &str) -> Option<String> {
        let reason = format!(
            "VM \"{name}\" is not declared in the specs loaded; add the spec file that declares vm {{ name = \"{name}\" }}"
        );
        (!self.vms.contains_key(name)).then_some(reason)
    }
}

fn resolve_matrix(specs: &Specs, plan: &mut Plan, index: &Index, rel: &dyn Fn(&Path) -> PathBuf) {
    let Some(m) = specs.matrices.first() else { return };
    let test = TestSpec {
        parallel: m.test.parallel.unwrap_or(true),
        timeout_secs: m.test.timeout_secs.unwrap_or(DEFAULT_CELL_TIMEOUT_SECS),
        commands: m.test.commands.clone(),
        vm: m.test.vm.as_ref().map(|v| v.value.clone()),
        results: m.test.results.clone(),
        cache: m.test.cache.unwrap_or(true),
        expectations: m
            .test
            .expectations
            .iter()
            .map(|e| Expectation {
                test: e.test.clone(),
                min_kernel: e.min_kernel.clone(),
                reason: e.reason.clone(),
            })
            .collect(),
    };
    // One cell per entry: one boot runs the whole of `commands` as one script.
    let mut cells = Vec::new();
    for e in &m.entries {
        let unavailable = index
            .image_problem(&e.image.value)
            .or_else(|| index.kernel_problem(&e.kernel.value));
        cells.push(Cell {
            id: e.name.value.clone(),
            name: e.name.value.clone(),
            image: e.image.value.clone(),
            kernel: e.kernel.value.clone(),
            command: test.commands.join("\n"),
            unavailable,
        });
    }
    plan.matrix = Some(Matrix {
        file: rel(&specs.files[m.loc.file].path),
        test,
        cells,
    });
}

fn resolve_pipelines(specs: &Specs, plan: &mut Plan, index: &Index, rel: &dyn Fn(&Path) -> PathBuf) {
    for p in &specs.pipelines {
        let stages: Vec<Stage> = p
            .stages
            .iter()
            .map(|s| {
                let vm = s.vm.as_ref().map(|v| v.value.clone());
                // A VM stage boots its own kernel, else its VM's, else the catalog's newest.
                let kernel = vm.as_ref().and_then(|vm| {
                    s.kernel
                        .as_ref()
                        .map(|k| k.value.clone())
                        .or_else(|| index.vms.get(vm).cloned().flatten())
                        .or_else(|| index.newest.clone())
                });
                Stage {
                    name: s.name.value.clone(),
                    vm,
                    kernel,
                    commands: s.commands.clone(),
                    artifacts: s.artifacts.clone(),
                    dependencies: s.dependencies.iter().map(|d| d.value.clone()).collect(),
                    inputs: s.inputs.clone(),
                    timeout_secs: s.timeout_secs.unwrap_or(DEFAULT_STAGE_TIMEOUT_SECS),
                    results: s.results.clone(),
                }
            })
            .collect();
        let by_name: HashMap<&str, usize> = stages.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let deps: Vec<Vec<usize>> = stages
            .iter()
            .map(|s| {
                s.dependencies
                    .iter()
                    .filter_map(|d| by_name.get(d.as_str()).copied())
                    .collect()
            })
            .collect();
        // The spec layer refuses cycles, so an order always exists for a checked model.
        let order = topo_order(&deps).unwrap_or_else(|| (0..stages.len()).collect());
        let order = order.into_iter().map(|i| stages[i].name.clone()).collect();
        plan.pipelines.push(Pipeline {
            name: p.name.value.clone(),
            file: rel(&specs.files[p.name.loc.file].path),
            stages,
            order,
        });
    }
}

/// Lists every image, kernel and VM the plan names but cannot resolve, once each.
fn collect_unresolved(plan: &mut Plan, index: &Index) {
    let mut out: Vec<Unresolved> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add = |what: String, reason: Option<String>| {
        if let Some(reason) = reason
            && seen.insert(what.clone())
        {
            out.push(Unresolved { what, reason });
        }
    };
    let vm_problem = |name: &str| index.vm_problem(name);
    for v in &plan.vms {
        add(format!("image {}", v.image), index.image_problem(&v.image));
        if let Some(k) = &v.kernel {
            add(format!("kernel {k}"), index.kernel_problem(k));
        }
    }
    if let Some(m) = &plan.matrix {
        if let Some(vm) = &m.test.vm {
            add(format!("vm {vm}"), vm_problem(vm));
        }
        for c in &m.cells {
            add(format!("image {}", c.image), index.image_problem(&c.image));
            add(format!("kernel {}", c.kernel), index.kernel_problem(&c.kernel));
        }
    }
    for p in &plan.pipelines {
        for s in &p.stages {
            let Some(vm) = &s.vm else { continue };
            add(format!("vm {vm}"), vm_problem(vm));
            match &s.kernel {
                Some(k) => add(format!("kernel {k}"), index.kernel_problem(k)),
                None => add(
                    format!("kernel for stage {}", s.name),
                    Some(format!(
                        "stage \"{}\" runs in a VM but names no kernel and the catalog has none with a source",
                        s.name
                    )),
                ),
            }
        }
    }
    plan.unresolved = out;
}

/// `path` relative to `root` when below it (lexically normalised), else absolute and normalised.
pub fn relative_to(root: &Path, path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        normalise(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        normalise(&cwd.join(path))
    };
    match abs.strip_prefix(normalise(root)) {
        Ok(r) if r.as_os_str().is_empty() => PathBuf::from("."),
        Ok(r) => r.to_path_buf(),
        Err(_) => abs,
    }
}

/// Removes `.` and resolves `..` without touching the file system.
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_project_relative() {
        let root = Path::new("/p");
        assert_eq!(
            relative_to(root, Path::new("/p/configs/../ebpf/x.c")),
            PathBuf::from("ebpf/x.c")
        );
        assert_eq!(relative_to(root, Path::new("/p/configs/..")), PathBuf::from("."));
        assert_eq!(
            relative_to(root, Path::new("/elsewhere/./a")),
            PathBuf::from("/elsewhere/a")
        );
    }
}
