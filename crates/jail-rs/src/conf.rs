//! jail.conf(5): parser, printer and resolver (pure).
//!
//! The parser keeps the file's structure — global parameters, jail blocks (nested blocks give
//! hierarchical names), the `*` wildcard block, `.include`, and comments in all three styles —
//! so that printing loses nothing. Values keep their `$var` / `${var}` references; [`JailConf::resolve`]
//! applies globals, then the wildcard block, then the jail's own block (`=` replaces, `+=`
//! appends) and expands variables (`$name` is the jail's name). Errors carry `file:line:column`.
//!
//! # References
//! [jail.conf(5)](https://man.freebsd.org/cgi/man.cgi?query=jail.conf&sektion=5),
//! [jail(8)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=8)

use crate::error::{Error, Op, Result};
use std::collections::BTreeMap;
use std::fmt;
use sysabi::ErrorKind;

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
    fn push_lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(l)) = self.0.last_mut() {
            l.push_str(s);
        } else {
            self.0.push(Part::Lit(s.into()));
        }
    }
    fn push_var(&mut self, v: &str) {
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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Value),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
    Comment(String),
}

struct Lexer<'a> {
    c: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    file: &'a str,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos {
            file: self.file.into(),
            line: self.line,
            col: self.col,
        }
    }
    fn err(&self, m: impl fmt::Display) -> Error {
        Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("{}: {m}", self.pos()),
        )
    }
    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let ch = self.c.get(self.i).copied()?;
        self.i += 1;
        if ch == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(ch)
    }
    fn var(&mut self, v: &mut Value) -> Result<()> {
        // after '$'
        if self.peek(0) == Some('{') {
            self.bump();
            let mut name = String::new();
            loop {
                match self.bump() {
                    Some('}') => break,
                    Some(c) if c != '\n' && c != '"' => name.push(c),
                    _ => return Err(self.err("unterminated ${")),
                }
            }
            if name.is_empty() {
                return Err(self.err("empty variable name"));
            }
            v.push_var(&name);
        } else {
            let mut name = String::new();
            while let Some(c) = self.peek(0) {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    self.bump();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                v.push_lit("$");
            } else {
                v.push_var(&name);
            }
        }
        Ok(())
    }
    fn next(&mut self) -> Result<Option<(Tok, Pos)>> {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.bump();
        }
        let pos = self.pos();
        let Some(ch) = self.peek(0) else {
            return Ok(None);
        };
        let tok = match ch {
            '{' | '}' | ';' | ',' | '=' => {
                self.bump();
                match ch {
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ';' => Tok::Semi,
                    ',' => Tok::Comma,
                    _ => Tok::Eq,
                }
            }
            '+' if self.peek(1) == Some('=') => {
                self.bump();
                self.bump();
                Tok::PlusEq
            }
            '#' => Tok::Comment(self.line_comment()),
            '/' if self.peek(1) == Some('/') => Tok::Comment(self.line_comment()),
            '/' if self.peek(1) == Some('*') => {
                let mut s = String::new();
                loop {
                    match self.bump() {
                        None => {
                            return Err(Error::new(
                                Op::Validate,
                                ErrorKind::InvalidInput,
                                format!("{pos}: unterminated /* comment"),
                            ))
                        }
                        Some('*') if self.peek(0) == Some('/') => {
                            self.bump();
                            s.push_str("*/");
                            break;
                        }
                        Some(c) => s.push(c),
                    }
                }
                Tok::Comment(s)
            }
            _ => Tok::Word(self.word()?),
        };
        Ok(Some((tok, pos)))
    }
    fn line_comment(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            s.push(c);
            self.bump();
        }
        s.trim_end().to_string()
    }
    fn word(&mut self) -> Result<Value> {
        let mut v = Value::default();
        loop {
            match self.peek(0) {
                Some('"') => {
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.err("unterminated \"")),
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                Some('n') => v.push_lit("\n"),
                                Some('t') => v.push_lit("\t"),
                                Some('\n') => {}
                                Some(c) => v.push_lit(&c.to_string()),
                                None => return Err(self.err("trailing \\")),
                            },
                            Some('$') => self.var(&mut v)?,
                            Some(c) => v.push_lit(&c.to_string()),
                        }
                    }
                }
                Some('\'') => {
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.err("unterminated '")),
                            Some('\'') => break,
                            Some(c) => v.push_lit(&c.to_string()),
                        }
                    }
                }
                Some('\\') => {
                    self.bump();
                    let c = self.bump().ok_or_else(|| self.err("trailing \\"))?;
                    v.push_lit(&c.to_string());
                }
                Some('$') => {
                    self.bump();
                    self.var(&mut v)?;
                }
                Some(c) if c.is_whitespace() || "{};,=".contains(c) => break,
                Some('+') if self.peek(1) == Some('=') => break,
                Some(c) => {
                    self.bump();
                    v.push_lit(&c.to_string());
                }
                None => break,
            }
        }
        Ok(v)
    }
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
    end: Pos,
}

