//! orca: reproducible eBPF builds and kernel-matrix tests in QEMU, from HCL specs.
//!
//! Data flows one way: `spec` (HCL → typed model with spans) → `plan` (resolved) → a backend
//! (`build`, `kernel`, `vm`, `run` for native; `nix` for the flake) → `report`.
//! No layer reaches back up: a spec never starts a VM and a backend never parses HCL. Files and
//! folders import one way too (`tests/layers.rs` finds any cycle).

/// The guest agent runs inside Linux guests only.
#[cfg(target_os = "linux")]
pub mod agent;
pub mod build;
pub mod ci;
pub mod cli;
pub mod error;
pub mod image;
pub mod init;
pub mod install;
pub mod kernel;
pub mod nix;
pub mod paths;
pub mod plan;
pub mod process;
pub mod report;
pub mod run;
pub mod script;
pub mod spec;
pub mod ui;
pub mod vm;
