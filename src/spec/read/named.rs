//! Lists of named objects (`test_matrix` entries, pipeline stages): the list must not be empty,
//! each item must be an object, and no two items may share a name.

use std::collections::HashMap;

use super::fields::{At, Cx, Fields};
use crate::spec::syntax::{Expr, Kind};

/// How the messages call a list and its items.
pub struct Words {
    /// The attribute holding the list, as written: `stages`.
    pub attr: &'static str,
    /// The kind of each item's fields, a key of [`crate::spec::model::KEYS`].
    pub kind: &'static str,
    /// One item, in "list at least one stage" and "give each stage its own name".
    pub one: &'static str,
    /// One item, in "each stage must be an object".
    pub each: &'static str,
    /// Several items, in "two stages are named".
    pub many: &'static str,
    /// An item as one would write it, for the hints.
    pub example: &'static str,
}

/// Reads the list `expr` with `read`, one object at a time, keeping the items whose name is
/// unique. `None` when `expr` is not a list; an empty list gives an error and `Some([])`.
/// Items `read` rejects (returning `None`, after reporting why) are skipped.
pub fn read<T>(
    cx: &mut Cx,
    expr: &Expr,
    w: &Words,
    mut read: impl FnMut(&mut Cx, &Fields) -> Option<T>,
    name: impl Fn(&T) -> &At<String>,
) -> Option<Vec<T>> {
    let items = cx.list(expr, w.attr)?;
    if items.is_empty() {
        cx.error(
            expr.span.clone(),
            format!("`{}` is empty", w.attr),
            format!("list at least one {}: {}", w.one, w.example),
        );
    }
    let mut out: Vec<T> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in &items {
        let Kind::Object(attrs) = &item.kind else {
            let msg = format!("each {} must be an object, found {}", w.each, item.kind.type_name());
            cx.error(item.span.clone(), msg, format!("write {}", w.example));
            continue;
        };
        let Some(v) = read(cx, &Fields::object(w.kind, item.span.clone(), attrs)) else {
            continue;
        };
        let n = name(&v);
        if let Some(&first) = seen.get(&n.value) {
            let line = cx.line_of(&name(&out[first]).loc.span);
            cx.error(
                n.loc.span.clone(),
                format!("two {} are named \"{}\" (first at line {line})", w.many, n.value),
                format!("give each {} its own name", w.one),
            );
            continue;
        }
        seen.insert(n.value.clone(), out.len());
        out.push(v);
    }
    Some(out)
}
