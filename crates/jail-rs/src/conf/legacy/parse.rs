//! The parser: tokens to items, with `file:line:column` errors and the nesting limit.

use super::lex::{Lexer, Tok};
use crate::conf::ast::{AssignOp, Item, Param, Part, Pos, Value};
use crate::conf::MAX_NESTING;
use crate::error::{Error, Op, Result};
use std::fmt;
use sysabi::ErrorKind;

/// Reads tokens from the lexer as it goes (one token of look-ahead), so a file's tokens are
/// never all in memory at once.
pub(super) struct Parser<'a> {
    pub(super) lx: Lexer<'a>,
    /// The token after the current position, once looked at.
    pub(super) look: Option<(Tok, Pos)>,
    /// Whether the lexer reached the end of the text.
    pub(super) done: bool,
    /// Where the text ends (for errors at the end of the file).
    pub(super) end: Pos,
}

pub(super) fn perr(pos: &Pos, m: impl fmt::Display) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, format!("{pos}: {m}"))
}

fn param_name(v: &Value, pos: &Pos) -> Result<String> {
    match v.0.as_slice() {
        [Part::Lit(l)] if !l.is_empty() && !l.contains(char::is_whitespace) => Ok(l.clone()),
        [Part::Var(n)] => Ok(format!("${n}")),
        _ => Err(perr(pos, "expected a parameter name")),
    }
}

impl Parser<'_> {
    /// Fills the look-ahead; a lexer error is the parse's error.
    fn fill(&mut self) -> Result<()> {
        if self.look.is_none() && !self.done {
            match self.lx.next()? {
                Some(t) => self.look = Some(t),
                None => {
                    self.done = true;
                    self.end = self.lx.pos();
                }
            }
        }
        Ok(())
    }
    fn peek(&mut self) -> Result<Option<&Tok>> {
        self.fill()?;
        Ok(self.look.as_ref().map(|t| &t.0))
    }
    fn pos(&mut self) -> Result<Pos> {
        self.fill()?;
        Ok(self
            .look
            .as_ref()
            .map_or_else(|| self.end.clone(), |t| t.1.clone()))
    }
    fn next(&mut self) -> Result<Option<(Tok, Pos)>> {
        self.fill()?;
        Ok(self.look.take())
    }
    pub(super) fn items(&mut self, depth: usize) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        loop {
            let pos = self.pos()?;
            match self.next()? {
                None if depth == 0 => return Ok(out),
                None => return Err(perr(&pos, "missing } at end of file")),
                Some((Tok::RBrace, p)) if depth == 0 => return Err(perr(&p, "unexpected }")),
                Some((Tok::RBrace, _)) => return Ok(out),
                Some((Tok::Comment(c), _)) => out.push(Item::Comment(c)),
                Some((Tok::Semi, _)) => {}
                Some((Tok::Word(w, single), p)) => {
                    if w.as_lit().as_deref() == Some(".include") {
                        let pattern = match self.next_value()? {
                            Some((Tok::Word(v, _), _)) => v,
                            _ => return Err(perr(&p, ".include needs a file pattern")),
                        };
                        self.expect_semi(&p)?;
                        out.push(Item::Include { pattern, pos: p });
                        continue;
                    }
                    let name = param_name(&w, &p)?;
                    if !single && !name.starts_with('$') {
                        // jailparse.y: a name is one STR (or VAR) token; `web.*` unquoted is
                        // two (`web.` and `*`).
                        return Err(perr(
                            &p,
                            format!("{name:?} is not one word: quote it (\"{name}\")"),
                        ));
                    }
                    match self.peek_value()? {
                        Some(Tok::LBrace) => {
                            self.next_value()?;
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
                            self.next_value()?;
                            out.push(Item::Param(Param {
                                name,
                                op: AssignOp::Flag,
                                values: vec![],
                                pos: p,
                            }));
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
                            let mut values = Vec::new();
                            loop {
                                match self.next_value()? {
                                    Some((Tok::Word(v, _), _)) => values.push(v),
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
                                match self.next_value()? {
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
                            let at = self.pos()?;
                            return Err(perr(&at, format!("expected =, +=, ; or {{ after {name}")));
                        }
                    }
                }
                Some((t, p)) => return Err(perr(&p, format!("unexpected {t:?}"))),
            }
        }
    }
    /// The next token inside a parameter, past comments (jail(8)'s lexer treats them as
    /// whitespace; `fmt` keeps only comments between items).
    fn next_value(&mut self) -> Result<Option<(Tok, Pos)>> {
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
    fn expect_semi(&mut self, at: &Pos) -> Result<()> {
        match self.next_value()? {
            Some((Tok::Semi, _)) => Ok(()),
            _ => Err(perr(at, "missing ;")),
        }
    }
}
