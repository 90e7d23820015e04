//! The lexer: words, quoted strings with escapes, `$var`/`${var}`, the three comment styles,
//! as usr.sbin/jail/jaillex.l reads them. It works on bytes (every character with a meaning
//! is ASCII) and records spans of the text, copying only strings with escapes.

use super::flat::{FlatConf, Span};
use super::parse::Parser;
use crate::error::{Error, Op, Result};
use std::fmt;
use sysabi::ErrorKind;

/// The characters of one unquoted token besides letters and digits (jaillex.l).
const ATOM: &[u8] = b"_!%&()-.:<>?@[]^`|~";

/// Bytes that may stand in an unquoted run.
static IS_ATOM: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric();
        c += 1;
    }
    let mut k = 0;
    while k < ATOM.len() {
        t[ATOM[k] as usize] = true;
        k += 1;
    }
    t
};

/// A token.
#[derive(Debug)]
pub(super) enum Tok {
    /// A string (its parts) and whether it was a single token of jail(8)'s lexer (one unquoted
    /// run, one quoted string or one escape, without variables): only such a word may name a
    /// jail.
    Word(Word, bool),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
    Comment(Span),
}

/// The parts of one word: nearly always one, kept without an allocation.
#[derive(Debug, Default)]
pub(super) struct Word {
    first: Option<Span>,
    more: Vec<Span>,
}

impl Word {
    pub(super) fn parts(&self) -> impl Iterator<Item = Span> + '_ {
        self.first.iter().copied().chain(self.more.iter().copied())
    }
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }
    /// The only part, when there is exactly one.
    pub(super) fn only(&self) -> Option<Span> {
        if self.more.is_empty() {
            self.first
        } else {
            None
        }
    }
    fn last_mut(&mut self) -> Option<&mut Span> {
        match self.more.last_mut() {
            Some(s) => Some(s),
            None => self.first.as_mut(),
        }
    }
    fn push(&mut self, s: Span) {
        if self.first.is_none() {
            self.first = Some(s);
        } else {
            self.more.push(s);
        }
    }
}

