//! Reports: the results model shared by the matrix, pipelines and the nix backend, and its
//! renderings (terminal table, JUnit XML, JSON). Every rendering comes from the same structs.

pub mod model;

pub use model::*;
