//! devfs(8) rule text and devfs.rules(5) files: printer and parser (pure).
//!
//! A rule line is `add [N] [path PATTERN] [type disk|mem|tape|tty] ACTION…` with the actions
//! `hide`, `unhide`, `user U`, `group G`, `mode MODE` and `include N|$name`. A devfs.rules file
//! holds `[name=N]` section headers, rule lines and `#` comments. Reading is
//! [`crate::load::Loader`]'s: exactly what rc.subr and devfs(8) make of the text at boot. The
//! printer writes only text that loader reads back to the same rules.
//!
//! # References
//! [devfs(8)](https://man.freebsd.org/cgi/man.cgi?query=devfs&sektion=8),
//! [devfs.rules(5)](https://man.freebsd.org/cgi/man.cgi?query=devfs.rules&sektion=5)

use crate::error::{Error, Op, Result};
use crate::load::{Loader, Report};
use crate::types::{Rule, Ruleset, RulesetId};
use std::collections::BTreeMap;
use std::fmt;
use sysabi::ErrorKind;

pub use crate::load::MAX_RULES_BYTES;

/// Quotes a word for a devfs.rules line: bare when rc.subr's `read` and `eval` leave it as it
/// is, else as [`quote_pattern`].
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:+,@%/=".contains(c))
        && !s.starts_with(['-', '~']);
    if plain {
        s.to_string()
    } else {
        quote_pattern(s)
    }
}

/// Quotes a word so that a devfs.rules line carries it through rc.subr to devfs(8) unchanged:
/// single quotes (so `eval` leaves `*`, `$`, `#`, spaces alone); a `'` as `"'"` between
/// single-quoted parts; a `\\` doubled, because `read` drops one. Text rc.subr cannot carry (a
/// newline, a tab, two spaces in a row: its unquoted `$rulecmd` is split into words before
/// `eval`) is refused by [`Rule::validate`]. A printed line never ends in `\\#*`, the one ending
/// rc.subr strips.
pub fn quote_pattern(s: &str) -> String {
    let mut o = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => o.push_str("'\"'\"'"),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('\'');
    o
}

fn problem_error(p: &crate::load::Problem) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, p.to_string())
}

/// Parses one `add …` line of a devfs.rules file, as rc.subr and devfs(8) read it. `names`
/// resolves `include $name`; user and group names are kept, unresolved.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] with `line N:` and what FreeBSD would do.
pub fn parse_rule_line(
    line: &str,
    lineno: usize,
    names: &BTreeMap<String, RulesetId>,
) -> Result<Rule> {
    let mut text = String::new();
    for (n, id) in names {
        text.push_str(&format!("[{n}={id}]\nadd 0\n"));
    }
    text.push_str("[cudajail_line=65535]\n");
    let skip = text.lines().count();
    text.push_str(line);
    text.push('\n');
    let mut l = Loader::standalone();
    let r = l.load(text.as_bytes());
    if let Some(p) = r.problems.iter().find(|p| p.line > skip) {
        let mut p = p.clone();
        p.line = lineno;
        return Err(problem_error(&p));
    }
    match r.sets.last().map(|s| s.rules.as_slice()) {
        Some([one]) => Ok(one.rule.clone()),
        _ => Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("line {lineno}: not a rule"),
        )),
    }
}

/// A devfs.rules(5) file: rulesets in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RulesFile {
    /// The sections.
    pub rulesets: Vec<Ruleset>,
}

impl RulesFile {
    /// Parses a devfs.rules(5) text read on its own, as the first file of a boot would be
    /// ([`Loader::standalone`]: an `include` of a number is not checked against rulesets of
    /// other files).
    ///
    /// # Errors
    /// The first line FreeBSD fails on or cudajail refuses, as `line N: …`.
    pub fn parse(text: &str) -> Result<RulesFile> {
        Self::from_report(
            Loader::standalone()
                .without_commands()
                .load(text.as_bytes()),
        )
    }

    /// Parses a text as `/etc/devfs.rules`: loaded after FreeBSD's stock rulesets
    /// ([`crate::load::STOCK_RULES`]), so `$devfsrules_jail` and `include 4` resolve and every
    /// `include` must name a ruleset loaded before it.
    ///
    /// # Errors
    /// As [`RulesFile::parse`].
    pub fn parse_after_stock(text: &str) -> Result<RulesFile> {
        let mut l = Loader::new(None).without_commands();
        l.load_stock();
        Self::from_report(l.load(text.as_bytes()))
    }

