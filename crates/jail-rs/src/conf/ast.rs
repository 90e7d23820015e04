//! The parsed file: values, parameters, items (jail blocks, includes, comments).

use std::fmt;

/// Where something is in a file. Positions never take part in equality, so a printed and
/// re-parsed file compares equal to the original.
#[derive(Debug, Clone, Default, Eq)]
pub struct Pos {
    /// File name (as given to the parser).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub col: usize,
}

impl PartialEq for Pos {
    fn eq(&self, _: &Pos) -> bool {
        true
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A piece of a value: literal text or a variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text.
    Lit(String),
    /// `$name` or `${name}`.
    Var(String),
}

/// One value: literal text and variable references, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Value(pub Vec<Part>);

impl Value {
    /// A literal value.
    pub fn lit(s: &str) -> Value {
        let mut v = Value::default();
        v.push_lit(s);
        v
    }
    pub(super) fn push_lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(l)) = self.0.last_mut() {
            l.push_str(s);
        } else {
            self.0.push(Part::Lit(s.into()));
        }
    }
    pub(super) fn push_var(&mut self, v: &str) {
        self.0.push(Part::Var(v.into()));
    }
    /// The literal text, when the value has no variables.
    pub fn as_lit(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Var(_) => return None,
            }
        }
        Some(s)
    }
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@%^~!?*[]".contains(c))
        && !s.starts_with("//")
        && !s.starts_with("/*")
}

impl fmt::Display for Value {
    /// Bare when it is one plain word, else double-quoted with `\` escapes and `${var}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [Part::Lit(l)] = self.0.as_slice() {
            if plain(l) {
                return f.write_str(l);
            }
        }
        f.write_str("\"")?;
        for p in &self.0 {
            match p {
                Part::Lit(l) => {
                    for c in l.chars() {
                        match c {
                            '"' | '\\' | '$' => write!(f, "\\{c}")?,
                            '\n' => f.write_str("\\n")?,
                            '\t' => f.write_str("\\t")?,
                            c => write!(f, "{c}")?,
                        }
                    }
                }
                Part::Var(v) => write!(f, "${{{v}}}")?,
            }
        }
        f.write_str("\"")
    }
}

/// How a parameter line assigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    /// `name;`: a boolean set to true (or `noname;` to false).
    Flag,
    /// `name = value[, value…];`
    Set,
    /// `name += value[, value…];`
    Append,
}

/// One parameter (or `$variable`) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name (`path`, `exec.start`, `$base`).
    pub name: String,
    /// How it assigns.
    pub op: AssignOp,
    /// The values (none for [`AssignOp::Flag`]).
    pub values: Vec<Value>,
    /// Where it was.
    pub pos: Pos,
}

/// A top-level or block item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A comment, as written (`# …`, `// …`, `/* … */`).
    Comment(String),
    /// A parameter.
    Param(Param),
    /// A jail block (`*` is the wildcard); nested blocks are child jails.
    Jail {
        /// The block's name.
        name: String,
        /// Its items.
        items: Vec<Item>,
        /// Where it was.
        pos: Pos,
    },
    /// `.include "glob";`
    Include {
        /// The pattern.
        pattern: Value,
        /// Where it was.
        pos: Pos,
    },
}

/// A parsed jail.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JailConf {
    /// Items in file order.
    pub items: Vec<Item>,
}
