//! rc.conf(5) and loader.conf(5) editing that behaves like sysrc(8): comments, blank lines and
//! order are kept; only the assignment touched is rewritten; the file is replaced atomically.
//!
//! Both files are sequences of shell assignments `name="value"` (loader.conf the same
//! syntax); the last assignment of a name wins. Lines that are not plain assignments (shell
//! code, `if` blocks) are kept byte for byte and never edited.
//!
//! # References
//! [sysrc(8)](https://man.freebsd.org/cgi/man.cgi?query=sysrc&sektion=8),
//! [rc.conf(5)](https://man.freebsd.org/cgi/man.cgi?query=rc.conf&sektion=5),
//! [loader.conf(5)](https://man.freebsd.org/cgi/man.cgi?query=loader.conf&sektion=5)

use crate::error::{Error, Op, Result};
use std::fmt;
use std::path::Path;
use sysabi::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `name=value` with its value decoded; `text` is the original line.
    Assign {
        name: String,
        value: String,
        text: String,
    },
    /// Anything else, kept as is.
    Other(String),
    /// A line that is not UTF-8 text, kept byte for byte; `name` when it assigns a variable.
    Bytes { name: Option<String>, raw: Vec<u8> },
}

/// An rc.conf-style file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcConf {
    lines: Vec<Line>,
    trailing_newline: bool,
    /// The file ends inside a quote (or after a lone `\`): sh cannot read it, and anything
    /// appended would land inside that quote. Edits are refused.
    unclosed: bool,
    /// `/etc/defaults/rc.conf`, read first (as rc(8) and sysrc(8) do), when given.
    defaults: Option<Box<RcConf>>,
}

fn valid_name(n: &str) -> bool {
    n.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What sh makes of the value part of `name=VALUE`: one word (`"…"` with `\` escapes and
/// `$name`/`${name}` expanded through `var`, `'…'` literally, bare text with `$name`), then
/// blanks and an optional `#` comment. A carriage return is part of the word, as sh sees it.
/// `None` for what is not such a word (command substitution, backquotes, `${x:-y}` forms,
/// several words, an unclosed quote) or when `var` cannot tell a variable's value.
fn eval_word(s: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    let expand =
        |it: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String| -> Option<()> {
            // After `$`.
            let mut name = String::new();
            if it.peek() == Some(&'{') {
                it.next();
                loop {
                    match it.next()? {
                        '}' => break,
                        c if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                        _ => return None,
                    }
                }
            } else {
                while let Some(&c) = it.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        it.next();
                    } else {
                        break;
                    }
                }
            }
            if !valid_name(&name) {
                return None;
            }
            out.push_str(&var(&name)?);
            Some(())
        };
    loop {
        match it.peek().copied() {
            None => return Some(out),
            Some(' ' | '\t') => {
                let rest: String = it.collect();
                let r = rest.trim_start_matches([' ', '\t']);
                return (r.is_empty() || r.starts_with('#')).then_some(out);
            }
            Some('"') => {
                it.next();
                loop {
                    match it.next()? {
                        '"' => break,
                        '\\' => {
                            let n = it.next()?;
                            if n == '\n' {
                                continue; // a line continuation: both go
                            }
                            if !matches!(n, '"' | '\\' | '$' | '`') {
                                out.push('\\');
                            }
                            out.push(n);
                        }
                        '$' => {
                            if it.peek() == Some(&'(') {
                                return None;
                            }
                            expand(&mut it, &mut out)?;
                        }
                        '`' => return None,
                        c => out.push(c),
                    }
                }
            }
            Some('\'') => {
                it.next();
                loop {
                    match it.next()? {
                        '\'' => break,
                        c => out.push(c),
                    }
                }
            }
            Some('$') => {
                it.next();
                if it.peek() == Some(&'(') {
                    return None;
                }
                expand(&mut it, &mut out)?;
            }
            Some('`' | ';' | '&' | '|' | '(' | ')' | '<' | '>') => return None,
            Some('\\') => {
                it.next();
                match it.next()? {
                    '\n' => {} // a line continuation
                    c => out.push(c),
                }
            }
            Some(c) => {
                it.next();
                out.push(c);
            }
        }
    }
}

