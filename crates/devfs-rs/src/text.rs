//! devfs(8) rule text and devfs.rules(5) files: parser and printer (pure).
//!
//! A rule line is `add [N] [path PATTERN] [type disk|mem|tape|tty] ACTION…` with the actions
//! `hide`, `unhide`, `user U`, `group G`, `mode OCTAL` and `include N|$name`. A devfs.rules file
//! holds `[name=N]` section headers, rule lines and `#` comments; `$name` in an `include` refers
//! to an earlier section (rc.subr expands it before devfs(8) runs). Errors carry line and column.
//!
//! # References
//! [devfs(8)](https://man.freebsd.org/cgi/man.cgi?query=devfs&sektion=8),
//! [devfs.rules(5)](https://man.freebsd.org/cgi/man.cgi?query=devfs.rules&sektion=5)

use crate::error::{Error, Op, Result};
use crate::types::{Action, Condition, DevType, Rule, Ruleset, RulesetId};
use std::collections::BTreeMap;
use std::fmt;
use sysabi::ErrorKind;

/// Quotes a word for rule text: bare when it needs nothing, else as [`quote_pattern`].
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:+,".contains(c));
    if plain {
        s.to_string()
    } else {
        quote_pattern(s)
    }
}

/// Quotes a path pattern: always quoted, so that a rule pasted into a shell as
/// `devfs rule add …` is not globbed; single quotes unless the pattern holds one, then double
/// quotes with `\` escapes.
pub fn quote_pattern(s: &str) -> String {
    if !s.contains('\'') && !s.contains('\n') {
        format!("'{s}'")
    } else {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' | '\\' => {
                    o.push('\\');
                    o.push(c);
                }
                '\n' => o.push_str("\\n"),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
}

/// A token and the column (1-based, in characters) it starts at.
type Tok = (String, usize);

fn err(line: usize, col: usize, msg: impl fmt::Display) -> Error {
    Error::new(
        Op::Validate,
        ErrorKind::InvalidInput,
        format!("{line}:{col}: {msg}"),
    )
}

/// Splits a line into words: quotes group, `\` escapes outside single quotes, `#` at a word's
/// start begins a comment.
fn tokenize(line: &str, lineno: usize) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        if chars[i] == '#' {
            break;
        }
        let start = i + 1;
        let mut w = String::new();
        while i < chars.len() && !chars[i].is_whitespace() {
            match chars[i] {
                '\'' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == '\'')
                        .ok_or_else(|| err(lineno, i + 1, "unterminated '"))?;
                    w.extend(&chars[i + 1..i + 1 + close]);
                    i += close + 2;
                }
                '"' => {
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(err(lineno, start, "unterminated \"")),
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some('\\') => {
                                match chars.get(i + 1) {
                                    Some('n') => w.push('\n'),
                                    Some(c) => w.push(*c),
                                    None => return Err(err(lineno, i + 1, "trailing \\")),
                                }
                                i += 2;
                            }
                            Some(c) => {
                                w.push(*c);
                                i += 1;
                            }
                        }
                    }
                }
                '\\' => {
                    let c = chars
                        .get(i + 1)
                        .ok_or_else(|| err(lineno, i + 1, "trailing \\"))?;
                    w.push(*c);
                    i += 2;
                }
                c => {
                    w.push(c);
                    i += 1;
                }
            }
        }
        out.push((w, start));
    }
    Ok(out)
}

fn number(tok: &Tok, line: usize, what: &str, radix: u32, max: u32) -> Result<u32> {
    u32::from_str_radix(&tok.0, radix)
        .ok()
        .filter(|n| *n <= max && !tok.0.starts_with('+'))
        .ok_or_else(|| {
            err(
                line,
                tok.1,
                format!("{what} {:?}: expected a number up to {max}", tok.0),
            )
        })
}

