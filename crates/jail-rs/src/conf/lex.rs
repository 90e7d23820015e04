//! The lexer: words, quoted strings with escapes, `$var`/`${var}`, the three comment styles.

use super::ast::{Pos, Value};
use crate::error::{Error, Op, Result};
use std::fmt;
use sysabi::ErrorKind;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(Value),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
    Comment(String),
}

pub(super) struct Lexer<'a> {
    pub(super) c: Vec<char>,
    pub(super) i: usize,
    pub(super) line: usize,
    pub(super) col: usize,
    pub(super) file: &'a str,
}

impl Lexer<'_> {
    pub(super) fn pos(&self) -> Pos {
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
    pub(super) fn next(&mut self) -> Result<Option<(Tok, Pos)>> {
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
