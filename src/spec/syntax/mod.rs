//! HCL text → syntax tree with spans. Knows nothing of what the keys mean.

pub mod ast;
mod parse;

pub use ast::*;
pub use parse::{MAX_DEPTH, SyntaxError, parse};
