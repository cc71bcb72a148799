//! The nix side of orca: `orca gen` writes `nix/generated/*.json` for `flake.nix` from the plan,
//! and the nix backend builds and runs the plan through the flake (`nix build .#ebpf`, one NixOS
//! test per matrix cell). See `nix/README.md` for the flake itself.

pub mod backend;
pub mod generate;
pub mod junit;

pub use backend::{NixBuild, build, run_matrix};
