//! The typed spec model: what the files say, checked for form, with the location of everything a
//! later check may need to point at. Defaults are not applied here; `plan` applies them.
//!
//! `docs/specs.md` documents every key listed in [`KEYS`]; a unit test keeps the two in sync.

use super::diag::Loc;
use super::source::SourceFile;

/// Every block or object kind and the keys it accepts: the single list that unknown-key checks,
/// "did you mean" and the documentation test read.
pub const KEYS: &[(&str, &[&str])] = &[
    (
        "file",
        &[
            "schema_version",
            "variable",
            "vm",
            "test_matrix",
            "test",
            "pipeline",
            "toolchain",
            "program",
            "kernel",
            "image",
        ],
    ),
    ("variable", &["default", "description"]),
    (
        "vm",
        &[
            "name",
            "image",
            "kernel",
            "resources",
            "mounts",
            "provision",
            "artifacts",
            "network",
            "modules",
            "workdir",
        ],
    ),
    ("resources", &["cpu", "memory", "disk"]),
    ("mount", &["type", "source", "destination", "readonly", "size"]),
    ("artifact", &["source", "destination"]),
    ("test_matrix", &["name", "image", "kernel_version"]),
    ("test", &["parallel", "timeout", "commands", "vm", "expect", "results", "cache"]),
    ("expect", &["min_kernel", "reason"]),
    ("pipeline", &["name", "stages"]),
    (
        "stage",
        &[
            "name",
            "vm",
            "kernel",
            "commands",
            "artifacts",
            "dependencies",
            "inputs",
            "timeout",
            "results",
        ],
    ),
    (
        "toolchain",
        &[
            "clang_version",
            "clang",
            "clang_sha256",
            "target",
            "cflags",
            "include_dirs",
            "out_dir",
        ],
    ),
    ("program", &["source", "cflags"]),
    ("kernel", &["release", "nixpkgs", "debian", "ubuntu", "url", "file"]),
    ("debian", &["package", "version", "suite", "sha256"]),
    ("ubuntu", &["package", "version", "suite", "sha256"]),
    ("url", &["url", "sha256"]),
    ("kernel file", &["path", "sha256"]),
    (
        "image",
        &["type", "base", "archive", "suite", "kernel", "packages", "mirror"],
    ),
];

/// The keys a kind accepts (empty for an unknown kind).
pub fn keys(kind: &str) -> &'static [&'static str] {
    KEYS.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v).unwrap_or(&[])
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub loc: Loc,
}

/// Everything read from a set of spec files.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    pub files: Vec<SourceFile>,
    pub toolchains: Vec<ToolchainSpec>,
    pub programs: Vec<ProgramSpec>,
    pub kernels: Vec<KernelSpec>,
    pub images: Vec<ImageSpec>,
    pub vms: Vec<VmSpec>,
    pub matrices: Vec<MatrixSpec>,
    pub pipelines: Vec<PipelineSpec>,
    /// What is accepted but worth a word (a file without `schema_version`), one line each.
    pub warnings: Vec<String>,
}

/// `toolchain { }`: the pinned clang and the flags every program is compiled with.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolchainSpec {
    pub loc: Loc,
    /// `clang_version`: the clang major version, e.g. "14". Required.
    pub clang_major: u32,
    /// `clang`: the clang binary to run.
    pub clang: Option<String>,
    /// `clang_sha256`: the clang binary's sha256, for a stricter pin.
    pub clang_sha256: Option<String>,
    /// `target`: the BPF target (`bpf`, `bpfel`, `bpfeb`).
    pub target: Option<String>,
    /// `cflags`: compiler flags, in order.
    pub cflags: Option<Vec<String>>,
    /// `include_dirs`: include directories, project-relative or absolute.
    pub include_dirs: Vec<String>,
    /// `out_dir`: where objects go, project-relative.
    pub out_dir: Option<String>,
}

/// `program "NAME" { source cflags }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    pub name: At<String>,
    /// `source`: the C file, project-relative.
    pub source: String,
    /// `cflags`: extra flags for this program.
    pub cflags: Vec<String>,
}

/// `kernel "VERSION" { release nixpkgs debian{}* ubuntu{}* url{}* file{}* }`.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSpec {
    pub version: At<String>,
    pub release: Option<String>,
    pub nixpkgs: Option<String>,
    pub sources: Vec<SourceSpec>,
}