    fn from_report(r: Report) -> Result<RulesFile> {
        if let Some(p) = r.problems.first() {
            return Err(problem_error(p));
        }
        Ok(RulesFile {
            rulesets: r.into_rulesets(),
        })
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
    use crate::types::{Action, Condition, DevType};
    use proptest::prelude::*;

    const STOCK: &str = include_str!("stock.devfs.rules");

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
        assert_eq!(q.to_string(), r#"add path 'it'"'"'s' hide"#);
        assert_eq!(
            parse_rule_line(&q.to_string(), 1, &BTreeMap::new()).unwrap(),
            q
        );
    }

    /// The printer's old output that rc.subr reads differently: `'a\b'` (read drops the
    /// backslash) and `"it's\"x"` (read drops the backslash, then eval sees an open quote).
    #[test]
    fn printed_patterns_survive_read_and_eval() {
        for p in [
            "a\\b", "it's\"x", "a\\#b", "#x", "a b", "$x", "a\\", "'", "\\'\\",
        ] {
            let r = Rule::unhide(p);
            let back = parse_rule_line(&r.to_string(), 1, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("{p:?} printed as {r}: {e}"));
            assert_eq!(back.path(), Some(p), "printed as {r}");
        }
    }

    #[test]
    fn bad_input_names_the_line_and_what_freebsd_does() {
        let cases = [
            ("add 70000 hide", "unknown argument: 70000"),
            ("add type floppy hide", "unknown type: floppy"),
            ("add path x frobnicate", "unknown argument: frobnicate"),
            ("add unhide path x", "must come before the actions"),
            ("add path", "expecting argument for path"),
            ("add mode 999 hide", "invalid mode: 999"),
            (
                "add include $nope",
                "$nope is not the name of an earlier ruleset",
            ),
            ("delete 5", "unknown command: delete"),
            ("add path 'unterminated hide", "unterminated quoted string"),
            ("add user 2147483648", "larger than INT_MAX"),
            ("add hide; reboot", "';' outside quotes"),
        ];
        for (line, want) in cases {
            let e = parse_rule_line(line, 7, &BTreeMap::new())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.contains("line 7"), "{line:?}: {e}");
        }
        let long = format!("add path '{}' hide", "a".repeat(200));
        assert!(parse_rule_line(&long, 1, &BTreeMap::new())
            .unwrap_err()
            .to_string()
            .contains("cuts it to 199"));
        assert!(RulesFile::parse("add hide\n")
            .unwrap_err()
            .to_string()
            .contains("line 1: fails at boot: a rule before any"));
        assert!(RulesFile::parse("[a=1]\nadd hide\n[a=2]\nadd hide\n")
            .unwrap_err()
            .to_string()
            .contains("line 3: refused: ruleset name a is already defined"));
        assert!(RulesFile::parse("[bad name=1]\n").is_err());
        assert!(RulesFile::parse("[x=0]\n").is_err());
        assert!(RulesFile::parse("[ spaced = 10 ]\n")
            .unwrap_err()
            .to_string()
            .contains("cannot extract the ruleset number"));
    }

    #[test]
    fn after_stock_names_and_includes_resolve() {
        let f = RulesFile::parse_after_stock(
            "[gpu=100]\nadd include $devfsrules_jail\nadd include 2\nadd path nvidia0 unhide\n",
        )
        .unwrap();
        assert_eq!(
            f.rulesets[0].rules[0].actions,
            [Action::Include(RulesetId(4))]
        );
        let e = RulesFile::parse_after_stock("[gpu=100]\nadd include 77\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ESRCH"), "{e}");
    }

    pub(crate) fn arb_rule() -> impl Strategy<Value = Rule> {
        let cond = prop_oneof![
            "[a-z0-9*?/'\" \\[\\]#$\\\\-]{1,30}".prop_map(Condition::Path),
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
            "[a-z_][a-z0-9_ #$']{0,8}".prop_map(Action::GroupName),
            (0u16..=0o7777).prop_map(Action::Mode),
            (1u16..).prop_map(|n| Action::Include(RulesetId(n))),
        ];
        (
            // Explicit numbers leave the kernel room to number a few more (last + 100).
            proptest::option::of(1u16..=60000),
            proptest::collection::vec(cond, 0..2),
            proptest::collection::vec(act, 0..4),
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
        fn no_panic_on_shell_like_text(s in "[\\[\\]=a-z0-9 '\"\\\\#$;{}()\t\r\n-]{0,120}") {
            let _ = RulesFile::parse(&s);
        }

        /// Print → load (rc.subr's read, eval, devfs(8)) gives the same rules.
        #[test]
        fn print_load_round_trip(rules in proptest::collection::vec(arb_rule(), 0..6), id in 1u16..) {
            // Distinct explicit numbers, as the kernel requires.
            let mut seen = std::collections::BTreeSet::new();
            let rules: Vec<Rule> = rules.into_iter().filter(|r| r.number.is_none_or(|n| seen.insert(n))).collect();
            let f = RulesFile { rulesets: vec![Ruleset { id: RulesetId(id), name: "r_1".into(), rules }] };
            let text = f.to_string();
            let back = RulesFile::parse(&text);
            prop_assert!(back.is_ok(), "{}: {:?}", text, back);
            prop_assert_eq!(back.unwrap(), f);
        }
    }
}
