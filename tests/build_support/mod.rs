//! Shared by the `build_*` tests: temporary projects copied from `tests/fixtures/`, built by the
//! real orca binary with the real clang, each with its own cache unless told otherwise.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const ORCA: &str = env!("CARGO_BIN_EXE_orca");

/// A project tree in a temporary directory.
pub struct Project {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cache: PathBuf,
}

impl Project {
    /// A copy of `tests/fixtures/<fixture>` at `<tmp>/<subpath>`, with a cache of its own.
    pub fn new(fixture: &str, subpath: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(subpath);
        copy_tree(&fixtures().join(fixture), &root);
        let cache = dir.path().join("cache");
        Project { _dir: dir, root, cache }
    }

    /// The same, sharing `cache`.
    pub fn with_cache(fixture: &str, subpath: &str, cache: &Path) -> Project {
        let mut p = Project::new(fixture, subpath);
        p.cache = cache.to_path_buf();
        p
    }

    /// An orca command in the project, plain output, its own cache and runtime directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ORCA);
        c.args(args)
            .current_dir(&self.root)
            .env("ORCA_CACHE_DIR", &self.cache)
            .env("CI", "true")
            .env_remove("SOURCE_DATE_EPOCH");
        c
    }

    pub fn orca(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `orca build --json <args>`, which must succeed; its JSON summary.
    pub fn build(&self, args: &[&str]) -> Value {
        let mut all = vec!["build", "--json"];
        all.extend(args);
        let out = self.orca(&all);
        assert!(
            out.status.success(),
            "orca build failed ({}):\n{}",
            out.status,
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(&out.stdout)))
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// sha256 of every object in build/ebpf, by file name.
    pub fn objects(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for e in std::fs::read_dir(self.root.join("build/ebpf")).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".o") {
                m.insert(name, orca::build::hash::file_sha256(&e.path()).unwrap());
            }
        }
        m
    }

    /// A one-program `configs/build.hcl` with the given cflags.
    pub fn single_program(&self, name: &str, cflags: &str) {
        self.write(
            "configs/build.hcl",
            &format!(
                "schema_version = \"1.0\"\n\ntoolchain {{\n  clang_version = \"19\"\n  target = \"bpf\"\n  \
                 cflags = [{cflags}]\n  include_dirs = [\"/usr/include/x86_64-linux-gnu\"]\n  out_dir = \"build/ebpf\"\n}}\n\n\
                 program \"{name}\" {{\n  source = \"ebpf/{name}.c\"\n}}\n"
            ),
        );
    }
}

/// Outcome of each program in a summary, by name.
pub fn outcomes(summary: &Value) -> BTreeMap<String, String> {
    summary["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn compiled(summary: &Value) -> u64 {
    summary["compiled"].as_u64().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
