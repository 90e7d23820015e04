//! The parser: tokens to [`FlatConf`] nodes, with `file:line:column` errors and the nesting
//! limit (usr.sbin/jail/jailparse.y's grammar).

use super::ast::{AssignOp, Pos};
use super::flat::{FlatConf, Kind, Node, Span};
use super::lex::{Tok, Word};
use super::MAX_NESTING;
use crate::error::{Error, Op, Result};
use std::fmt;
use sysabi::ErrorKind;

/// Reads tokens from the text as it goes (one token of look-ahead) into the nodes of `doc`.
pub(super) struct Parser<'t> {
    pub(super) doc: FlatConf<'t>,
    /// The byte offset the lexer is at.
    pub(super) i: usize,
    /// The token after the current position, once looked at.
    look: Option<(Tok, usize)>,
    /// Whether the lexer reached the end of the text.
    done: bool,
}

pub(super) fn perr(pos: &Pos, m: impl fmt::Display) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, format!("{pos}: {m}"))
}

impl<'t> Parser<'t> {
    pub(super) fn new(text: &'t str, file: &str) -> Parser<'t> {
        Parser {
            doc: FlatConf::empty(text, file),
            i: 0,
            look: None,
            done: false,
        }
    }

    /// Parses the whole text.
    pub(super) fn run(mut self) -> Result<FlatConf<'t>> {
        self.items(0)?;
        self.doc.vals.push(self.doc.parts.len() as u32);
        Ok(self.doc)
    }

    fn fill(&mut self) -> Result<()> {
        if self.look.is_none() && !self.done {
            match self.lex()? {
                Some(t) => self.look = Some(t),
                None => self.done = true,
            }
        }
        Ok(())
    }
    fn peek(&mut self) -> Result<Option<&Tok>> {
        self.fill()?;
        Ok(self.look.as_ref().map(|t| &t.0))
    }
    /// Where the next token starts (the end of the text after the last).
    fn pos(&mut self) -> Result<usize> {
        self.fill()?;
        Ok(self.look.as_ref().map_or(self.doc.text.len(), |t| t.1))
    }
    fn next(&mut self) -> Result<Option<(Tok, usize)>> {
        self.fill()?;
        Ok(self.look.take())
    }

    /// A word's text when it has no variables.
    fn lit(&self, w: &Word) -> Option<&str> {
        match w.only() {
            None if w.len() == 0 => Some(""),
            Some(s) if !s.is_var() => Some(self.doc.str(s)),
            _ => None,
        }
    }

    /// A parameter or block name: one literal without blanks, or one variable (kept as
    /// `$name`).
    fn name(&mut self, w: &Word, at: usize) -> Result<Span> {
        match w.only() {
            Some(s) if s.is_var() => {
                let name = format!("${}", self.doc.str(s));
                let start = self.doc.side.len();
                self.doc.side.push_str(&name);
                Ok(Span::side(start, name.len()))
            }
            Some(s) if !self.doc.str(s).contains(char::is_whitespace) => Ok(s),
            _ => Err(self.err_at(at, "expected a parameter name")),
        }
    }

    fn push_value(&mut self, w: &Word) {
        self.doc.vals.push(self.doc.parts.len() as u32);
        self.doc.parts.extend(w.parts());
    }

    fn items(&mut self, depth: usize) -> Result<()> {
        loop {
            let pos = self.pos()?;
            match self.next()? {
                None if depth == 0 => return Ok(()),
                None => return Err(self.err_at(pos, "missing } at end of file")),
                Some((Tok::RBrace, p)) if depth == 0 => return Err(self.err_at(p, "unexpected }")),
                Some((Tok::RBrace, _)) => return Ok(()),
                Some((Tok::Comment(c), p)) => {
                    self.doc
                        .nodes
                        .push(Node::new(Kind::Comment, c, 0, 0, p as u32))
                }
                Some((Tok::Semi, _)) => {}
                Some((Tok::Word(w, single), p)) => self.item(&w, single, p, depth)?,
                Some((t, p)) => return Err(self.err_at(p, format!("unexpected {}", tok_name(&t)))),
            }
        }
    }

