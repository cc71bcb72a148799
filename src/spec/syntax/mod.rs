//! HCL text → syntax tree with spans. Knows nothing of what the keys mean.

pub mod ast;
mod parse;
mod strings;

pub use ast::*;
pub use parse::{MAX_DEPTH, MAX_SYNTAX_ERRORS, SyntaxError, parse, parse_all};