/// Parses one `add …` rule. `names` resolves `include $name`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] with `line:column:` and what was expected.
pub fn parse_rule_line(
    line: &str,
    lineno: usize,
    names: &BTreeMap<String, RulesetId>,
) -> Result<Rule> {
    let toks = tokenize(line, lineno)?;
    let mut it = toks.iter().peekable();
    match it.next() {
        Some((w, _)) if w == "add" => {}
        Some((w, c)) => return Err(err(lineno, *c, format!("expected `add`, found {w:?}"))),
        None => return Err(err(lineno, 1, "empty rule")),
    }
    let mut rule = Rule {
        number: None,
        conditions: vec![],
        actions: vec![],
    };
    if let Some(t) = it.peek() {
        if t.0.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            let n = number(t, lineno, "rule number", 10, 65535)?;
            if n == 0 {
                return Err(err(
                    lineno,
                    t.1,
                    "rule number 0 is reserved (omit it to let the kernel number the rule)",
                ));
            }
            rule.number = Some(n as u16);
            it.next();
        }
    }
    while let Some(t) = it.next() {
        let mut arg = |what: &str| {
            it.next()
                .ok_or_else(|| err(lineno, t.1 + t.0.len(), format!("`{}` needs {what}", t.0)))
        };
        match t.0.as_str() {
            "path" => rule
                .conditions
                .push(Condition::Path(arg("a pattern")?.0.clone())),
            "type" => {
                let a = arg("disk, mem, tape or tty")?;
                let ty = match a.0.as_str() {
                    "disk" => DevType::Disk,
                    "mem" => DevType::Mem,
                    "tape" => DevType::Tape,
                    "tty" => DevType::Tty,
                    o => {
                        return Err(err(
                            lineno,
                            a.1,
                            format!("unknown type {o:?} (disk, mem, tape, tty)"),
                        ))
                    }
                };
                rule.conditions.push(Condition::Type(ty));
            }
            "hide" => rule.actions.push(Action::Hide),
            "unhide" => rule.actions.push(Action::Unhide),
            "user" | "group" => {
                let a = arg("a name or number")?;
                let user = t.0 == "user";
                let act = match a.0.parse::<u32>() {
                    Ok(n) if user => Action::User(n),
                    Ok(n) => Action::Group(n),
                    Err(_) if user => Action::UserName(a.0.clone()),
                    Err(_) => Action::GroupName(a.0.clone()),
                };
                rule.actions.push(act);
            }
            "mode" => {
                let a = arg("an octal mode")?;
                rule.actions
                    .push(Action::Mode(number(a, lineno, "mode", 8, 0o7777)? as u16));
            }
            "include" => {
                let a = arg("a ruleset number or $name")?;
                let rs = if let Some(name) = a.0.strip_prefix('$') {
                    *names
                        .get(name)
                        .ok_or_else(|| err(lineno, a.1, format!("unknown ruleset ${name}")))?
                } else {
                    let n = number(a, lineno, "ruleset", 10, 65535)?;
                    RulesetId(n as u16)
                };
                rule.actions.push(Action::Include(rs));
            }
            o => return Err(err(lineno, t.1, format!("unknown keyword {o:?}"))),
        }
    }
    rule.validate()
        .map_err(|e| err(lineno, 1, e.detail_str().unwrap_or("invalid rule")))?;
    Ok(rule)
}

/// A devfs.rules(5) file: rulesets in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulesFile {
    /// The sections.
    pub rulesets: Vec<Ruleset>,
}

/// The largest devfs.rules text [`RulesFile::parse`] accepts (16 MiB; the line-based format
/// has no nesting to bound).
pub const MAX_RULES_BYTES: usize = 16 << 20;

impl RulesFile {
    /// Parses a devfs.rules(5) text.
    ///
    /// # Errors
    /// The first problem, as `line:column: message`: a rule before any header, a bad header,
    /// a duplicate name or number, an unknown `$name`, any rule error.
    pub fn parse(text: &str) -> Result<RulesFile> {
        if text.len() > MAX_RULES_BYTES {
            return Err(err(
                1,
                1,
                format!(
                    "{} bytes, more than the {MAX_RULES_BYTES} a devfs.rules file may have here",
                    text.len()
                ),
            ));
        }
        let mut f = RulesFile::default();
        let mut names: BTreeMap<String, RulesetId> = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let body = rest.split('#').next().unwrap_or("").trim_end();
                let inner = body
                    .strip_suffix(']')
                    .ok_or_else(|| err(lineno, 1, "header must end with ]"))?;
                let (name, num) = inner
                    .split_once('=')
                    .ok_or_else(|| err(lineno, 2, "header must be [name=number]"))?;
                let (name, num) = (name.trim(), num.trim());
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(err(
                        lineno,
                        2,
                        format!("ruleset name {name:?}: letters, digits and _ only"),
                    ));
                }
                let n: u16 = num.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    err(
                        lineno,
                        2 + name.len() + 1,
                        format!("ruleset number {num:?}: 1..65535"),
                    )
                })?;
                if names.contains_key(name) || f.rulesets.iter().any(|r| r.id.0 == n) {
                    return Err(err(lineno, 1, format!("ruleset {name}={n} defined twice")));
                }
                names.insert(name.to_string(), RulesetId(n));
                f.rulesets.push(Ruleset {
                    id: RulesetId(n),
                    name: name.to_string(),
                    rules: vec![],
                });
                continue;
            }
            let rule = parse_rule_line(line, lineno, &names)?;
            let rs = f
                .rulesets
                .last_mut()
                .ok_or_else(|| err(lineno, 1, "rule before any [name=number] header"))?;
            rs.rules.push(rule);
        }
        Ok(f)
    }

    /// The ruleset called `name`.
    pub fn get(&self, name: &str) -> Option<&Ruleset> {
        self.rulesets.iter().find(|r| r.name == name)
    }
}

