//! hcl-edit's tree → the spec syntax tree ([`super::ast`]), with every span moved to the whole
//! file's offsets.
//!
//! Specs hold values, not programs: what HCL can express but orca does not evaluate (function
//! calls, `for` expressions, conditionals, operators, template directives, indexing and splats) is
//! refused here, naming the feature, at the place it is written. References `var.NAME` and
//! `env.NAME`, bare or as `${...}` in a string, are kept for the reader, which resolves them.

use std::collections::HashMap;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::structure::{BlockLabel, Structure};
use hcl_edit::template::{Element, Strip};

use super::SyntaxError;
use super::ast::*;
use crate::spec::diag::Span;

const PLAIN_VALUES: &str =
    "specs hold plain values: operators, conditionals and function calls are not supported";

pub(super) struct Converter<'a> {
    /// The whole file, as written.
    pub text: &'a str,
    /// Where the parsed region starts in `text`.
    pub base: usize,
    /// Keys renamed so that hcl-edit would go on past a key given twice: their offset and name.
    pub renamed: &'a HashMap<usize, String>,
    pub errors: Vec<SyntaxError>,
}

impl Converter<'_> {
    fn span(&self, s: Option<std::ops::Range<usize>>) -> Span {
        match s {
            Some(r) => r.start + self.base..r.end + self.base,
            None => self.base..self.base,
        }
    }

    fn refuse(&mut self, span: Span, message: impl Into<String>, hint: &str) {
        self.errors.push(SyntaxError {
            span,
            message: message.into(),
            hint: Some(hint.to_string()),
        });
    }

    /// A key or block identifier, with the name it had before any renaming.
    fn word(&self, text: &str, span: Span) -> Word {
        let text = self.renamed.get(&span.start).cloned().unwrap_or_else(|| text.to_string());
        Word { text, span }
    }

    pub fn body(&mut self, body: &hcl_edit::structure::Body) -> Body {
        let items = body
            .iter()
            .map(|s| match s {
                Structure::Attribute(a) => Item::Attr(Attr {
                    key: self.word(a.key.as_str(), self.span(a.key.span())),
                    value: self.expr(&a.value),
                }),
                Structure::Block(b) => {
                    let ident = self.word(b.ident.as_str(), self.span(b.ident.span()));
                    let labels = b
                        .labels
                        .iter()
                        .map(|l| {
                            let text = match l {
                                BlockLabel::Ident(i) => i.as_str(),
                                BlockLabel::String(s) => s.as_str(),
                            };
                            Word {
                                text: text.to_string(),
                                span: self.span(l.span()),
                            }
                        })
                        .collect();
                    let body = self.body(&b.body);
                    let span = self.span(b.span());
                    Item::Block(Block {
                        span: ident.span.start..span.end,
                        ident,
                        labels,
                        body,
                    })
                }
            })
            .collect();
        Body { items }
    }

    fn expr(&mut self, e: &Expression) -> Expr {
        let span = self.span(e.span());
        let kind = self.kind(e, &span);
        Expr { kind, span }
    }

    fn kind(&mut self, e: &Expression, span: &Span) -> Kind {
        match e {
            Expression::Null(_) => Kind::Null,
            Expression::Bool(b) => Kind::Bool(*b.value()),
            Expression::Number(_) => Kind::Num(self.text[span.clone()].to_string()),
            Expression::String(s) => Kind::Str(vec![Part::Lit(s.value().clone())]),
            Expression::Array(a) => Kind::Array(a.iter().map(|e| self.expr(e)).collect()),
            Expression::Object(o) => {
                let mut fields = Vec::new();
                for (k, v) in o.iter() {
                    let kspan = self.span(k.span());
                    let key = match k {
                        ObjectKey::Ident(i) => self.word(i.as_str(), kspan),
                        ObjectKey::Expression(Expression::String(s)) => {
                            let mut w = self.word(s.as_str(), kspan.clone());
                            if let Some(n) = self.renamed.get(&(kspan.start + 1)) {
                                w.text = n.clone();
                            }
                            w
                        }
                        ObjectKey::Expression(Expression::StringTemplate(_)) => {
                            self.refuse(kspan, "an object key cannot contain `${...}`", "write the key literally");
                            continue;
                        }
                        ObjectKey::Expression(_) => {
                            self.refuse(
                                kspan,
                                "an object key is a name or a quoted string",
                                "write `{ key = value }`",
                            );
                            continue;
                        }
                    };
                    fields.push(Attr {
                        key,
                        value: self.expr(v.expr()),
                    });
                }
                Kind::Object(fields)
            }
            Expression::StringTemplate(t) => Kind::Str(self.template(t.iter())),
            Expression::HeredocTemplate(h) => Kind::Str(self.template(h.template.iter())),
            Expression::Variable(v) => Kind::Ref(vec![Word {
                text: v.as_str().to_string(),
                span: span.clone(),
            }]),
            Expression::Traversal(_) => match self.path(e) {
                Some(path) => Kind::Ref(path),
                None => Kind::Null,
            },
            Expression::UnaryOp(u) => {
                if u.operator.value() == &UnaryOperator::Neg && matches!(u.expr, Expression::Number(_)) {
                    let written: String = self.text[span.clone()].split_whitespace().collect();
                    return Kind::Num(written);
                }
                let at = self.span(u.operator.span());
                let msg = format!("`{}` is an operator, and operators are not supported in specs", u.operator.value());
                self.refuse(at, msg, PLAIN_VALUES);
                Kind::Null
            }
            Expression::BinaryOp(b) => {
                let at = self.span(b.operator.span());
                let msg = format!(
                    "unexpected `{}` after a value: operators are not supported in specs",
                    b.operator.value()
                );
                self.refuse(at, msg, PLAIN_VALUES);
                Kind::Null
            }
            Expression::FuncCall(f) => {
                let name = self.span(f.name.name.span());
                let msg = format!("function calls are not supported in specs (`{}(...)`)", f.name.name.as_str());
                self.refuse(span.start..name.end.max(span.start), msg, "write the value literally");
                Kind::Null
            }
            Expression::Conditional(c) => {
                let cond_end = self.span(c.cond_expr.span()).end;
                let at = self.text[cond_end..span.end]
                    .find('?')
                    .map(|i| cond_end + i..cond_end + i + 1)
                    .unwrap_or(span.clone());
                self.refuse(
                    at,
                    "conditional expressions (`condition ? a : b`) are not supported in specs",
                    "write the value literally",
                );
                Kind::Null
            }
            Expression::ForExpr(f) => {
                let at = self.span(f.intro.span());
                let at = at.start..(at.start + 3).min(at.end);
                self.refuse(at, "`for` expressions are not supported in specs", "write the values out");
                Kind::Null
            }
            Expression::Parenthesis(_) => {
                self.refuse(
                    span.start..span.start + 1,
                    "parenthesized expressions are not supported in specs",
                    "write the value without parentheses",
                );
                Kind::Null
            }
        }
    }

    /// The names of a reference such as `var.NAME`, or `None` after refusing what is not one.
    fn path(&mut self, e: &Expression) -> Option<Vec<Word>> {
        match e {
            Expression::Variable(v) => Some(vec![Word {
                text: v.as_str().to_string(),
                span: self.span(e.span()),
            }]),
            Expression::Traversal(t) => {
                let Expression::Variable(_) = &t.expr else {
                    let at = self.span(t.operators.first().and_then(|o| o.span()));
                    self.refuse(
                        at,
                        "attributes of a value cannot be read in specs",
                        "only `var.NAME` (a `variable` block in this file) and `env.NAME` can be referenced",
                    );
                    return None;
                };
                let mut path = self.path(&t.expr)?;
                for op in &t.operators {
                    let at = self.span(op.span());
                    match op.value() {
                        TraversalOperator::GetAttr(name) => path.push(Word {
                            text: name.as_str().to_string(),
                            span: self.span(name.span()).start.max(at.start)..at.end,
                        }),
                        TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_) => {
                            self.refuse(
                                at,
                                "indexing (`value[i]`) is not supported in specs",
                                "write the value itself, or give it a variable of its own",
                            );
                            return None;
                        }
                        TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                            self.refuse(
                                at,
                                "splat expressions (`.*`, `[*]`) are not supported in specs",
                                "write the values out",
                            );
                            return None;
                        }
                    }
                }
                Some(path)
            }
            _ => None,
        }
    }

    /// A string's or heredoc's elements: literal text and `${var.NAME}` references.
    fn template<'e>(&mut self, elements: impl Iterator<Item = &'e Element>) -> Vec<Part> {
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        for el in elements {
            match el {
                Element::Literal(s) => lit.push_str(s.value()),
                Element::Interpolation(i) => {
                    let span = self.span(i.span());
                    // The span starts at `${`; fall back to searching for it if it does not.
                    let start = if self.text[span.start..].starts_with("${") {
                        span.start
                    } else {
                        self.text[..span.start].rfind("${").unwrap_or(span.start)
                    };
                    let span = start..span.end;
                    let path = match &i.expr {
                        Expression::Variable(_) | Expression::Traversal(_) if i.strip == Strip::None => {
                            self.path(&i.expr)
                        }
                        _ => {
                            self.refuse(
                                start..(start + 2).max(self.span(i.expr.span()).start),
                                "only a variable can be interpolated here",
                                "write `${var.NAME}` (declared with `variable \"NAME\" { default = ... }`) or `${env.NAME}`; `$${` is a literal `${`",
                            );
                            None
                        }
                    };
                    if let Some(path) = path {
                        if !lit.is_empty() {
                            parts.push(Part::Lit(std::mem::take(&mut lit)));
                        }
                        parts.push(Part::Ref { path, span });
                    }
                }
                Element::Directive(d) => {
                    let at = self.span(d.span());
                    self.refuse(
                        at.start..at.start + 2,
                        "template directives (`%{ ... }`) are not supported in specs",
                        "write `%%{` for a literal `%{`",
                    );
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        parts
    }
}
