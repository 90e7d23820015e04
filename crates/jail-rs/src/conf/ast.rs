//! The parsed file: values, parameters, items (jail blocks, includes, comments).

use std::fmt;

/// Where something is in a file. Positions never take part in equality, so a printed and
/// re-parsed file compares equal to the original.
#[derive(Debug, Clone, Default, Eq)]
pub struct Pos {
    /// File name (as given to the parser), shared by every position of the file.
    pub file: std::sync::Arc<str>,
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

/// The characters of one unquoted token of jail(8)'s lexer besides letters and digits
/// (usr.sbin/jail/jaillex.l).
const ATOM: &str = "_!%&()-.:<>?@[]^`|~";

/// One unquoted token: what may stand bare as a jail or parameter name.
pub(super) fn is_atom(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ATOM.contains(c))
}

/// Whether `s` reads back as exactly `s` unquoted as a value: tokens and the single `*` and
/// `/` join, but `#`, `//` and `/*` would start a comment, `+=` an operator, `$` a variable.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ATOM.contains(c) || c == '/' || c == '*')
        && !s.contains("//")
        && !s.contains("/*")
}

impl Value {
    /// Always double-quoted (a jail name that is not one bare token, such as `"web.*"`).
    #[must_use]
    pub fn quoted(&self) -> String {
        let mut out = String::new();
        self.write_quoted(&mut out);
        out
    }

    fn write_quoted(&self, f: &mut String) {
        f.push('"');
        for p in &self.0 {
            match p {
                Part::Lit(l) => {
                    for c in l.chars() {
                        match c {
                            '"' | '\\' | '$' => {
                                f.push('\\');
                                f.push(c);
                            }
                            '\n' => f.push_str("\\n"),
                            '\t' => f.push_str("\\t"),
                            c => f.push(c),
                        }
                    }
                }
                Part::Var(v) => {
                    f.push_str("${");
                    f.push_str(v);
                    f.push('}');
                }
            }
        }
        f.push('"');
    }
}

impl fmt::Display for Value {
    /// Bare when it reads back unquoted as itself, else double-quoted with `\` escapes and
    /// `${var}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [Part::Lit(l)] = self.0.as_slice() {
            if plain(l) {
                return f.write_str(l);
            }
        }
        f.write_str(&self.quoted())
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
