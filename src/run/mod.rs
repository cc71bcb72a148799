//! The native runner: the kernel × test matrix scheduler, expectations and the result cache.
//!
//! - [`shard`]: `--shard I/N`, a deterministic split of the cells.
//! - [`expect`]: kernel expectations (`expect "GLOB" { min_kernel }`).
//! - [`classify`]: a cell's output → its results.
//! - [`cache`]: the result cache and its keys.
//! - [`budget`], [`schedule`]: how many guests at once, and running them.

pub mod budget;
pub mod cache;
pub mod classify;
pub mod expect;
pub mod schedule;
pub mod shard;
pub mod pipeline;
