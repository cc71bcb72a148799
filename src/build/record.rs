//! The per-object build record, `<out_dir>/.orca/<name>.json`: what the object in this tree was
//! built from. A rebuild whose inputs, flags and toolchain all match the record, and whose object
//! still has the recorded sha256, has nothing to do.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::validate::ObjectInfo;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The cache schema the record was written under.
    pub schema: u32,
    /// The manifest key: source, flags, toolchain, header names (everything but input bytes).
    pub manifest_key: String,
    /// The object key: the manifest key plus every input's bytes.
    pub key: String,
    /// Every file clang read (from its depfile), with the sha256 it had.
    pub inputs: Vec<Input>,
    /// The installed object's sha256.
    pub object_sha256: String,
    /// What validation found in the object.
    pub info: ObjectInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Input {
    /// As clang named it: project-relative, or absolute for system headers.
    pub path: String,
    pub sha256: String,
}

/// Where the record of program `name` lives.
pub fn path(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(".orca").join(format!("{name}.json"))
}

/// The record, if there is a readable one of the current schema.
pub fn load(out_dir: &Path, name: &str) -> Option<Record> {
    let r: Record = serde_json::from_slice(&std::fs::read(path(out_dir, name)).ok()?).ok()?;
    (r.schema == super::cache::SCHEMA).then_some(r)
}

/// Writes the record atomically. It is written after the object is installed, so a record
/// never describes an object that is not there.
pub fn store(out_dir: &Path, name: &str, r: &Record) -> Result<()> {
    super::files::install(&path(out_dir, name), &serde_json::to_vec_pretty(r)?)
}

/// Forgets the record (the object failed or was removed).
pub fn remove(out_dir: &Path, name: &str) {
    let _ = std::fs::remove_file(path(out_dir, name));
}