impl<'t> Parser<'t> {
    pub(super) fn err_at(&self, off: usize, m: impl fmt::Display) -> Error {
        Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("{}: {m}", self.doc.pos_at(off)),
        )
    }
    fn byte(&self, k: usize) -> Option<u8> {
        self.doc.text.as_bytes().get(self.i + k).copied()
    }
    fn char_here(&self) -> Option<char> {
        self.doc.text[self.i..].chars().next()
    }

    /// Makes `last` a part of `side` (copying its text there once), so more can be appended:
    /// a side part being built is always the last thing in `side`.
    fn to_side(d: &mut FlatConf<'_>, last: &mut Span) {
        if !last.is_side() {
            let at = d.side.len();
            d.side.push_str(&d.text[last.start()..last.end()]);
            *last = Span::side(at, last.len());
        }
    }

    /// Literal text `s..e` joins the word's last literal part (jail(8) joins adjacent pieces
    /// into one string).
    fn lit_text(&mut self, w: &mut Word, s: usize, e: usize) {
        if s == e {
            return;
        }
        match w.last_mut() {
            Some(last) if !last.is_var() => {
                if !last.is_side() && last.end() == s {
                    last.grow(e - s);
                    return;
                }
                let d = &mut self.doc;
                Self::to_side(d, last);
                d.side.push_str(&d.text[s..e]);
                last.grow(e - s);
            }
            _ => w.push(Span::text(s, e)),
        }
    }

    /// A decoded character (an escape) joins the word's last literal part.
    fn lit_char(&mut self, w: &mut Word, c: char) {
        let d = &mut self.doc;
        match w.last_mut() {
            Some(last) if !last.is_var() => {
                Self::to_side(d, last);
                d.side.push(c);
                last.grow(c.len_utf8());
            }
            _ => {
                let at = d.side.len();
                d.side.push(c);
                w.push(Span::side(at, c.len_utf8()));
            }
        }
    }

    /// After `$`: `${name}`, `$name`, or a literal `$` when no name follows (jaillex.l: the
    /// single-character rule; `$5` is `$` and the digits). Returns whether it was a variable.
    /// Inside `${…}` (jaillex.l's two VAR rules) a name holds no newline, `{` or `}` (and no
    /// `"` inside a double-quoted string); `\` escapes the next character as in strings.
    fn var(&mut self, w: &mut Word, in_dq: bool) -> Result<bool> {
        let dollar = self.i - 1;
        if self.byte(0) == Some(b'{') {
            self.i += 1;
            let s = self.i;
            // The decoded name, once an escape makes it differ from the text.
            let mut owned: Option<String> = None;
            loop {
                match self.char_here() {
                    Some('}') => break,
                    Some('\\') => {
                        if owned.is_none() {
                            owned = Some(self.doc.text[s..self.i].to_string());
                        }
                        self.i += 1;
                        if self.char_here().is_none() {
                            return Err(self.err_at(self.i, "unterminated ${"));
                        }
                        let ch = self.escaped_char()?;
                        if let (Some(n), Some(ch)) = (owned.as_mut(), ch) {
                            n.push(ch);
                        }
                    }
                    Some(c) if c != '\n' && c != '{' && !(in_dq && c == '"') => {
                        if let Some(n) = owned.as_mut() {
                            n.push(c);
                        }
                        self.i += c.len_utf8();
                    }
                    Some(c) => {
                        self.i += c.len_utf8();
                        return Err(self.err_at(self.i, "unterminated ${"));
                    }
                    None => return Err(self.err_at(self.i, "unterminated ${")),
                }
            }
            let e = self.i;
            self.i += 1;
            let span = match owned {
                None if s == e => None,
                None => Some(Span::text(s, e)),
                Some(n) if n.is_empty() => None,
                Some(n) => {
                    let at = self.doc.side.len();
                    self.doc.side.push_str(&n);
                    Some(Span::side(at, n.len()))
                }
            };
            let Some(span) = span else {
                return Err(self.err_at(self.i, "empty variable name"));
            };
            w.push(span.var());
            Ok(true)
        } else {
            let s = self.i;
            while self
                .byte(0)
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                self.i += 1;
            }
            let text = self.doc.text.as_bytes();
            if s == self.i || text[s].is_ascii_digit() {
                self.lit_text(w, dollar, self.i);
                Ok(false)
            } else {
                w.push(Span::text(s, self.i).var());
                Ok(true)
            }
        }
    }

    /// After a backslash: what `text2lval` (jaillex.l) makes of the escape: up to three octal
    /// digits, `x` and up to two hex digits, `\a \b \f \n \r \t \v`, a newline continues the
    /// line (no character), anything else stands for itself.
    fn escaped_char(&mut self) -> Result<Option<char>> {
        let Some(c) = self.char_here() else {
            return Err(self.err_at(self.i, "trailing \\"));
        };
        self.i += c.len_utf8();
        Ok(Some(match c {
            '0'..='7' => {
                let mut n = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.byte(0) {
                        Some(d @ b'0'..=b'7') => {
                            self.i += 1;
                            n = n * 8 + u32::from(d - b'0');
                        }
                        _ => break,
                    }
                }
                char::from_u32(n & 0xff).unwrap_or('\0')
            }
            'x' => {
                let mut n = 0u32;
                for _ in 0..2 {
                    match self.byte(0).and_then(|d| char::from(d).to_digit(16)) {
                        Some(d) => {
                            self.i += 1;
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
            '\n' => return Ok(None),
            other => other,
        }))
    }

    /// An escape joins the word's last literal part.
    fn escape(&mut self, w: &mut Word) -> Result<()> {
        if let Some(ch) = self.escaped_char()? {
            self.lit_char(w, ch);
        }
        Ok(())
    }

    /// The next token and the offset where it starts.
    pub(super) fn lex(&mut self) -> Result<Option<(Tok, usize)>> {
        let bytes = self.doc.text.as_bytes();
        // jaillex.l: `[ \t\r\n]+` is the only whitespace (a form feed, a vertical tab or a
        // non-ASCII blank is a character the grammar refuses).
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = bytes.get(self.i) {
            self.i += 1;
        }
        if self.i >= bytes.len() {
            return Ok(None);
        }
        let pos = self.i;
        let b = bytes[pos];
        let next = bytes.get(pos + 1).copied();
        let tok = match b {
            b'{' | b'}' | b';' | b',' | b'=' => {
                self.i += 1;
                match b {
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b';' => Tok::Semi,
                    b',' => Tok::Comma,
                    _ => Tok::Eq,
                }
            }
            b'+' if next == Some(b'=') => {
                self.i += 2;
                Tok::PlusEq
            }
            b'#' => self.line_comment(),
            b'/' if next == Some(b'/') => self.line_comment(),
            b'/' if next == Some(b'*') => {
                // jaillex.l: `/*` then everything up to the first `*/` after it (so `/*/`
                // does not close itself).
                let Some(k) = self.doc.text[pos + 2..].find("*/") else {
                    return Err(self.err_at(pos, "unterminated /* comment"));
                };
                self.i = pos + 2 + k + 2;
                Tok::Comment(Span::text(pos, self.i))
            }
            _ => {
                let (w, single) = self.word()?;
                Tok::Word(w, single)
            }
        };
        Ok(Some((tok, pos)))
    }

    /// `#` or `//` to the end of the line (the newline stays), trailing blanks dropped.
    fn line_comment(&mut self) -> Tok {
        let s = self.i;
        let rest = &self.doc.text[s..];
        let e = s + rest.find('\n').unwrap_or(rest.len());
        self.i = e;
        let kept = self.doc.text[s..e].trim_end().len();
        Tok::Comment(Span::text(s, s + kept))
    }

    /// A string as jail(8)'s lexer reads it: adjacent pieces (unquoted runs of
    /// `[A-Za-z0-9_!%&()-.:<>?@[]^`|~]`, the single characters `$ * + / \`, escapes, quoted
    /// strings, variables) join into one. `#`, `//` and `/*` start a comment even in the middle
    /// of an unquoted word; any other character is a syntax error there. Returns the string and
    /// whether it was one token.
    fn word(&mut self) -> Result<(Word, bool)> {
        let mut w = Word::default();
        let mut tokens = 0usize;
        let mut has_var = false;
        while let Some(b) = self.byte(0) {
            let next = self.byte(1);
            match b {
                b'"' | b'\'' => {
                    self.i += 1;
                    tokens += 1;
                    loop {
                        let rest = &self.doc.text.as_bytes()[self.i..];
                        let k = rest
                            .iter()
                            .position(|&c| c == b || c == b'\\' || (c == b'$' && b == b'"'));
                        let Some(k) = k else {
                            self.i = self.doc.text.len();
                            let msg = if b == b'"' {
                                "unterminated \""
                            } else {
                                "unterminated '"
                            };
                            return Err(self.err_at(self.i, msg));
                        };
                        self.lit_text(&mut w, self.i, self.i + k);
                        self.i += k + 1;
                        match rest[k] {
                            b'\\' => self.escape(&mut w)?,
                            b'$' => has_var |= self.var(&mut w, true)?,
                            _ => break,
                        }
                    }
                }
                b'\\' => {
                    self.i += 1;
                    tokens += 1;
                    self.escape(&mut w)?;
                }
                b'$' => {
                    self.i += 1;
                    tokens += 1;
                    has_var |= self.var(&mut w, false)?;
                }
                b'#' => break,
                b'/' if matches!(next, Some(b'/' | b'*')) => break,
                b'+' if next == Some(b'=') => break,
                b'*' | b'+' | b'/' => {
                    tokens += 1;
                    self.lit_text(&mut w, self.i, self.i + 1);
                    self.i += 1;
                }
                _ if IS_ATOM[b as usize] => {
                    tokens += 1;
                    let s = self.i;
                    let run = self.doc.text.as_bytes()[s..]
                        .iter()
                        .position(|&c| !IS_ATOM[c as usize])
                        .unwrap_or(self.doc.text.len() - s);
                    self.i += run;
                    self.lit_text(&mut w, s, self.i);
                }
                _ => {
                    let c = self.char_here().unwrap_or('\0');
                    if matches!(c, ' ' | '\t' | '\r' | '\n') || "{};,=".contains(c) {
                        break;
                    }
                    return Err(self.err_at(
                        self.i,
                        format!("unexpected character {c:?} (quote a value holding it)"),
                    ));
                }
            }
        }
        Ok((w, tokens == 1 && !has_var))
    }
}