fn perr(pos: &Pos, m: impl fmt::Display) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, format!("{pos}: {m}"))
}

fn param_name(v: &Value, pos: &Pos) -> Result<String> {
    match v.0.as_slice() {
        [Part::Lit(l)] if !l.is_empty() && !l.contains(char::is_whitespace) => Ok(l.clone()),
        [Part::Var(n)] => Ok(format!("${n}")),
        _ => Err(perr(pos, "expected a parameter name")),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }
    fn pos(&self) -> Pos {
        self.toks
            .get(self.i)
            .map_or_else(|| self.end.clone(), |t| t.1.clone())
    }
    fn next(&mut self) -> Option<(Tok, Pos)> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn items(&mut self, depth: usize) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        loop {
            let pos = self.pos();
            match self.next() {
                None if depth == 0 => return Ok(out),
                None => return Err(perr(&pos, "missing } at end of file")),
                Some((Tok::RBrace, p)) if depth == 0 => return Err(perr(&p, "unexpected }")),
                Some((Tok::RBrace, _)) => return Ok(out),
                Some((Tok::Comment(c), _)) => out.push(Item::Comment(c)),
                Some((Tok::Semi, _)) => {}
                Some((Tok::Word(w), p)) => {
                    if w.as_lit().as_deref() == Some(".include") {
                        let pattern = match self.next() {
                            Some((Tok::Word(v), _)) => v,
                            _ => return Err(perr(&p, ".include needs a file pattern")),
                        };
                        self.expect_semi(&p)?;
                        out.push(Item::Include { pattern, pos: p });
                        continue;
                    }
                    let name = param_name(&w, &p)?;
                    match self.peek() {
                        Some(Tok::LBrace) => {
                            self.next();
                            if name.starts_with('$') {
                                return Err(perr(&p, "a variable cannot name a jail block"));
                            }
                            if depth + 1 > MAX_NESTING {
                                return Err(perr(
                                    &p,
                                    format!("jail blocks nested more than {MAX_NESTING} deep"),
                                ));
                            }
                            let items = self.items(depth + 1)?;
                            out.push(Item::Jail {
                                name,
                                items,
                                pos: p,
                            });
                        }
                        Some(Tok::Semi) => {
                            self.next();
                            out.push(Item::Param(Param {
                                name,
                                op: AssignOp::Flag,
                                values: vec![],
                                pos: p,
                            }));
                        }
                        Some(Tok::Eq | Tok::PlusEq) => {
                            let op = if self.next().is_some_and(|t| t.0 == Tok::Eq) {
                                AssignOp::Set
                            } else {
                                AssignOp::Append
                            };
                            let mut values = Vec::new();
                            loop {
                                match self.next() {
                                    Some((Tok::Word(v), _)) => values.push(v),
                                    Some((_, q)) => {
                                        return Err(perr(
                                            &q,
                                            format!("expected a value for {name}"),
                                        ))
                                    }
                                    None => {
                                        return Err(perr(
                                            &self.end,
                                            format!("expected a value for {name}"),
                                        ))
                                    }
                                }
                                match self.next() {
                                    Some((Tok::Comma, _)) => continue,
                                    Some((Tok::Semi, _)) => break,
                                    Some((_, q)) => return Err(perr(&q, "expected , or ;")),
                                    None => {
                                        return Err(perr(
                                            &self.end,
                                            format!("missing ; after {name}"),
                                        ))
                                    }
                                }
                            }
                            out.push(Item::Param(Param {
                                name,
                                op,
                                values,
                                pos: p,
                            }));
                        }
                        _ => {
                            return Err(perr(
                                &self.pos(),
                                format!("expected =, +=, ; or {{ after {name}"),
                            ))
                        }
                    }
                }
                Some((t, p)) => return Err(perr(&p, format!("unexpected {t:?}"))),
            }
        }
    }
    fn expect_semi(&mut self, at: &Pos) -> Result<()> {
        match self.next() {
            Some((Tok::Semi, _)) => Ok(()),
            _ => Err(perr(at, "missing ;")),
        }
    }
}

