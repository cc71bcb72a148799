//! The native runner: the kernel × test matrix scheduler, expectations and the result cache.
//!
//! - [`matrix`]: running a matrix's cells into a report, through a [`matrix::CellRunner`].
//! - [`select`], [`shard`]: `--kernel`, `--test` and `--shard I/N`.
//! - [`command`]: what a cell's command becomes in the guest; [`guest`] runs it in QEMU.
//! - [`expect`]: kernel expectations (`expect "GLOB" { min_kernel }`).
//! - [`classify`]: a cell's output → its results.
//! - [`cache`]: the result cache and its keys.
//! - [`budget`], [`schedule`]: how many guests at once, and running them.
//! - [`live`]: the live view of the cells.

pub mod budget;
pub mod cache;
pub mod classify;
pub mod command;
pub mod expect;
pub mod guest;
pub mod live;
pub mod matrix;
pub mod pipeline;
pub mod results;
pub mod schedule;
/// A command list as one shell script ([`crate::script`]), re-exported where the runners use it.
pub use crate::script;
pub mod select;
pub mod shard;
