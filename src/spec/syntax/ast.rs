//! The syntax tree of one spec file: HCL bodies, blocks, attributes and literal values, each with
//! the byte span it came from.

use crate::spec::diag::Span;

/// A sequence of attributes and blocks (a file, or the inside of a block).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Attr(Attr),
    Block(Block),
}

/// `key = value`, in a body or in an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: Word,
    pub value: Expr,
}

/// `ident "label" ... { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub ident: Word,
    pub labels: Vec<Word>,
    pub body: Body,
    /// From the identifier to the closing brace.
    pub span: Span,
}

/// A name or label with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A quoted string or heredoc, as literal text and `${...}` references.
    Str(Vec<Part>),
    /// A number, as written.
    Num(String),
    Bool(bool),
    Null,
    Array(Vec<Expr>),
    Object(Vec<Attr>),
    /// A bare reference such as `var.name`.
    Ref(Vec<Word>),
}

/// A piece of a string: literal text, or an interpolated reference `${var.name}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Ref { path: Vec<Word>, span: Span },
}

impl Item {
    /// The span of the key or block identifier, where problems with the item are reported.
    pub fn key(&self) -> &Word {
        match self {
            Item::Attr(a) => &a.key,
            Item::Block(b) => &b.ident,
        }
    }
}

impl Kind {
    /// The value's type in users' words, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Num(_) => "a number",
            Kind::Bool(_) => "a boolean",
            Kind::Null => "null",
            Kind::Array(_) => "a list",
            Kind::Object(_) => "an object",
            Kind::Ref(_) => "a reference",
        }
    }
}