/// The deepest nesting of jail blocks [`JailConf::parse`] accepts (`a { b { c { } } }` is 3).
/// jail(8)'s own grammar has no such limit; ours keeps the recursive parser, resolver and
/// printer far from the stack's end (a 15 KB file of 5,000 nested blocks used to abort).
pub const MAX_NESTING: usize = 64;
/// The largest jail.conf text [`JailConf::parse`] accepts: 256 MiB (a 40,000-jail file is 6.6 MB).
pub const MAX_CONF_BYTES: usize = 256 << 20;

impl JailConf {
    /// Parses jail.conf text; `file` names it in errors.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] with `file:line:column: message`.
    pub fn parse(text: &str, file: &str) -> Result<JailConf> {
        if text.len() > MAX_CONF_BYTES {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!(
                    "{file}: {} bytes, more than the {MAX_CONF_BYTES} a jail.conf may have here",
                    text.len()
                ),
            ));
        }
        let mut lx = Lexer {
            c: text.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            file,
        };
        let mut toks = Vec::new();
        while let Some(t) = lx.next()? {
            toks.push(t);
        }
        let mut p = Parser {
            toks,
            i: 0,
            end: lx.pos(),
        };
        Ok(JailConf { items: p.items(0)? })
    }

    /// Replaces each `.include` with the items of the files its pattern matches (sorted, as
    /// glob(3) returns them), recursively; patterns are relative to the including file.
    ///
    /// # Errors
    /// Unreadable or unparsable included files; includes nested deeper than 16.
    pub fn expand_includes(self, base_dir: &str, fs: &dyn ConfFs) -> Result<JailConf> {
        fn go(items: Vec<Item>, dir: &str, fs: &dyn ConfFs, depth: usize) -> Result<Vec<Item>> {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Item::Include { pattern, pos } => {
                        if depth > 16 {
                            return Err(perr(&pos, "includes nested too deep"));
                        }
                        let pat = pattern
                            .as_lit()
                            .ok_or_else(|| perr(&pos, "variables are not allowed in .include"))?;
                        let full = if pat.starts_with('/') {
                            pat
                        } else {
                            format!("{}/{pat}", dir.trim_end_matches('/'))
                        };
                        let (d, glob) = full.rsplit_once('/').unwrap_or((".", full.as_str()));
                        let mut names: Vec<String> = fs
                            .list(d)
                            .into_iter()
                            .filter(|n| sysabi::fnmatch::fnmatch(glob, n) && !n.starts_with('.'))
                            .collect();
                        names.sort();
                        for n in names {
                            let path = format!("{d}/{n}");
                            let text = fs
                                .read(&path)
                                .ok_or_else(|| perr(&pos, format!("cannot read {path}")))?;
                            let inner = JailConf::parse(&text, &path)?;
                            out.extend(go(inner.items, d, fs, depth + 1)?);
                        }
                    }
                    Item::Jail { name, items, pos } => out.push(Item::Jail {
                        name,
                        items: go(items, dir, fs, depth)?,
                        pos,
                    }),
                    other => out.push(other),
                }
            }
            Ok(out)
        }
        Ok(JailConf {
            items: go(self.items, base_dir, fs, 0)?,
        })
    }

    /// The names of the jails the file defines (hierarchical for nested blocks), in order.
    pub fn jails(&self) -> Vec<String> {
        fn go(items: &[Item], prefix: &str, out: &mut Vec<String>) {
            for it in items {
                if let Item::Jail { name, items, .. } = it {
                    if name == "*" {
                        continue;
                    }
                    let full = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    out.push(full.clone());
                    go(items, &full, out);
                }
            }
        }
        let mut v = Vec::new();
        go(&self.items, "", &mut v);
        v
    }

    /// The effective parameters of jail `name`: globals, then `*` blocks, then the jail's own
    /// (its parents' blocks first for nested jails); variables expanded.
    ///
    /// # Errors
    /// An unknown jail, an undefined variable, or a variable that refers to itself.
    pub fn resolve(&self, name: &str) -> Result<Resolved> {
        if !self.jails().iter().any(|j| j == name) {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::NotFound,
                format!("no jail {name:?} in this file"),
            ));
        }
        let mut params: Vec<&Param> = Vec::new();
        let global: Vec<&Param> = self
            .items
            .iter()
            .filter_map(|i| {
                if let Item::Param(p) = i {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        params.extend(global);
        for it in &self.items {
            if let Item::Jail { name: n, items, .. } = it {
                if n == "*" {
                    params.extend(items.iter().filter_map(|i| {
                        if let Item::Param(p) = i {
                            Some(p)
                        } else {
                            None
                        }
                    }));
                }
            }
        }
        // Walk down the nested blocks along the name.
        let mut level: &[Item] = &self.items;
        for comp in name.split('.') {
            let found = level.iter().find_map(|i| match i {
                Item::Jail { name: n, items, .. } if n == comp => Some(items),
                _ => None,
            });
            match found {
                Some(items) => {
                    params.extend(items.iter().filter_map(|i| {
                        if let Item::Param(p) = i {
                            Some(p)
                        } else {
                            None
                        }
                    }));
                    level = items;
                }
                None => {
                    // A dotted block name at the top (`a.b { }`) is the same jail.
                    if let Some(items) = self.items.iter().find_map(|i| match i {
                        Item::Jail { name: n, items, .. } if n == name => Some(items),
                        _ => None,
                    }) {
                        params.extend(items.iter().filter_map(|i| {
                            if let Item::Param(p) = i {
                                Some(p)
                            } else {
                                None
                            }
                        }));
                    }
                    break;
                }
            }
        }
        let mut map: Vec<(String, Vec<Value>, Pos)> = Vec::new();
        for p in params {
            let idx = map.iter().position(|(n, _, _)| *n == p.name);
            match (p.op, idx) {
                (AssignOp::Append, Some(i)) => map[i].1.extend(p.values.iter().cloned()),
                (AssignOp::Flag, Some(i)) => map[i] = (p.name.clone(), vec![], p.pos.clone()),
                (_, Some(i)) => map[i] = (p.name.clone(), p.values.clone(), p.pos.clone()),
                (_, None) => map.push((p.name.clone(), p.values.clone(), p.pos.clone())),
            }
        }
        let lookup: BTreeMap<String, (Vec<Value>, Pos)> = map
            .iter()
            .map(|(n, v, p)| (n.clone(), (v.clone(), p.clone())))
            .collect();
        let mut out = Vec::new();
        for (n, vals, pos) in &map {
            if n.starts_with('$') {
                continue;
            }
            let mut expanded = Vec::new();
            for v in vals {
                expanded.push(expand(v, name, &lookup, pos, 0)?);
            }
            out.push((
                n.clone(),
                if vals.is_empty() {
                    None
                } else {
                    Some(expanded)
                },
            ));
        }
        Ok(Resolved {
            name: name.into(),
            params: out,
        })
    }
}

fn expand(
    v: &Value,
    jail: &str,
    vars: &BTreeMap<String, (Vec<Value>, Pos)>,
    pos: &Pos,
    depth: usize,
) -> Result<String> {
    if depth > 16 {
        return Err(perr(pos, "variable refers to itself"));
    }
    let mut s = String::new();
    for p in &v.0 {
        match p {
            Part::Lit(l) => s.push_str(l),
            Part::Var(n) if n == "name" => s.push_str(jail),
            Part::Var(n) => {
                let (vals, _) = vars
                    .get(&format!("${n}"))
                    .or_else(|| vars.get(n))
                    .ok_or_else(|| perr(pos, format!("undefined variable ${n}")))?;
                let parts: Result<Vec<String>> = vals
                    .iter()
                    .map(|x| expand(x, jail, vars, pos, depth + 1))
                    .collect();
                s.push_str(&parts?.join(","));
            }
        }
    }
    Ok(s)
}

/// What [`JailConf::expand_includes`] reads files through.
pub trait ConfFs {
    /// A file's text.
    fn read(&self, path: &str) -> Option<String>;
    /// The names in a directory.
    fn list(&self, dir: &str) -> Vec<String>;
}

/// [`ConfFs`] over the real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdConfFs;

impl ConfFs for StdConfFs {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
    fn list(&self, dir: &str) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A jail's effective parameters: `None` values are boolean flags (`persist;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The jail.
    pub name: String,
    /// Parameters in first-seen order.
    pub params: Vec<(String, Option<Vec<String>>)>,
}

/// jail(8)'s own parameters: they drive jail(8) and never reach the kernel.
pub const JAIL8_PARAMS: &[&str] = &[
    "exec.prepare",
    "exec.prestart",
    "exec.created",
    "exec.start",
    "command",
    "exec.poststart",
    "exec.prestop",
    "exec.stop",
    "exec.poststop",
    "exec.release",
    "exec.clean",
    "exec.jail_user",
    "exec.system_jail_user",
    "exec.system_user",
    "exec.timeout",
    "exec.consolelog",
    "exec.fib",
    "stop.timeout",
    "interface",
    "ip_hostname",
    "mount",
    "mount.fstab",
    "mount.devfs",
    "mount.fdescfs",
    "mount.procfs",
    "allow.dying",
    "depend",
    "vnet.interface",
    "zfs.dataset",
];

/// jail(8)'s own parameters of a jail (`exec.*`, `mount.*`, …) with their values.
pub type Jail8Params = Vec<(String, Vec<String>)>;

impl Resolved {
    /// Splits into the kernel parameters, typed into a [`crate::JailSpec`], and jail(8)'s own.
    ///
    /// # Errors
    /// All problems at once, naming each parameter: unknown ones, values of the wrong type, a
    /// missing or bad `path` or name. Nothing is created by this call.
    pub fn to_spec(&self) -> Result<(crate::JailSpec, Jail8Params)> {
        use crate::types::{param_def, JailName, JailSys, ParamType, ParamValue};
        let mut problems = Vec::new();
        let name = JailName::new(&self.name)
            .map_err(|e| problems.push(e.to_string()))
            .ok();
        let mut path = None;
        let mut kernel = Vec::new();
        let mut jail8 = Vec::new();
        for (n, v) in &self.params {
            if n == "path" {
                path = v.as_ref().and_then(|v| v.first().cloned());
                continue;
            }
            if n == "name" {
                continue;
            }
            if JAIL8_PARAMS.contains(&n.as_str()) || n.starts_with("exec.") {
                jail8.push((n.clone(), v.clone().unwrap_or_default()));
                continue;
            }
            let Some((def, _)) = param_def(n) else {
                problems.push(format!("{n}: unknown parameter"));
                continue;
            };
            let one = || {
                v.as_ref()
                    .and_then(|v| v.first())
                    .cloned()
                    .unwrap_or_default()
            };
            let value = match (def.ty, v) {
                (ParamType::Bool, None) => Some(ParamValue::Bool(true)),
                (ParamType::Bool, Some(v)) => match v.first().map(String::as_str) {
                    Some("true" | "1" | "yes") => Some(ParamValue::Bool(true)),
                    Some("false" | "0" | "no") => Some(ParamValue::Bool(false)),
                    _ => None,
                },
                (ParamType::Int | ParamType::UInt | ParamType::ULong, Some(_)) => {
                    one().parse().ok().map(ParamValue::Int)
                }
                (ParamType::String(_), Some(_)) => Some(ParamValue::Str(one())),
                (ParamType::JailSys, Some(_)) => one().parse::<JailSys>().ok().map(ParamValue::Sys),
                (ParamType::JailSys, None) => Some(ParamValue::Sys(JailSys::New)),
                (ParamType::Ip4List, Some(v)) => v
                    .iter()
                    .map(|a| a.split('/').next().unwrap_or("").trim().parse().ok())
                    .collect::<Option<Vec<_>>>()
                    .map(ParamValue::Ip4),
                (ParamType::Ip6List, Some(v)) => v
                    .iter()
                    .map(|a| a.split('/').next().unwrap_or("").trim().parse().ok())
                    .collect::<Option<Vec<_>>>()
                    .map(ParamValue::Ip6),
                _ => None,
            };
            match value {
                Some(val) => kernel.push((n.clone(), val)),
                None => problems.push(format!(
                    "{n}: value {:?} does not fit {:?}",
                    v.as_ref().map(|v| v.join(",")),
                    def.ty
                )),
            }
        }
        let Some(path) = path else {
            problems.push("path: missing".into());
            return Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            );
        };
        let Some(name) = name else {
            return Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            );
        };
        let mut spec = crate::JailSpec::new(name, path);
        for (n, v) in kernel {
            spec = spec.param(&n, v);
        }
        if let Err(e) = spec.validate() {
            problems.push(e.detail_str().unwrap_or("invalid").to_string());
        }
        if problems.is_empty() {
            Ok((spec, jail8))
        } else {
            Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            )
        }
    }
}