impl fmt::Display for RulesFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rs) in self.rulesets.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&rs.to_rules_file())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STOCK: &str = include_str!("../tests/fixtures/devfs.rules");

    #[test]
    fn reads_the_stock_file_and_round_trips() {
        let f = RulesFile::parse(STOCK).unwrap();
        let names: Vec<(&str, u16)> = f
            .rulesets
            .iter()
            .map(|r| (r.name.as_str(), r.id.0))
            .collect();
        assert_eq!(
            names,
            [
                ("devfsrules_hide_all", 1),
                ("devfsrules_unhide_basic", 2),
                ("devfsrules_unhide_login", 3),
                ("devfsrules_jail", 4),
                ("devfsrules_jail_vnet", 5)
            ]
        );
        let jail = f.get("devfsrules_jail").unwrap();
        assert_eq!(jail.rules[0].actions, [Action::Include(RulesetId(1))]);
        assert_eq!(jail.rules.last().unwrap().path(), Some("zfs"));
        let again = RulesFile::parse(&f.to_string()).unwrap();
        assert_eq!(again, f);
        // The stock file evaluates like our built-in copy of it.
        let map: BTreeMap<RulesetId, Vec<Rule>> =
            f.rulesets.iter().map(|r| (r.id, r.rules.clone())).collect();
        let nodes: Vec<crate::eval::Node> = ["null", "nvidia0", "pts/1", "mem"]
            .iter()
            .map(|n| crate::eval::Node::new(n))
            .collect();
        assert_eq!(
            crate::eval::visible(&nodes, &map, RulesetId(4), 1),
            ["null", "pts/1"]
        );
    }

    #[test]
    fn rule_lines() {
        let r = parse_rule_line(
            "add 300 type disk path 'da*' unhide mode 0660 group operator",
            1,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(r.number, Some(300));
        assert_eq!(
            r.actions,
            [
                Action::Unhide,
                Action::Mode(0o660),
                Action::GroupName("operator".into())
            ]
        );
        assert_eq!(
            r.to_string(),
            "add 300 type disk path 'da*' unhide mode 0660 group operator"
        );
        let q = parse_rule_line(r#"add path "it's" hide"#, 1, &BTreeMap::new()).unwrap();
        assert_eq!(q.path(), Some("it's"));
        assert_eq!(
            parse_rule_line(&q.to_string(), 1, &BTreeMap::new()).unwrap(),
            q
        );
    }

    #[test]
    fn bad_input_names_line_and_column() {
        let cases = [
            ("add 70000 hide", "1:5: rule number"),
            ("add 0 hide", "1:5: rule number 0"),
            ("add type floppy hide", "1:10: unknown type"),
            ("add path x frobnicate", "1:12: unknown keyword"),
            ("add path", "`path` needs a pattern"),
            ("add mode 999 hide", "mode \"999\""),
            ("add include $nope", "unknown ruleset $nope"),
            ("delete 5", "expected `add`"),
            ("add path 'unterminated hide", "unterminated"),
            ("add path x", "has no action"),
        ];
        for (line, want) in cases {
            let e = parse_rule_line(line, 1, &BTreeMap::new())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{line:?}: {e}");
        }
        let long = format!("add path '{}' hide", "a".repeat(200));
        assert!(parse_rule_line(&long, 1, &BTreeMap::new())
            .unwrap_err()
            .to_string()
            .contains("1..199 bytes"));
        assert!(RulesFile::parse("add hide\n")
            .unwrap_err()
            .to_string()
            .contains("1:1: rule before any"));
        assert!(RulesFile::parse("[a=1]\n[a=2]\n")
            .unwrap_err()
            .to_string()
            .contains("2:1: ruleset a=2 defined twice"));
        assert!(RulesFile::parse("[bad name=1]\n").is_err());
        assert!(RulesFile::parse("[x=0]\n").is_err());
    }

    fn arb_rule() -> impl Strategy<Value = Rule> {
        let cond = prop_oneof![
            "[a-z0-9*?/'\" \\[\\]-]{1,30}".prop_map(Condition::Path),
            prop_oneof![
                Just(DevType::Disk),
                Just(DevType::Mem),
                Just(DevType::Tape),
                Just(DevType::Tty)
            ]
            .prop_map(Condition::Type),
        ];
        let act = prop_oneof![
            Just(Action::Hide),
            Just(Action::Unhide),
            any::<u32>().prop_map(Action::User),
            any::<u32>().prop_map(Action::Group),
            "[a-z_][a-z0-9_]{0,8}".prop_map(Action::UserName),
            (0u16..=0o7777).prop_map(Action::Mode),
            (1u16..).prop_map(|n| Action::Include(RulesetId(n))),
        ];
        (
            proptest::option::of(1u16..),
            proptest::collection::vec(cond, 0..2),
            proptest::collection::vec(act, 1..4),
        )
            .prop_filter_map("valid", |(number, conditions, actions)| {
                let r = Rule {
                    number,
                    conditions,
                    actions,
                };
                r.validate().ok().map(|_| r)
            })
    }

    proptest! {
        #[test]
        fn no_panic_on_any_text(s in "\\PC{0,200}") {
            let _ = RulesFile::parse(&s);
            let _ = parse_rule_line(&s, 1, &BTreeMap::new());
        }

        #[test]
        fn print_parse_round_trip(rules in proptest::collection::vec(arb_rule(), 0..6), id in 1u16..) {
            let f = RulesFile { rulesets: vec![Ruleset { id: RulesetId(id), name: "r_1".into(), rules }] };
            prop_assert_eq!(RulesFile::parse(&f.to_string()).unwrap(), f);
        }
    }
}