/// One pinned part of a kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Debian {
        package: String,
        version: Option<String>,
        suite: String,
        sha256: String,
    },
    /// A package of the Ubuntu archive. `sha256` is `None` until `orca kernel pin` records it.
    Ubuntu {
        package: String,
        version: Option<String>,
        suite: String,
        sha256: Option<String>,
    },
    Url {
        url: String,
        sha256: String,
    },
    /// `path` as written; relative paths are resolved against the catalog file's folder.
    File {
        path: String,
        sha256: String,
        dir: std::path::PathBuf,
    },
}

/// `image "NAME" { type = "host" }`, or a distro image:
/// `image "NAME" { base = "debian-12" packages = [...] }` /
/// `image "NAME" { archive = "debian" suite = "bookworm" kernel = "6.1" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    pub name: At<String>,
    /// `type = "host"`: the host root. Every other field is then absent.
    pub host: bool,
    /// `base`: the catalog image this one extends.
    pub base: Option<At<String>>,
    /// `archive`: `debian` or `ubuntu` (with `suite`, instead of `base`).
    pub archive: Option<String>,
    /// `suite`: the archive's suite, e.g. `bookworm`.
    pub suite: Option<String>,
    /// `kernel`: the catalog kernel the image boots by default.
    pub kernel: Option<String>,
    /// `packages`: installed at build time, added to the base's.
    pub packages: Vec<String>,
    /// `mirror`: the archive URL to build from, instead of the host's apt sources.
    pub mirror: Option<String>,
}

/// `vm { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSpec {
    pub name: At<String>,
    pub image: Option<At<String>>,
    pub kernel: Option<At<String>>,
    pub cpus: Option<u32>,
    pub memory_mib: Option<u64>,
    pub disk_mib: Option<u64>,
    pub mounts: Vec<MountSpec>,
    pub provision: Vec<String>,
    pub artifacts: Vec<ArtifactSpec>,
    pub network: Option<bool>,
    pub modules: Vec<String>,
    /// `workdir`: the absolute guest path where the VM's commands start.
    pub workdir: Option<String>,
}

/// One entry of `mounts`.
#[derive(Debug, Clone, PartialEq)]
pub enum MountSpec {
    /// A host folder, `source` as written (relative to the spec file's folder).
    Share {
        source: String,
        destination: String,
        readonly: bool,
    },
    Tmpfs {
        destination: String,
        size_mib: u64,
    },
}

/// One entry of `artifacts`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactSpec {
    /// The absolute guest path.
    pub source: String,
    /// The host path as written: relative to the spec file's folder (like a mount's `source`), or
    /// absolute.
    pub destination: String,
}

/// A matrix file: `test_matrix = [..]` and its `test { }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSpec {
    /// Where `test_matrix` is written.
    pub loc: Loc,
    pub entries: Vec<EntrySpec>,
    pub test: TestBlockSpec,
}

/// One `test_matrix` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySpec {
    pub name: At<String>,
    pub image: At<String>,
    pub kernel: At<String>,
}

/// `test { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestBlockSpec {
    pub parallel: Option<bool>,
    pub timeout_secs: Option<u64>,
    pub commands: Vec<String>,
    pub vm: Option<At<String>>,
    pub expectations: Vec<ExpectSpec>,
    /// `results`: globs of JUnit files the script writes, relative to where it runs.
    pub results: Vec<String>,
    /// `cache = false`: never reuse a cell's result.
    pub cache: Option<bool>,
}

/// `expect "GLOB" { min_kernel reason }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectSpec {
    pub test: String,
    pub min_kernel: String,
    pub reason: Option<String>,
}

/// `pipeline { name stages }`.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub name: At<String>,
    pub stages: Vec<StageSpec>,
}

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    pub name: At<String>,
    /// `None` or `"host"`: on the host.
    pub vm: Option<At<String>>,
    pub kernel: Option<At<String>>,
    pub commands: Vec<String>,
    pub artifacts: Vec<String>,
    pub dependencies: Vec<At<String>>,
    pub inputs: Vec<String>,
    pub timeout_secs: Option<u64>,
    /// `results`: globs of JUnit files the stage's script writes, relative to where it runs.
    pub results: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the reader accepts is documented in docs/specs.md, written as `key`.
    #[test]
    fn every_key_is_documented() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/specs.md");
        let doc = std::fs::read_to_string(path).expect("docs/specs.md");
        let mut missing = Vec::new();
        for (kind, keys) in KEYS {
            for key in *keys {
                if !doc.contains(&format!("`{key}`")) && !doc.contains(&format!("`{key} ")) {
                    missing.push(format!("{kind}.{key}"));
                }
            }
        }
        assert!(missing.is_empty(), "keys missing from docs/specs.md: {missing:?}");
    }
}
