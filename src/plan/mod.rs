//! The resolved plan: what the specs mean once every name, size, duration and kernel is resolved.
//!
//! The plan is the only thing the backends see. It is built by [`load`] from spec files, never the
//! other way round. Paths in it are relative to the project root where they lie below it, so that
//! `orca plan --json` is the same in every checkout (the golden tests rely on this).
//!
//! The types below are the contract between the spec layer and the backends. Every field's doc
//! comment says what it means and what it defaults to.

pub mod images;
pub mod types;

pub use types::*;
pub mod load;
pub mod resolve;

pub use load::{Checked, check, load, load_project, load_with_project, project_files};
