//! The lexer: words, quoted strings with escapes, `$var`/`${var}`, the three comment styles.

use crate::conf::ast::{Pos, Value};
use crate::error::{Error, Op, Result};
use std::fmt;
use sysabi::ErrorKind;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A string, and whether it is a single token of jail(8)'s lexer (one unquoted run, one
    /// quoted string or one escape, without variables): only such a word may name a jail.
    Word(Value, bool),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
    Comment(String),
}

pub(super) struct Lexer<'a> {
    /// The text, read in place (a byte offset into it, always at a character boundary).
    pub(super) text: &'a str,
    pub(super) i: usize,
    pub(super) line: usize,
    pub(super) col: usize,
    /// The file name once, shared by every position ([`Pos::file`]).
    pub(super) shared: std::sync::Arc<str>,
}

impl Lexer<'_> {
    pub(super) fn pos(&self) -> Pos {
        Pos {
            file: self.shared.clone(),
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
        let mut it = self.text[self.i..].chars();
        match k {
            0 => it.next(),
            _ => it.nth(k),
        }
    }
    fn bump(&mut self) -> Option<char> {
        let ch = self.text[self.i..].chars().next()?;
        self.i += ch.len_utf8();
        if ch == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(ch)
    }
    /// After `$`: `${name}`, `$name`, or a literal `$` when no name follows (jaillex.l: the
    /// single-character rule). Returns whether it was a variable.
    fn var(&mut self, v: &mut Value) -> Result<bool> {
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
            Ok(true)
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
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                // `$5`: `$` then the digits, literally (a variable name starts with a letter
                // or `_`).
                v.push_lit("$");
                v.push_lit(&name);
                Ok(false)
            } else {
                v.push_var(&name);
                Ok(true)
            }
        }
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
            _ => {
                let (v, single) = self.word()?;
                Tok::Word(v, single)
            }
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
    /// After a backslash: what `text2lval` (usr.sbin/jail/jaillex.l) makes of the escape:
    /// up to three octal digits, `x` and up to two hex digits, `\a \b \f \n \r \t \v`, a
    /// newline continues the line, anything else stands for itself.
    fn escape(&mut self, v: &mut Value) -> Result<()> {
        let c = self.bump().ok_or_else(|| self.err("trailing \\"))?;
        let ch = match c {
            '0'..='7' => {
                let mut n = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek(0) {
                        Some(d @ '0'..='7') => {
                            self.bump();
                            n = n * 8 + (d as u32 - '0' as u32);
                        }
                        _ => break,
                    }
                }
                char::from_u32(n & 0xff).unwrap_or('\0')
            }
            'x' => {
                let mut n = 0u32;
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            self.bump();
                            n = n * 16 + d;
                        }
                        None => break,
                    }
                }
                char::from_u32(n).unwrap_or('\0')
            }
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\n' => return Ok(()),
            other => other,
        };
        v.push_lit(&ch.to_string());
        Ok(())
    }

    /// A string as jail(8)'s lexer reads it: adjacent pieces (unquoted runs of
    /// `[A-Za-z0-9_!%&()-.:<>?@[]^`|~]`, the single characters `$ * + / \`, escapes, quoted
    /// strings, variables) join into one. `#`, `//` and `/*` start a comment even in the middle
    /// of an unquoted word; any other character is a syntax error there. Returns the string and
    /// whether it was one token.
    fn word(&mut self) -> Result<(Value, bool)> {
        const ATOM: &str = "_!%&()-.:<>?@[]^`|~";
        let mut v = Value::default();
        let mut tokens = 0usize;
        let mut has_var = false;
        loop {
            match self.peek(0) {
                Some('"') => {
                    self.bump();
                    tokens += 1;
                    loop {
                        match self.bump() {
                            None => return Err(self.err("unterminated \"")),
                            Some('"') => break,
                            Some('\\') => self.escape(&mut v)?,
                            Some('$') => {
                                has_var |= self.var(&mut v)?;
                            }
                            Some(c) => v.push_lit(&c.to_string()),
                        }
                    }
                }
                Some('\'') => {
                    self.bump();
                    tokens += 1;
                    loop {
                        match self.bump() {
                            None => return Err(self.err("unterminated '")),
                            Some('\'') => break,
                            Some('\\') => self.escape(&mut v)?,
                            Some(c) => v.push_lit(&c.to_string()),
                        }
                    }
                }
                Some('\\') => {
                    self.bump();
                    tokens += 1;
                    self.escape(&mut v)?;
                }
                Some('$') => {
                    self.bump();
                    tokens += 1;
                    has_var |= self.var(&mut v)?;
                }
                Some('#') => break,
                Some('/') if matches!(self.peek(1), Some('/' | '*')) => break,
                Some('+') if self.peek(1) == Some('=') => break,
                Some(c @ ('*' | '+' | '/')) => {
                    self.bump();
                    tokens += 1;
                    v.push_lit(&c.to_string());
                }
                Some(c) if c.is_ascii_alphanumeric() || ATOM.contains(c) => {
                    tokens += 1;
                    let mut run = String::new();
                    while let Some(c) = self.peek(0) {
                        if c.is_ascii_alphanumeric() || ATOM.contains(c) {
                            run.push(c);
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    v.push_lit(&run);
                }
                Some(c) if c.is_whitespace() || "{};,=".contains(c) => break,
                Some(c) => {
                    return Err(self.err(format!(
                        "unexpected character {c:?} (quote a value holding it)"
                    )))
                }
                None => break,
            }
        }
        Ok((v, tokens == 1 && !has_var))
    }
}
