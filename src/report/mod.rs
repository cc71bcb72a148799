//! Reports: the results model shared by the matrix, pipelines and the nix backend, and its
//! renderings (terminal table, JUnit XML, JSON). Every rendering comes from the same structs.

pub mod json;
pub mod junit;
pub mod model;
pub mod table;

#[cfg(test)]
pub(crate) mod sample;

pub use model::*;

use std::path::Path;

use anyhow::{Context, Result};

/// Writes a rendered report to `dest`: a file (atomically, so a reader never sees half of it), or
/// stdout when `dest` is `-`.
pub fn write(dest: &Path, text: &str) -> Result<()> {
    if dest == Path::new("-") {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .context("writing to stdout")?;
        return Ok(());
    }
    crate::paths::write_atomic(dest, text.as_bytes()).with_context(|| format!("writing {}", dest.display()))
}