/// A plain value: [`eval_word`] with no variables at all.
fn decode_value(s: &str) -> Option<String> {
    eval_word(s, &|_| None)
}

/// The file cut into what the shell reads as one line each: a newline inside quotes, or after
/// a `\` outside single quotes, does not end it; a `#` starting a word begins a comment, whose
/// quotes do not count. Each piece is given without its final newline; an unclosed quote runs
/// to the end of the file (sh would refuse the file; it is kept as it is).
fn logical_lines(data: &[u8]) -> (Vec<&[u8]>, bool, bool) {
    #[derive(PartialEq)]
    enum St {
        Out,
        Single,
        Double,
        Comment,
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut st = St::Out;
    let mut word_start = true;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        match st {
            St::Out => match b {
                b'\n' => {
                    out.push(&data[start..i]);
                    start = i + 1;
                    word_start = true;
                    i += 1;
                    continue;
                }
                b'\\' => {
                    i += 2; // the escaped byte, a newline included (continuation)
                    word_start = false;
                    continue;
                }
                b'\'' => st = St::Single,
                b'"' => st = St::Double,
                b'#' if word_start => st = St::Comment,
                _ => {}
            },
            St::Single => {
                if b == b'\'' {
                    st = St::Out;
                }
            }
            St::Double => match b {
                b'\\' => {
                    i += 2;
                    continue;
                }
                b'"' => st = St::Out,
                _ => {}
            },
            St::Comment => {
                if b == b'\n' {
                    st = St::Out;
                    continue; // ends the line in the Out arm
                }
            }
        }
        word_start = matches!(b, b' ' | b'\t' | b';' | b'&' | b'|' | b'(' | b')');
        i += 1;
    }
    let terminated = start >= data.len();
    if !terminated {
        out.push(&data[start..]);
    }
    let unclosed = matches!(st, St::Single | St::Double) || i > data.len();
    (out, terminated, unclosed)
}

/// The variable a line assigns (`NAME=…` at its start), whatever the value.
fn assigned_name(raw: &str) -> Option<&str> {
    let t = raw.trim_start();
    let (name, _) = t.split_once('=')?;
    valid_name(name).then_some(name)
}

/// One line (without its newline).
fn parse_line(raw: &str) -> Line {
    let t = raw.trim_start();
    if let Some((name, rest)) = t.split_once('=') {
        if valid_name(name) {
            if let Some(value) = decode_value(rest) {
                return Line::Assign {
                    name: name.into(),
                    value,
                    text: raw.into(),
                };
            }
        }
    }
    Line::Other(raw.into())
}