fn fmt_items(items: &[Item], indent: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let pad = "\t".repeat(indent);
    let mut prev_block = false;
    for (i, it) in items.iter().enumerate() {
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
                let name = if p.name.starts_with('$') {
                    p.name.clone()
                } else {
                    Value::lit(&p.name).to_string()
                };
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
                writeln!(f, "{pad}{} {{", Value::lit(name))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

    fn corpus() -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(DIR)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "conf"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_corpus_parses_resolves_round_trips_and_formats_stably() {
        let files = corpus();
        assert!(files.len() >= 15, "{} files", files.len());
        for (name, text) in files {
            let c = JailConf::parse(&text, &name).unwrap_or_else(|e| panic!("{e}"));
            let printed = c.to_string();
            let again = JailConf::parse(&printed, &name)
                .unwrap_or_else(|e| panic!("{name} reprinted: {e}\n{printed}"));
            assert_eq!(again, c, "{name}: print → parse");
            assert_eq!(again.to_string(), printed, "{name}: fmt is stable");
            let c = c.expand_includes(DIR, &StdConfFs).unwrap();
            let jails = c.jails();
            assert!(
                !jails.is_empty() || name.contains("include"),
                "{name}: no jails"
            );
            for j in jails {
                let r = c.resolve(&j).unwrap_or_else(|e| panic!("{name}/{j}: {e}"));
                r.to_spec().unwrap_or_else(|e| panic!("{name}/{j}: {e}"));
            }
        }
    }

    #[test]
    fn globals_wildcard_block_variables_and_appends() {
        let c = JailConf::parse(
            &std::fs::read_to_string(format!("{DIR}/03-thin.conf")).unwrap(),
            "03",
        )
        .unwrap();
        let r = c.resolve("www").unwrap();
        let get = |r: &Resolved, k: &str| {
            r.params
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(get(&r, "path"), Some(vec!["/jails/www".to_string()]));
        assert_eq!(
            get(&r, "host.hostname"),
            Some(vec!["www.example.org".to_string()])
        );
        let c = JailConf::parse(
            &std::fs::read_to_string(format!("{DIR}/07-variables.conf")).unwrap(),
            "07",
        )
        .unwrap();
        let r = c.resolve("web").unwrap();
        assert_eq!(
            get(&r, "path"),
            Some(vec!["/usr/local/jails/web".to_string()])
        );
        assert_eq!(
            get(&r, "ip4.addr"),
            Some(vec!["198.51.100.5".to_string(), "198.51.100.6".to_string()])
        );
        let c = JailConf::parse(
            &std::fs::read_to_string(format!("{DIR}/06-wildcard.conf")).unwrap(),
            "06",
        )
        .unwrap();
        assert_eq!(
            get(&c.resolve("b").unwrap(), "enforce_statfs"),
            Some(vec!["1".to_string()]),
            "own block wins"
        );
        assert_eq!(
            get(&c.resolve("a").unwrap(), "enforce_statfs"),
            Some(vec!["2".to_string()])
        );
        let (spec, _) = c.resolve("a").unwrap().to_spec().unwrap();
        assert_eq!(
            spec.get("allow.nomount"),
            Some(&crate::ParamValue::Bool(true))
        );
        let c = JailConf::parse(
            &std::fs::read_to_string(format!("{DIR}/05-nested.conf")).unwrap(),
            "05",
        )
        .unwrap();
        assert_eq!(c.jails(), ["parent", "parent.child"]);
        assert_eq!(
            get(&c.resolve("parent.child").unwrap(), "path"),
            Some(vec!["/jails/parent/root/child".to_string()])
        );
    }

    #[test]
    fn includes_are_expanded_in_glob_order() {
        let c = JailConf::parse(
            &std::fs::read_to_string(format!("{DIR}/12-include.conf")).unwrap(),
            "12",
        )
        .unwrap();
        let c = c.expand_includes(DIR, &StdConfFs).unwrap();
        assert_eq!(c.jails(), ["alpha", "beta"]);
        let r = c.resolve("alpha").unwrap();
        assert!(
            r.params.iter().any(|(n, v)| n == "persist" && v.is_none()),
            "globals of the including file apply"
        );
    }

    #[test]
    fn errors_carry_file_line_and_column() {
        let cases = [
            ("a {\n\tpath = /x\n}\n", "t.conf:3:1: expected , or ;"),
            ("a { path = \"x; }", "unterminated \""),
            ("a {\n", "missing } at end of file"),
            ("}\n", "t.conf:1:1: unexpected }"),
            ("a = ;", "t.conf:1:5: expected a value for a"),
            ("/* open", "t.conf:1:1: unterminated /* comment"),
            ("x { path = \"${y\"; }", "unterminated ${"),
        ];
        for (text, want) in cases {
            let e = JailConf::parse(text, "t.conf").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let c = JailConf::parse("j {\n  path = \"/j/$nope\";\n}\n", "v.conf").unwrap();
        let e = c.resolve("j").unwrap_err().to_string();
        assert!(e.contains("v.conf:2:3: undefined variable $nope"), "{e}");
        let c = JailConf::parse("$a = \"$b\"; $b = \"$a\"; j { path = $a; }", "loop.conf").unwrap();
        assert!(c
            .resolve("j")
            .unwrap_err()
            .to_string()
            .contains("refers to itself"));
    }

    #[test]
    fn hostile_jails_are_refused_naming_the_field() {
        let cases = [
            ("\"a/b\" { path = /j; persist; }", "a/b", "contains '/'"),
            ("\"..\" { path = /j; persist; }", "..", "empty component"),
            ("x { path = \"/j/../etc\"; persist; }", "x", "'..'"),
            (
                "x { path = /j; persist; frobnicate = 1; }",
                "x",
                "frobnicate: unknown parameter",
            ),
            ("LONGHOST", "x", "longer than 255"),
            (
                "x { path = /j; persist; enforce_statfs = lots; }",
                "x",
                "enforce_statfs: value",
            ),
            ("x { persist; }", "x", "path: missing"),
            ("x { path = \"/j\u{0}\"; persist; }", "x", "NUL"),
        ];
        let long = format!(
            "x {{ path = /j; persist; host.hostname = \"{}\"; }}",
            "h".repeat(300)
        );
        for (text, jail, want) in cases {
            let text = if text == "LONGHOST" {
                long.as_str()
            } else {
                text
            };
            let c = JailConf::parse(text, "h.conf").unwrap_or_else(|e| panic!("{text}: {e}"));
            let e = c.resolve(jail).and_then(|r| r.to_spec()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{text}");
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        proptest::collection::vec(
            prop_oneof![
                "[ -~\t\n]{1,12}".prop_map(Part::Lit),
                "[a-z_][a-z0-9_.]{0,6}".prop_map(Part::Var)
            ],
            1..4,
        )
        .prop_map(|parts| {
            let mut v = Value::default();
            for p in parts {
                match p {
                    Part::Lit(l) => v.push_lit(&l),
                    Part::Var(n) => v.push_var(&n),
                }
            }
            v
        })
    }

    fn arb_param() -> impl Strategy<Value = Item> {
        (
            "[a-z][a-z0-9_.]{0,12}|\\$[a-z][a-z0-9_]{0,6}",
            prop_oneof![
                Just(AssignOp::Flag),
                Just(AssignOp::Set),
                Just(AssignOp::Append)
            ],
            proptest::collection::vec(arb_value(), 1..3),
        )
            .prop_map(|(name, op, values)| {
                let values = if op == AssignOp::Flag { vec![] } else { values };
                Item::Param(Param {
                    name,
                    op,
                    values,
                    pos: Pos::default(),
                })
            })
    }

    fn arb_item() -> impl Strategy<Value = Item> {
        let leaf = prop_oneof![
            arb_param(),
            "#[ -~]{0,20}".prop_map(|c| Item::Comment(c.trim_end().to_string()))
        ];
        leaf.prop_recursive(2, 12, 4, |inner| {
            (
                "[a-z][a-z0-9_]{0,8}|\\*",
                proptest::collection::vec(inner, 0..4),
            )
                .prop_map(|(name, items)| Item::Jail {
                    name,
                    items,
                    pos: Pos::default(),
                })
        })
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        // 5,000 nested blocks (15 KB) overflowed the stack and aborted the process.
        let deep = format!("{}{}", "a {".repeat(5000), "}".repeat(5000));
        let e = JailConf::parse(&deep, "deep.conf").unwrap_err().to_string();
        assert!(
            e.contains("nested more than 64 deep") && e.contains("deep.conf:1:"),
            "{e}"
        );
        let ok = format!("{}{}", "a {".repeat(MAX_NESTING), "}".repeat(MAX_NESTING));
        assert!(JailConf::parse(&ok, "ok.conf").is_ok());
    }

    proptest! {
        #[test]
        fn no_panic_on_any_text(s in "\\PC{0,300}") {
            if let Ok(c) = JailConf::parse(&s, "fuzz") {
                for j in c.jails() {
                    if let Ok(r) = c.resolve(&j) {
                        let _ = r.to_spec();
                    }
                }
                let _ = JailConf::parse(&c.to_string(), "fuzz2");
            }
        }

        #[test]
        fn print_parse_round_trip(items in proptest::collection::vec(arb_item(), 0..6)) {
            let c = JailConf { items };
            let text = c.to_string();
            let again = JailConf::parse(&text, "rt").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(again, c);
        }
    }
}
