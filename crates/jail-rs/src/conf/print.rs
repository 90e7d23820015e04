//! Printing in the canonical style (comments kept).

use super::ast::{is_atom, AssignOp, Item, JailConf, Value};
use std::fmt;

/// A jail or parameter name as one token: bare when it is one, else quoted (`"web.*"`);
/// a variable as `$name`, or `${…}` when its name is not an identifier.
fn name_text(name: &str) -> String {
    match name.strip_prefix('$') {
        Some(v)
            if !v.is_empty()
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !v.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            name.to_string()
        }
        Some(v) => format!("${{{v}}}"),
        None if is_atom(name) => name.to_string(),
        None => Value::lit(name).quoted(),
    }
}

pub(super) fn fmt_items<I: std::borrow::Borrow<Item>>(
    items: impl IntoIterator<Item = I>,
    indent: usize,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let pad = "\t".repeat(indent);
    let mut prev_block = false;
    for (i, it) in items.into_iter().enumerate() {
        let it = it.borrow();
        let is_block = matches!(it, Item::Jail { .. });
        if i > 0 && (is_block || prev_block) {
            writeln!(f)?;
        }
        prev_block = is_block;
        match it {
            Item::Comment(c) => {
                for (k, l) in c.split('\n').enumerate() {
                    if k == 0 {
                        writeln!(f, "{pad}{l}")?;
                    } else {
                        writeln!(f, "{l}")?;
                    }
                }
            }
            Item::Param(p) => {
                let name = name_text(&p.name);
                match p.op {
                    AssignOp::Flag => writeln!(f, "{pad}{name};")?,
                    AssignOp::Set | AssignOp::Append => {
                        let vals: Vec<String> = p.values.iter().map(ToString::to_string).collect();
                        let op = if p.op == AssignOp::Set { "=" } else { "+=" };
                        writeln!(f, "{pad}{name} {op} {};", vals.join(", "))?;
                    }
                }
            }
            Item::Include { pattern, .. } => writeln!(f, "{pad}.include {pattern};")?,
            Item::Jail { name, items, .. } => {
                writeln!(f, "{pad}{} {{", name_text(name))?;
                fmt_items(items, indent + 1, f)?;
                writeln!(f, "{pad}}}")?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for JailConf {
    /// The canonical format (`cudajail fmt`): tabs, one parameter per line, blank lines around
    /// blocks, comments kept where they were.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_items(&self.items, 0, f)
    }
}