/// Encodes a value in double quotes, escaping what the shell would expand.
fn encode_value(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

impl RcConf {
    /// Parses a file's bytes; never fails. Lines that are not UTF-8 text are kept byte for byte
    /// (never rewritten as U+FFFD) and [`RcConf::to_bytes`] writes them back unchanged.
    pub fn parse_bytes(data: &[u8]) -> RcConf {
        let mut lines = Vec::new();
        let (pieces, terminated, unclosed) = logical_lines(data);
        for raw in pieces {
            match std::str::from_utf8(raw) {
                Ok(t) => lines.push(parse_line(t)),
                Err(_) => {
                    let t = raw.trim_ascii_start();
                    let name = t
                        .iter()
                        .position(|b| *b == b'=')
                        .and_then(|i| std::str::from_utf8(&t[..i]).ok())
                        .filter(|n| valid_name(n))
                        .map(String::from);
                    lines.push(Line::Bytes {
                        name,
                        raw: raw.to_vec(),
                    });
                }
            }
        }
        RcConf {
            lines,
            trailing_newline: data.is_empty() || terminated,
            unclosed,
            defaults: None,
        }
    }

    /// The file's bytes: every line not edited exactly as read.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            match l {
                Line::Assign { text, .. } | Line::Other(text) => {
                    out.extend_from_slice(text.as_bytes())
                }
                Line::Bytes { raw, .. } => out.extend_from_slice(raw),
            }
            if i + 1 < self.lines.len() || self.trailing_newline {
                out.push(b'\n');
            }
        }
        out
    }

    /// Whether the last assignment of `name` is a line that is not UTF-8 text.
    fn last_is_bytes(&self, name: &str) -> bool {
        self.lines.iter().rev().find_map(|l| match l {
            Line::Assign { name: n, .. } if n == name => Some(false),
            Line::Bytes { name: Some(n), .. } if n == name => Some(true),
            _ => None,
        }) == Some(true)
    }

    fn check_closed(&self) -> Result<()> {
        if self.unclosed {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                "the file ends inside a quote (or after a lone \\): sh cannot read it at boot, \
                 and an edit appended to it would land inside that quote; fix the file by hand",
            ));
        }
        Ok(())
    }

    fn cannot_evaluate(name: &str, line: &str) -> Error {
        Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("{name} is set by a line cudajail cannot evaluate ({line:?}); edit it by hand"),
        )
    }

    fn unreadable(name: &str) -> Error {
        Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("the last assignment of {name} is not UTF-8 text; cudajail does not rewrite what it cannot read: edit it by hand"),
        )
    }

    /// Parses a file; never fails: what is not a plain assignment is kept verbatim. A
    /// statement the shell reads across lines (a quoted value with newlines, a `\` at the end
    /// of a line) is one entry, edited or kept as a whole.
    pub fn parse(text: &str) -> RcConf {
        RcConf::parse_bytes(text.as_bytes())
    }

    /// Reads `defaults` (`/etc/defaults/rc.conf`) before this file, as rc(8) and sysrc(8) do,
    /// for [`RcConf::value`] and the list edits. Never written.
    #[must_use]
    pub fn with_defaults(mut self, defaults: RcConf) -> RcConf {
        self.defaults = Some(Box::new(defaults));
        self
    }

    /// What rc(8) sees for `name` after sourcing the defaults and this file: every assignment
    /// in order, later ones winning, `$var`/`${var}` expanded from the values so far
    /// (`kld_list="${kld_list} i915kms"` adds to what came before). `Ok(None)` when nothing
    /// sets it.
    ///
    /// # Errors
    /// The line that decides the value and cannot be evaluated here (command substitution,
    /// backquotes, bytes that are not UTF-8), as text.
    pub fn value(&self, name: &str) -> std::result::Result<Option<String>, String> {
        use std::collections::BTreeMap;
        let mut env: BTreeMap<String, std::result::Result<String, String>> = BTreeMap::new();
        let files = self
            .defaults
            .iter()
            .map(|d| &**d)
            .chain(std::iter::once(self));
        for f in files {
            for l in &f.lines {
                let (n, v) = match l {
                    Line::Assign { name, value, .. } => (name.clone(), Ok(value.clone())),
                    Line::Other(text) => {
                        let Some(n) = assigned_name(text) else {
                            continue;
                        };
                        let rest = &text.trim_start()[n.len() + 1..];
                        let lookup = |v: &str| match env.get(v) {
                            None => Some(String::new()),
                            Some(Ok(x)) => Some(x.clone()),
                            Some(Err(_)) => None,
                        };
                        let val = eval_word(rest, &lookup).ok_or_else(|| text.clone());
                        (n.to_string(), val)
                    }
                    Line::Bytes { name: Some(n), raw } => {
                        (n.clone(), Err(String::from_utf8_lossy(raw).into_owned()))
                    }
                    Line::Bytes { .. } => continue,
                };
                env.insert(n, v);
            }
        }
        match env.remove(name) {
            None => Ok(None),
            Some(v) => v.map(Some),
        }
    }

    /// The value of `name` (the last plain assignment in this file, as the shell sees it);
    /// `None` also when that assignment is not UTF-8 text. See [`RcConf::value`] for what rc(8)
    /// makes of expansions and the defaults.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find_map(|l| match l {
                Line::Assign { name: n, value, .. } if n == name => Some(Some(value.as_str())),
                Line::Bytes { name: Some(n), .. } if n == name => Some(None),
                _ => None,
            })
            .flatten()
    }

    /// `sysrc name=value`: rewrites the last assignment of `name` in place, or appends one.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a name that is not a shell variable name or a value
    /// with a newline or NUL.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        self.check_closed()?;
        if !valid_name(name) {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("{name:?} is not a variable name"),
            ));
        }
        if value.contains(['\n', '\0']) {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("value for {name}: no newlines or NUL"),
            ));
        }
        let text = format!("{name}={}", encode_value(value));
        let new = Line::Assign {
            name: name.into(),
            value: value.into(),
            text,
        };
        // The last line that assigns it, whatever its value (sysrc(8) rewrites that one).
        let pos = self.lines.iter().rposition(|l| match l {
            Line::Assign { name: n, .. } | Line::Bytes { name: Some(n), .. } => n == name,
            Line::Other(text) => assigned_name(text) == Some(name),
            Line::Bytes { .. } => false,
        });
        match pos {
            // A line we cannot read stays; ours follows it, so ours is what the shell sees.
            Some(i) if matches!(self.lines[i], Line::Bytes { .. }) => self.lines.insert(i + 1, new),
            Some(i) => self.lines[i] = new,
            None => {
                self.lines.push(new);
                self.trailing_newline = true;
            }
        }
        Ok(())
    }

    /// `sysrc name+=word`: adds `word` to a space-separated list unless present. Returns whether
    /// it changed anything.
    ///
    /// # Errors
    /// As [`RcConf::set`].
    pub fn add_word(&mut self, name: &str, word: &str) -> Result<bool> {
        self.check_closed()?;
        if self.last_is_bytes(name) {
            return Err(RcConf::unreadable(name));
        }
        let cur = self
            .value(name)
            .map_err(|l| RcConf::cannot_evaluate(name, &l))?
            .unwrap_or_default();
        if cur.split_whitespace().any(|w| w == word) {
            return Ok(false);
        }
        let mut words: Vec<&str> = cur.split_whitespace().collect();
        words.push(word);
        self.set(name, &words.join(" "))?;
        Ok(true)
    }

    /// `sysrc name-=word`: removes `word` from a space-separated list. Returns whether it
    /// changed anything.
    ///
    /// # Errors
    /// As [`RcConf::set`].
    pub fn remove_word(&mut self, name: &str, word: &str) -> Result<bool> {
        self.check_closed()?;
        if self.last_is_bytes(name) {
            return Err(RcConf::unreadable(name));
        }
        let Some(cur) = self
            .value(name)
            .map_err(|l| RcConf::cannot_evaluate(name, &l))?
        else {
            return Ok(false);
        };
        let words: Vec<&str> = cur.split_whitespace().filter(|w| *w != word).collect();
        if words.len() == cur.split_whitespace().count() {
            return Ok(false);
        }
        self.set(name, &words.join(" "))?;
        Ok(true)
    }

    /// `sysrc -x name`: deletes every assignment of `name`.
    pub fn delete(&mut self, name: &str) -> bool {
        let n = self.lines.len();
        self.lines.retain(|l| match l {
            Line::Assign { name: x, .. } | Line::Bytes { name: Some(x), .. } => x != name,
            Line::Other(text) => assigned_name(text) != Some(name),
            Line::Bytes { .. } => true,
        });
        n != self.lines.len()
    }
}