    /// An item starting with word `w` at `p`.
    fn item(&mut self, w: &Word, single: bool, p: usize, depth: usize) -> Result<()> {
        if self.lit(w) == Some(".include") {
            let a = self.doc.vals.len() as u32;
            match self.next_value()? {
                Some((Tok::Word(v, _), _)) => self.push_value(&v),
                _ => return Err(self.err_at(p, ".include needs a file pattern")),
            }
            match self.next_value()? {
                Some((Tok::Semi, _)) => {}
                _ => return Err(self.err_at(p, "missing ;")),
            }
            self.doc
                .nodes
                .push(Node::new(Kind::Include, Span::text(0, 0), a, 1, p as u32));
            return Ok(());
        }
        let name = self.name(w, p)?;
        let is_var = self.doc.str(name).starts_with('$');
        if !single && !is_var {
            // jailparse.y: a name is one STR (or VAR) token; `web.*` unquoted is two (`web.`
            // and `*`).
            let n = self.doc.str(name);
            return Err(self.err_at(p, format!("{n:?} is not one word: quote it (\"{n}\")")));
        }
        match self.peek_value()? {
            Some(Tok::LBrace) => {
                self.next_value()?;
                if is_var {
                    return Err(self.err_at(p, "a variable cannot name a jail block"));
                }
                if depth + 1 > MAX_NESTING {
                    return Err(self.err_at(
                        p,
                        format!("jail blocks nested more than {MAX_NESTING} deep"),
                    ));
                }
                let me = self.doc.nodes.len();
                self.doc
                    .nodes
                    .push(Node::new(Kind::Jail, name, 0, 0, p as u32));
                self.items(depth + 1)?;
                self.doc.nodes[me].a = self.doc.nodes.len() as u32;
            }
            Some(Tok::Semi) => {
                self.next_value()?;
                self.doc.nodes.push(Node::new(
                    Kind::Param(AssignOp::Flag),
                    name,
                    self.doc.vals.len() as u32,
                    0,
                    p as u32,
                ));
            }
            // jailparse.y: `name value;` is `name = value;`.
            Some(Tok::Eq | Tok::PlusEq | Tok::Word(..)) => {
                let op = match self.peek_value()? {
                    Some(Tok::Eq) => {
                        self.next_value()?;
                        AssignOp::Set
                    }
                    Some(Tok::PlusEq) => {
                        self.next_value()?;
                        AssignOp::Append
                    }
                    _ => AssignOp::Set,
                };
                let a = self.doc.vals.len() as u32;
                loop {
                    match self.next_value()? {
                        Some((Tok::Word(v, _), _)) => self.push_value(&v),
                        Some((_, q)) => {
                            let n = self.doc.str(name).to_string();
                            return Err(self.err_at(q, format!("expected a value for {n}")));
                        }
                        None => {
                            let n = self.doc.str(name).to_string();
                            return Err(self
                                .err_at(self.doc.text.len(), format!("expected a value for {n}")));
                        }
                    }
                    match self.next_value()? {
                        Some((Tok::Comma, _)) => continue,
                        Some((Tok::Semi, _)) => break,
                        Some((_, q)) => return Err(self.err_at(q, "expected , or ;")),
                        None => {
                            let n = self.doc.str(name).to_string();
                            return Err(
                                self.err_at(self.doc.text.len(), format!("missing ; after {n}"))
                            );
                        }
                    }
                }
                let b = self.doc.vals.len() as u32 - a;
                self.doc
                    .nodes
                    .push(Node::new(Kind::Param(op), name, a, b, p as u32));
            }
            _ => {
                let at = self.pos()?;
                let n = self.doc.str(name).to_string();
                return Err(self.err_at(at, format!("expected =, +=, ; or {{ after {n}")));
            }
        }
        Ok(())
    }

    /// The next token inside a parameter, past comments (jail(8)'s lexer treats them as
    /// whitespace; `fmt` keeps only comments between items).
    fn next_value(&mut self) -> Result<Option<(Tok, usize)>> {
        loop {
            match self.next()? {
                Some((Tok::Comment(_), _)) => {}
                t => return Ok(t),
            }
        }
    }
    fn peek_value(&mut self) -> Result<Option<&Tok>> {
        while matches!(self.peek()?, Some(Tok::Comment(_))) {
            self.look = None;
        }
        self.peek()
    }
}

/// How an unexpected token is named in an error (as the tree parser named it).
fn tok_name(t: &Tok) -> &'static str {
    match t {
        Tok::LBrace => "LBrace",
        Tok::RBrace => "RBrace",
        Tok::Semi => "Semi",
        Tok::Comma => "Comma",
        Tok::Eq => "Eq",
        Tok::PlusEq => "PlusEq",
        Tok::Word(..) => "Word",
        Tok::Comment(_) => "Comment",
    }
}
