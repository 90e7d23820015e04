//! Each test names the FreeBSD source whose rule it checks; expected values are worked out by
//! hand from those rules.

use super::*;
use crate::types::{Action, Condition, DevType};

fn names() -> NameTable {
    NameTable::from_files(
        "# passwd\nroot:*:0:0:Charlie &:/root:/bin/sh\nuucp:*:66:66::0:0:UUCP:/var/spool/uucppublic:/usr/local/libexec/uucp/uucico\n+:::::::::\n",
        "wheel:*:0:root\noperator:*:5:root\nvideo:*:44:\n",
    )
}

fn boot(text: &str) -> Report {
    let n = names();
    let mut l = Loader::new(Some(&n));
    assert!(l.load_stock().is_clean(), "the stock file loads cleanly");
    l.load(text.as_bytes())
}

fn rules(r: &Report) -> Vec<String> {
    r.sets
        .iter()
        .flat_map(|s| {
            s.rules
                .iter()
                .map(move |l| format!("{}:{} {}", s.id, l.number, l.rule))
        })
        .collect()
}

fn only_problem(r: &Report) -> &Problem {
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    &r.problems[0]
}

/// rc.subr `devfs_rulesets_from_file`: `read line` drops a backslash and keeps the character
/// after it, so `'a\*b'` in the file reaches eval as `'a*b'`.
#[test]
fn read_drops_backslashes_before_eval() {
    let r = boot("[r=100]\nadd path 'a\\*b' unhide\nadd path \"a\\\\*b\" unhide\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(r.sets[0].rules[0].rule.path(), Some("a*b"));
    // `"a\\*b"`: read leaves `"a\*b"`; in double quotes `\*` keeps its backslash.
    assert_eq!(r.sets[0].rules[1].rule.path(), Some("a\\*b"));
}

/// `"a\"b"` in the file: read drops the backslash, eval sees `"a"b"` with an open quote.
#[test]
fn an_escaped_double_quote_is_a_syntax_error() {
    let r = boot("[r=100]\nadd path \"a\\\"b\" unhide\nadd path x unhide\n");
    let p = only_problem(&r);
    assert_eq!((p.line, p.verdict), (2, Verdict::Fails));
    assert!(p.message.contains("unterminated quoted string"), "{p}");
    assert_eq!(r.stops_at, Some(2));
}

/// A double-quoted `\n` is not a newline: read makes it `n`.
#[test]
fn a_double_quoted_backslash_n_is_an_n() {
    let r = boot("[r=100]\nadd path \"a\\nb\" unhide\n");
    assert_eq!(r.sets[0].rules[0].rule.path(), Some("anb"));
}

/// `read`: a backslash before the newline joins the lines; the rule keeps the first line's
/// number.
#[test]
fn continuation_lines_are_joined() {
    let r = boot("[r=100]\nadd path nvidia0 \\\n    unhide\nadd path x hide\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(r.sets[0].rules[0].line, 2);
    assert_eq!(r.sets[0].rules[0].rule.actions, [Action::Unhide]);
    assert_eq!(r.sets[0].rules[1].line, 4);
}

/// `read` keeps a CR; eval puts it in the last word, which devfs(8) then does not know.
#[test]
fn crlf_rule_lines_fail() {
    let r = boot("[r=100]\r\nadd path x unhide\r\n# c\r\n");
    let p = only_problem(&r);
    assert_eq!((p.line, p.verdict), (2, Verdict::Fails));
    assert!(p.message.contains("CRLF"), "{p}");
    // The header still reads: expr matches `[r=100]` and ignores what follows the `]`.
    assert_eq!(r.sets[0].id, RulesetId(100));
}

/// `while read line` fails at end of file on a line with no newline: that line never loads.
#[test]
fn a_last_line_without_newline_never_loads() {
    let r = boot("[r=100]\nadd path x unhide");
    let p = only_problem(&r);
    assert!(p.message.contains("no newline"), "{p}");
    assert!(r.sets[0].rules.is_empty());
    assert!(boot("[r=100]\nadd path x unhide\n# end").is_clean());
}

/// `case $line in \#*`: only a line starting with `#` is a comment line; elsewhere a `#` is a
/// comment only where eval sees it start a word.
#[test]
fn comments_are_hashes_that_start_a_word() {
    let r = boot("  # indented comment\n[r=100] # header comment\nadd path web#1 unhide # trailing\nadd path '#x' unhide\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    let got: Vec<_> = r.sets[0]
        .rules
        .iter()
        .map(|l| l.rule.path().unwrap())
        .collect();
    assert_eq!(got, ["web#1", "#x"]);
    assert_eq!(r.sets[0].rules[0].rule.actions, [Action::Unhide]);
}

/// `rulecmd="${line%%"\#*"}"`: the pattern is quoted, so it is the literal `\#*` and only a
/// line ending in those three characters loses them (dash, bash and busybox agree).
#[test]
fn the_backslash_hash_cut_only_strips_a_literal_ending() {
    // `\\#` in the file → read → `\#`: not cut; eval reads `\#` as a literal `#`.
    let r = boot("[r=100]\nadd path 'a\\\\#b' unhide\nadd path x\\\\# hide\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(r.sets[0].rules[0].rule.path(), Some("a\\#b"));
    assert_eq!(r.sets[0].rules[1].rule.path(), Some("x#"));
    // A line ending in `\#*` after read loses it: `add path x hide\\#*` → `add path x hide`.
    let r = boot("[r=100]\nadd path x hide\\\\#*\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(r.sets[0].rules[0].rule.actions, [Action::Hide]);
}

/// Header: `expr "$line" : "\[.*=\([0-9]*\)\]"`; the greedy `.*` takes the last `=N]`.
#[test]
fn headers_as_expr_reads_them() {
    let r = boot("[gpu_jail=100]\nadd hide\n[ok=0101] trailing words\nadd hide\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(
        (r.sets[1].name.as_str(), r.sets[1].id),
        ("ok", RulesetId(101))
    );
    for (text, want) in [
        ("[ spaced = 10 ]\n", "cannot extract the ruleset number"),
        ("[name=]\n", "cannot extract the ruleset number"),
        ("[=10]\n", "cannot extract the ruleset name"),
        ("[big=70000]\nadd hide\n", "error converting to number"),
    ] {
        let r = boot(text);
        assert_eq!(r.problems[0].verdict, Verdict::Fails, "{text:?}");
        assert!(
            r.problems[0].message.contains(want),
            "{text:?}: {}",
            r.problems[0]
        );
    }
    // `eval my rules=$rulenum` runs a command: FreeBSD loads the rules, nothing can name them.
    let r = boot("[my rules=100]\nadd hide\n");
    assert_eq!(only_problem(&r).verdict, Verdict::Refused);
    assert_eq!(r.sets[0].rules.len(), 1);
    let r = boot("[a=b=100]\nadd hide\n");
    assert_eq!((r.sets[0].name.as_str(), r.sets[0].id.0), ("a=b", 100));
    assert_eq!(only_problem(&r).verdict, Verdict::Refused);
}

/// Each header runs `devfs rule -s N delset`: a second header for a number loaded before
/// deletes its rules. FreeBSD does it; we refuse it.
#[test]
fn a_header_for_a_loaded_ruleset_is_refused() {
    let r = boot("[devfsrules_jail=4]\nadd hide\n");
    let p = only_problem(&r);
    assert_eq!(p.verdict, Verdict::Refused);
    assert!(p.message.contains("delset"), "{p}");
    // What boot does anyway: ruleset 4 now holds the one rule.
    assert_eq!(rules(&r), ["4:100 add hide"]);
}

/// rule.c `rulespec_intok`: conditions first; an action before a condition makes the
/// condition an unknown argument.
#[test]
fn conditions_before_actions() {
    let r = boot("[r=100]\nadd unhide path x\nadd path y unhide\n");
    let p = only_problem(&r);
    assert_eq!((p.line, p.verdict), (2, Verdict::Fails));
    assert!(p.message.contains("unknown argument: path"), "{p}");
    // rc.subr stops at the first failure: line 3 is reported as loaded by the model but the
    // report says loading stops at line 2.
    assert_eq!(r.stops_at, Some(2));
}

/// devfs(8) accepts: symbolic modes (setmode), `add 0`, a rule with no action, `user -1`,
/// names through the host's databases, `$name` of a stock header.
#[test]
fn what_devfs_accepts() {
    let r = boot(
        "[r=100]\n\
         add path 'nvidia*' unhide mode u=rw,g=rw group video\n\
         add 0 path dri\n\
         add 0\n\
         add path null user -1 group operator\n\
         add include $devfsrules_unhide_basic\n\
         add 450 type disk user root mode 0640\n\
         add type disk type disk hide\n",
    );
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(
        rules(&r),
        [
            "100:100 add path 'nvidia*' unhide mode 0660 group video",
            "100:200 add path 'dri'",
            "100:300 add 0",
            "100:400 add path 'null' user -1 group operator",
            "100:500 add include 2",
            "100:450 add 450 type disk user root mode 0640",
            "100:600 add type disk hide",
        ]
    );
    let a = &r.sets[0].rules[3].rule.actions;
    assert_eq!(a[0], Action::User(u32::MAX));
}

/// What devfs(8) accepts and cudajail refuses, each saying what FreeBSD would do.
#[test]
fn what_we_refuse_and_why() {
    for (line, want) in [
        ("add type disk type tty hide", "ORs the types"),
        ("add path x hide unhide", "ends up visible"),
        ("add path x path y hide", "keeps only the last"),
        ("add del 100", "unknown argument"),
        ("del 100", "accepts only those"),
        ("add -", "standard input"),
        ("add path $HOME unhide", "rc.conf"),
        ("add path $(reboot) unhide", "command substitution"),
        ("add path `reboot` unhide", "outside quotes"),
        ("add hide > /tmp/x", "outside quotes"),
        ("add path x user ''", "reads it as 0"),
        ("add path x user -99999999999", "below INT_MIN"),
    ] {
        let r = boot(&format!("[r=100]\n{line}\n"));
        assert!(!r.problems.is_empty(), "{line:?}");
        assert!(
            r.problems[0].message.contains(want),
            "{line:?}: {}",
            r.problems[0]
        );
    }
    let long = format!("[r=100]\nadd path '{}' hide\n", "a".repeat(200));
    assert_eq!(only_problem(&boot(&long)).verdict, Verdict::Refused);
}

/// A name that does not resolve and is not a number: devfs(8) `eatoi` fails, and rc.subr loads
/// nothing after it (`break`).
#[test]
fn an_unknown_group_stops_the_file() {
    let r = boot("[r=100]\nadd path dsp* unhide group audio\nadd path nvidia0 unhide\n");
    let p = only_problem(&r);
    assert_eq!((p.line, p.verdict), (2, Verdict::Fails));
    assert!(
        p.message.contains("no such group") && p.message.contains("audio"),
        "{p}"
    );
    assert_eq!(r.stops_at, Some(2));
    // With no name lookup (a file read on its own) the name is kept, unchecked.
    let alone = Loader::standalone().load(b"[r=100]\nadd path dsp* unhide group audio\n");
    assert!(alone.is_clean());
    assert_eq!(
        alone.sets[0].rules[0].rule.actions[1],
        Action::GroupName("audio".into())
    );
}

/// devfs.c `eatoi`: `strtol`, the whole word, no more than INT_MAX.
#[test]
fn user_and_group_numbers_as_eatoi_reads_them() {
    let r = boot("[r=100]\nadd path a user 2147483647\nadd path b group +5\nadd path c user -2\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    let ids: Vec<_> = r.sets[0]
        .rules
        .iter()
        .map(|l| l.rule.actions[0].clone())
        .collect();
    assert_eq!(
        ids,
        [
            Action::User(i32::MAX as u32),
            Action::Group(5),
            Action::User(u32::MAX - 1)
        ]
    );
    let r = boot("[r=100]\nadd path a user 2147483648\n");
    assert!(only_problem(&r).message.contains("INT_MAX"));
    let r = boot("[r=100]\nadd path a user 12abc\n");
    assert_eq!(only_problem(&r).verdict, Verdict::Fails);
}

/// devfs_rule.c: an include of a ruleset that has no rules (so does not exist) is ESRCH; an
/// explicit rule number used twice is EEXIST; automatic numbers are last + 100.
#[test]
fn kernel_refusals() {
    let r = boot("[later=100]\nadd include $forward\n[forward=101]\nadd hide\n");
    assert!(only_problem(&r)
        .message
        .contains("$forward is not the name"));
    let r = boot("[a=100]\nadd include 101\n[b=101]\nadd hide\n");
    assert!(only_problem(&r).message.contains("ESRCH"));
    let r = boot("[empty=101]\n[a=100]\nadd include $empty\n");
    assert!(
        only_problem(&r).message.contains("ESRCH"),
        "an empty ruleset does not exist"
    );
    let r = boot("[a=100]\nadd 100 hide\nadd 100 unhide\n");
    assert!(only_problem(&r).message.contains("EEXIST"));
    let r = boot("[a=100]\nadd 65500 hide\nadd hide\n");
    assert!(only_problem(&r).message.contains("ERANGE"));
    let r = boot("[a=100]\nadd 300 hide\nadd unhide\n");
    assert_eq!(rules(&r), ["100:300 add 300 hide", "100:400 add unhide"]);
}

/// rc.subr keeps `$rulenum` in the shell across files: a second file's rule before its first
/// header goes into the previous file's last ruleset.
#[test]
fn rules_before_a_header_in_a_later_file() {
    let r = boot("add hide\n");
    let p = only_problem(&r);
    assert_eq!(p.verdict, Verdict::Refused);
    assert!(p.message.contains("ruleset 5"), "{p}");
    let fresh = Loader::new(None).load(b"add hide\n");
    assert_eq!(fresh.problems[0].verdict, Verdict::Fails);
}

#[test]
fn the_stock_file_loads_as_freebsd_numbers_it() {
    let mut l = Loader::new(None);
    let r = l.load_stock();
    assert!(r.is_clean());
    let ids: Vec<u16> = r.sets.iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(
        r.sets[3].rules[0].rule.actions,
        [Action::Include(RulesetId(1))]
    );
    assert_eq!(r.sets[0].rules[0].number, 100);
    assert_eq!(l.kernel_rulesets().len(), 5);
}

#[test]
fn limits_and_bad_bytes() {
    let mut l = Loader::new(None);
    let big = vec![b'#'; MAX_RULES_BYTES + 1];
    assert_eq!(l.load(&big).problems.len(), 1);
    let r = Loader::new(None).load(b"[r=100]\nadd path \xff unhide\n");
    assert_eq!(
        (r.problems[0].line, r.problems[0].verdict),
        (2, Verdict::Refused)
    );
    let r = Loader::new(None).load(b"[r=100]\nadd path a\0 unhide\n");
    assert_eq!(r.problems[0].line, 2);
}

#[test]
fn condition_order_is_kept() {
    let r = boot("[r=100]\nadd path 'da*' type disk unhide\n");
    assert_eq!(
        r.sets[0].rules[0].rule.conditions,
        [
            Condition::Path("da*".into()),
            Condition::Type(DevType::Disk)
        ]
    );
}

/// `devfs rule show`'s format (rule.c `rulespec_outfp`): raw path, names by getpwuid/getgrgid
/// else the id as a signed int, mode in octal without a leading 0.
#[test]
fn show_lines_as_devfs_prints_them() {
    let n = names();
    let r = boot("[r=100]\nadd path 'nvidia*' unhide mode u=rw,g=rw group video\nadd 450 type disk path da* user -1 mode 0640\nadd include $devfsrules_hide_all\nadd path x group 4242\n");
    assert!(r.is_clean(), "{:?}", r.problems);
    let got: Vec<String> = r.sets[0]
        .rules
        .iter()
        .map(|l| show_line(&l.rule, l.number, &n))
        .collect();
    assert_eq!(
        got,
        [
            "100 path nvidia* unhide group video mode 660",
            "450 type disk path da* user -1 mode 640",
            "550 include 1", // last + 100
            "650 path x group 4242",
        ]
    );
}

/// The whole-file `read line` this module had before it read one line at a time: the oracle
/// for the lazy one.
fn read_lines_old(text: &str) -> Vec<(usize, String, bool)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut phys = 1;
    while chars.peek().is_some() {
        let start = phys;
        let mut s: Vec<(char, bool)> = Vec::new();
        let mut newline = false;
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    phys += 1;
                    newline = true;
                    break;
                }
                '\\' => match chars.next() {
                    Some('\n') => phys += 1,
                    Some(n) => s.push((n, true)),
                    None => {}
                },
                c => s.push((c, false)),
            }
        }
        let ifs = |(c, esc): &(char, bool)| !esc && (*c == ' ' || *c == '\t');
        let a = s.iter().position(|x| !ifs(x)).unwrap_or(s.len());
        let b = s.iter().rposition(|x| !ifs(x)).map_or(a, |p| p + 1);
        out.push((
            start,
            s[a..b.max(a)].iter().map(|(c, _)| *c).collect(),
            newline,
        ));
    }
    out
}

fn arb_lines() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    const P: &[&str] = &[
        " ", "\t", "\n", "\\", "\\ ", "\\\n", "a", "é", "#", "\\\t", "add",
    ];
    proptest::collection::vec(proptest::sample::select(P), 0..30).prop_map(|v| v.concat())
}

proptest::proptest! {
    #[test]
    fn lazy_read_lines_match_the_whole_file_reader(t in arb_lines()) {
        let new: Vec<_> = read_lines(&t).map(|r| (r.line, r.text, r.newline)).collect();
        proptest::prop_assert_eq!(new, read_lines_old(&t));
    }
}

#[test]
fn without_commands_the_report_is_the_same_but_the_commands() {
    let text = "[a=10]\nadd hide\nadd path 'nvidia*' unhide mode 0660 group video\n\
                [b=11]\nadd include $a\nadd path zfs unhide\nadd bogus\n";
    let n = names();
    let full = Loader::new(Some(&n)).load(text.as_bytes());
    let lean = Loader::new(Some(&n))
        .without_commands()
        .load(text.as_bytes());
    assert!(!full.commands.is_empty());
    assert!(lean.commands.is_empty());
    assert_eq!(
        (&lean.sets, &lean.problems, lean.stops_at),
        (&full.sets, &full.problems, full.stops_at)
    );
    assert_eq!(full.rulesets(), full.clone().into_rulesets());
    assert_eq!(full.problems.len(), 1, "{:?}", full.problems);
}

#[test]
fn load_each_hands_out_the_rules_load_keeps() {
    let text = "[a=10]\nadd hide\nadd path 'nvidia*' unhide mode 0660 group video\n\
                [b=11]\nadd include $a\nadd 300 path zfs unhide\nadd bogus\nadd path shm unhide\n";
    let n = names();
    let kept = Loader::new(Some(&n)).load(text.as_bytes());
    let mut got = Vec::new();
    let lean = Loader::new(Some(&n)).load_each(text.as_bytes(), |rs, r| got.push((rs, r)));
    let want: Vec<(RulesetId, LoadedRule)> = kept
        .sets
        .iter()
        .flat_map(|s| s.rules.iter().map(|r| (s.id, r.clone())))
        .collect();
    assert_eq!(got, want);
    assert_eq!(want.len(), 5);
    assert!(lean.sets.iter().all(|s| s.rules.is_empty()));
    assert_eq!(
        lean.sets
            .iter()
            .map(|s| (&s.name, s.id))
            .collect::<Vec<_>>(),
        kept.sets
            .iter()
            .map(|s| (&s.name, s.id))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        (&lean.problems, lean.stops_at),
        (&kept.problems, kept.stops_at)
    );
    // The kernel numbers follow on across the rules handed out.
    assert_eq!(
        got.iter().map(|(_, r)| r.number).collect::<Vec<_>>(),
        [100, 200, 100, 300, 400]
    );
}