impl fmt::Display for RcConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.lines.iter().enumerate() {
            match l {
                Line::Assign { text, .. } | Line::Other(text) => f.write_str(text)?,
                Line::Bytes { raw, .. } => f.write_str(&String::from_utf8_lossy(raw))?,
            }
            if i + 1 < self.lines.len() || self.trailing_newline {
                f.write_str("\n")?;
            }
        }
        Ok(())
    }
}

/// Replaces `path` with `data` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the original (keeping its permissions). Readers see the old or the
/// new file, never half of one.
///
/// # Errors
/// [`ErrorKind::Other`] (or the io kind) naming the path.
pub fn write_atomic(path: &Path, data: impl AsRef<[u8]>) -> Result<()> {
    let text = data.as_ref();
    use std::io::Write;
    let io = |e: std::io::Error| {
        Error::new(Op::Validate, ErrorKind::Other, e.to_string()).subject(path.display())
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("no file name")))?;
    let tmp = dir.join(format!(
        ".{}.cudajail.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    let res = (|| {
        f.write_all(text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// sysrc(8) and rc(8), read in usr.sbin/sysrc and libexec/rc: the value is what the shell
    /// makes of the defaults and then every assignment in the file; an edit rewrites the last
    /// assignment, whatever its form.
    #[test]
    fn values_are_read_as_rc_reads_them() {
        let defaults =
            RcConf::parse("kld_list=\"\"\nldconfig_paths=\"/usr/lib/compat /usr/local/lib\"\n");
        // The common idiom adds to what came before: our edit keeps i915kms.
        let mut rc =
            RcConf::parse("kld_list=\"${kld_list} i915kms\"\n").with_defaults(defaults.clone());
        assert_eq!(rc.value("kld_list").unwrap().as_deref(), Some(" i915kms"));
        assert!(rc.add_word("kld_list", "linux64").unwrap());
        assert_eq!(rc.to_string(), "kld_list=\"i915kms linux64\"\n");
        // Unset in the file: start from /etc/defaults/rc.conf (ldconfig_paths keeps its paths).
        let mut rc = RcConf::parse("").with_defaults(defaults.clone());
        assert!(rc.add_word("ldconfig_paths", "/opt/lib").unwrap());
        assert_eq!(
            rc.to_string(),
            "ldconfig_paths=\"/usr/lib/compat /usr/local/lib /opt/lib\"\n"
        );
        // A multi-word add does not duplicate words already there.
        assert!(!rc.add_word("ldconfig_paths", "/usr/local/lib").unwrap());
        // A later line decides, code included: the edit goes there, not to an earlier line.
        let mut rc = RcConf::parse("linux_enable=\"NO\"\nlinux_enable=$(echo NO)\n");
        assert_eq!(
            rc.value("linux_enable"),
            Err("linux_enable=$(echo NO)".to_string())
        );
        rc.set("linux_enable", "YES").unwrap();
        assert_eq!(
            rc.to_string(),
            "linux_enable=\"NO\"\nlinux_enable=\"YES\"\n"
        );
        // A list computed by code is not guessed at.
        let mut rc = RcConf::parse("kld_list=`cat /etc/mods`\n");
        assert!(rc
            .add_word("kld_list", "x")
            .unwrap_err()
            .to_string()
            .contains("cannot evaluate"));
        // A CRLF line: sh sees the CR as part of the value, so YES\r is not yes.
        let rc = RcConf::parse("linux_enable=\"YES\"\r\n");
        assert_eq!(rc.value("linux_enable").unwrap().as_deref(), Some("YES\r"));
    }

    #[test]
    fn lines_that_are_not_utf8_are_kept_byte_for_byte() {
        // Latin-1 in a comment and in another variable's value (a host set up long ago).
        let old: &[u8] =
            b"# caf\xe9\nhostname=\"h\xf4te\"\nlinux_enable=\"NO\"\nkld_list=\"nvidia\"\n";
        let mut rc = RcConf::parse_bytes(old);
        assert_eq!(rc.to_bytes(), old, "nothing edited: the same bytes");
        rc.set("linux_enable", "YES").unwrap();
        assert!(rc.add_word("kld_list", "linprocfs").unwrap());
        assert_eq!(
            rc.to_bytes(),
            b"# caf\xe9\nhostname=\"h\xf4te\"\nlinux_enable=\"YES\"\nkld_list=\"nvidia linprocfs\"\n"
        );
        // The variable we edit is itself unreadable: set() adds ours after it (ours wins at
        // boot, theirs stays); adding to a list we cannot read is refused, nothing changed.
        let old: &[u8] = b"linux_enable=\"\xff\"\nkld_list=\"a\xffb\"\n";
        let mut rc = RcConf::parse_bytes(old);
        assert_eq!(rc.get("linux_enable"), None);
        rc.set("linux_enable", "YES").unwrap();
        assert_eq!(rc.get("linux_enable"), Some("YES"));
        assert_eq!(
            rc.to_bytes(),
            b"linux_enable=\"\xff\"\nlinux_enable=\"YES\"\nkld_list=\"a\xffb\"\n"
        );
        let e = rc.add_word("kld_list", "x").unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
    }

    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "# /etc/rc.conf\nhostname=\"gpu1\"\nifconfig_em0=\"DHCP\" # uplink\nzfs_enable=\"YES\"\n\nkld_list=\"nvidia-modeset\"\nif [ -f /x ]; then foo=1; fi\nlinux_enable='NO'\n";

    #[test]
    fn edits_like_sysrc_and_keeps_everything_else() {
        let mut c = RcConf::parse(SAMPLE);
        assert_eq!(c.to_string(), SAMPLE, "untouched files print identically");
        assert_eq!(c.get("ifconfig_em0"), Some("DHCP"));
        assert_eq!(c.get("linux_enable"), Some("NO"));
        c.set("linux_enable", "YES").unwrap();
        assert!(c.add_word("kld_list", "linux64").unwrap());
        assert!(!c.add_word("kld_list", "linux64").unwrap(), "no duplicates");
        c.set("nvidia_name", "a \"quoted\" $value").unwrap();
        let out = c.to_string();
        assert!(out.contains("linux_enable=\"YES\"\n"));
        assert!(out.contains("kld_list=\"nvidia-modeset linux64\"\n"));
        assert!(
            out.contains("ifconfig_em0=\"DHCP\" # uplink\n"),
            "comments kept"
        );
        assert!(
            out.contains("if [ -f /x ]; then foo=1; fi\n"),
            "shell code kept"
        );
        assert!(out.ends_with("nvidia_name=\"a \\\"quoted\\\" \\$value\"\n"));
        assert_eq!(
            RcConf::parse(&out).get("nvidia_name"),
            Some("a \"quoted\" $value")
        );
        assert!(c.remove_word("kld_list", "nvidia-modeset").unwrap());
        assert_eq!(c.get("kld_list"), Some("linux64"));
        assert!(c.delete("hostname"));
        assert_eq!(c.get("hostname"), None);
        assert!(c.set("bad-name", "x").is_err());
        assert!(c.set("x", "a\nb").is_err());
    }

    #[test]
    fn last_assignment_wins_and_is_the_one_edited() {
        let mut c = RcConf::parse("a=\"1\"\na=\"2\"\n");
        assert_eq!(c.get("a"), Some("2"));
        c.set("a", "3").unwrap();
        assert_eq!(c.to_string(), "a=\"1\"\na=\"3\"\n");
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("rcconf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rc.conf");
        std::fs::write(&p, SAMPLE).unwrap();
        let mut c = RcConf::parse(&std::fs::read_to_string(&p).unwrap());
        c.set("linux_enable", "YES").unwrap();
        write_atomic(&p, c.to_string()).unwrap();
        assert_eq!(
            RcConf::parse(&std::fs::read_to_string(&p).unwrap()).get("linux_enable"),
            Some("YES")
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn any_bytes_parse_and_write_back_identically(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(RcConf::parse_bytes(&b).to_bytes(), b);
        }

        #[test]
        fn an_edit_changes_only_its_own_line(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut c = RcConf::parse_bytes(&b);
            if c.set("linux_enable", "YES").is_err() {
                // Only a file that ends inside a quote is refused.
                prop_assert!(logical_lines(&b).2);
                return Ok(());
            }
            let out = c.to_bytes();
            let kept = |d: &[u8]| -> Vec<Vec<u8>> {
                logical_lines(d).0
                    .into_iter()
                    .filter(|l| !l.trim_ascii_start().starts_with(b"linux_enable="))
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            };
            prop_assert_eq!(kept(&out), kept(&b));
        }

        #[test]
        fn any_text_parses_and_prints_back_identically(s in "\\PC{0,200}") {
            prop_assert_eq!(RcConf::parse(&s).to_string(), s);
        }

        #[test]
        fn set_then_get(name in "[a-z_][a-z0-9_]{0,12}", v in "[^\n\0]{0,30}", base in "\\PC{0,100}") {
            let mut c = RcConf::parse(&base);
            if c.set(&name, &v).is_err() {
                prop_assert!(logical_lines(base.as_bytes()).2, "refused a readable file");
                return Ok(());
            }
            let again = RcConf::parse(&c.to_string());
            prop_assert_eq!(again.get(&name), Some(v.as_str()));
        }
    }
}
