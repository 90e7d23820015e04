//! devfs.rules(5) loaded the way FreeBSD loads it at boot: rc.subr, then devfs(8), then the
//! kernel.
//!
//! At boot `devfs_init_rulesets` (libexec/rc/rc.subr) calls `devfs_rulesets_from_file` for each
//! file of `devfs_rulesets` (`/etc/defaults/devfs.rules`, then `/etc/devfs.rules`), in one shell,
//! with globbing off (`set -f`). For every line that function:
//!
//! 1. reads it with `read line` (no `-r`): a backslash escapes the next character and is
//!    dropped, a backslash before the newline joins the next line, spaces and tabs at both ends
//!    go, a CR stays; a last line with no newline is never seen (`read` fails at end of file);
//! 2. skips it when it starts with `#`;
//! 3. treats `[…]…` as a header: `expr "$line" : "\[.*=\([0-9]*\)\]"` gives the number (the
//!    last `=DIGITS]`; anything may follow the `]`), the text between `[` and it the name;
//!    no number or no name is an error; it then runs `eval $name=\$num` (a shell assignment,
//!    so a name that is not a shell identifier is run as a command) and
//!    `devfs rule -s $num delset` (the ruleset starts empty, whatever earlier files put in it);
//! 4. otherwise runs `rulecmd="${line%%"\#*"}"`, whose pattern is quoted and so the literal
//!    three characters `\#*`: it only strips a line *ending* in them (checked against dash,
//!    bash and busybox sh, `tests/rc_subr_oracle.rs`), it does not cut comments; then
//!    `eval /sbin/devfs rule -s $num $rulecmd`: `$rulecmd` is unquoted there, so it is split
//!    into fields first and eval joins them with single spaces (two spaces or a tab inside
//!    quotes become one space); then the line is
//!    parsed again as shell (quotes, `\`, `$name` of an earlier header, `#` starting a word is a
//!    comment, `;` `|` `&` `<` `>` `(` and backquotes are shell);
//! 5. stops at the first command that fails: no later line of that file is loaded.
//!
//! devfs(8) (`sbin/devfs/rule.c`, `rulespec_intok`, with `atonum`/`eatoi`/`eatonum` of
//! `sbin/devfs/devfs.c`) then reads `add [N] {type T | path P}… {action}…`: a first word
//! `strtoul` reads whole as 0..65535 is the rule number (0: the kernel numbers it); conditions
//! come first (two `type`s are ORed, a second `path` replaces the first, a pattern of 200 bytes
//! or more is cut with a warning); then actions, where a condition word is an "unknown
//! argument"; `user`/`group` take a name (getpwnam/getgrnam on the host) or an integer
//! (`strtol`, at most `INT_MAX`, negatives wrap); `mode` takes [`crate::mode::parse_mode`]'s
//! text; `include` a number. The kernel (`sys/fs/devfs/devfs_rule.c`) then refuses an
//! `include` of a ruleset that does not exist (`ESRCH`: a ruleset exists while it has rules), a
//! rule number already used (`EEXIST`), and numbers automatic rules last + 100 (`ERANGE` past
//! 65535).
//!
//! [`Loader`] follows all of that and reports, per line, what would fail at boot
//! ([`Verdict::Fails`]) and what FreeBSD would load but cudajail does not accept
//! ([`Verdict::Refused`], the message says what FreeBSD would do and why we refuse).
//! Accepted as FreeBSD does: symbolic modes, `add 0`, a rule with no action, `user -1`,
//! user and group names (through a [`NameLookup`]), a `$name` of any earlier header, comments
//! after a rule. Refused with a reason: two different `type`s, `hide unhide` together, two
//! `path`s, a pattern longer than the kernel keeps, `$` of anything but a ruleset name, shell
//! syntax, a header name that is not a shell identifier, ruleset 0, a second header for a
//! number or name already loaded, verbs other than `add`.
//!
//! # References
//! [devfs.rules(5)](https://man.freebsd.org/cgi/man.cgi?query=devfs.rules&sektion=5),
//! [devfs(8)](https://man.freebsd.org/cgi/man.cgi?query=devfs&sektion=8),
//! [rc.subr(8)](https://man.freebsd.org/cgi/man.cgi?query=rc.subr&sektion=8),
//! [sh(1)](https://man.freebsd.org/cgi/man.cgi?query=sh&sektion=1)

use crate::types::{Action, Condition, DevType, Rule, Ruleset, RulesetId, MAX_PATTERN_LEN};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// FreeBSD's `/etc/defaults/devfs.rules` rulesets 1–5, as rc.subr loads them before
/// `/etc/devfs.rules`.
pub const STOCK_RULES: &str = include_str!("stock.devfs.rules");

/// The largest devfs.rules text a [`Loader`] reads (16 MiB; the format has no nesting).
pub const MAX_RULES_BYTES: usize = 16 << 20;

/// How the host resolves user and group names (getpwnam(3), getgrnam(3), and back with
/// getpwuid(3), getgrgid(3)).
pub trait NameLookup {
    /// The uid of user `name`, if the host has one.
    fn uid(&self, name: &str) -> Option<u32>;
    /// The gid of group `name`, if the host has one.
    fn gid(&self, name: &str) -> Option<u32>;
    /// The name of uid `uid` (the first in the database), if any.
    fn user_name(&self, _uid: u32) -> Option<String> {
        None
    }
    /// The name of gid `gid`, if any.
    fn group_name(&self, _gid: u32) -> Option<String> {
        None
    }
}

/// Users and groups read from `passwd(5)` and `group(5)` text (the `files` source of
/// nsswitch.conf; NIS `+`/`-` lines are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    /// User name → uid.
    pub users: BTreeMap<String, u32>,
    /// Group name → gid.
    pub groups: BTreeMap<String, u32>,
    /// Users in file order (getpwuid finds the first with a uid).
    pub user_order: Vec<(String, u32)>,
    /// Groups in file order.
    pub group_order: Vec<(String, u32)>,
}

impl NameTable {
    /// Reads `/etc/passwd`-style and `/etc/group`-style text: the first field is the name, the
    /// third the id; malformed lines are skipped.
    pub fn from_files(passwd: &str, group: &str) -> NameTable {
        fn table(text: &str) -> Vec<(String, u32)> {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with('+') && !l.starts_with('-'))
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let id = f.nth(1)?.parse().ok()?;
                    (!name.is_empty()).then(|| (name.to_string(), id))
                })
                .collect()
        }
        let (u, g) = (table(passwd), table(group));
        // getpwnam finds the first entry of a name.
        let first = |v: &[(String, u32)]| {
            let mut m = BTreeMap::new();
            for (n, id) in v {
                m.entry(n.clone()).or_insert(*id);
            }
            m
        };
        NameTable {
            users: first(&u),
            groups: first(&g),
            user_order: u,
            group_order: g,
        }
    }
}

impl NameLookup for NameTable {
    fn uid(&self, name: &str) -> Option<u32> {
        self.users.get(name).copied()
    }
    fn gid(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }
    fn user_name(&self, uid: u32) -> Option<String> {
        self.user_order
            .iter()
            .find(|(_, u)| *u == uid)
            .map(|(n, _)| n.clone())
    }
    fn group_name(&self, gid: u32) -> Option<String> {
        self.group_order
            .iter()
            .find(|(_, g)| *g == gid)
            .map(|(n, _)| n.clone())
    }
}

/// `devfs rule show`'s line for a rule (`rulespec_outfp` in sbin/devfs/rule.c): the number, each
/// `type` set (disk, mem, tape, tty order), `path` as stored (no quoting), `hide`, `unhide`,
/// `user` and `group` by name when the host has one (else the id as a signed int), `mode` in
/// octal without a leading 0, `include`. Names in the rule are looked up through `names`.
pub fn show_line(rule: &Rule, number: u16, names: &dyn NameLookup) -> String {
    let mut s = number.to_string();
    let mut types: Vec<DevType> = rule
        .conditions
        .iter()
        .filter_map(|c| match c {
            Condition::Type(t) => Some(*t),
            Condition::Path(_) => None,
        })
        .collect();
    types.sort_by_key(|t| match t {
        DevType::Disk => 0,
        DevType::Mem => 1,
        DevType::Tape => 2,
        DevType::Tty => 3,
    });
    for t in types {
        s.push_str(&format!(" type {}", t.as_str()));
    }
    if let Some(p) = rule.path() {
        s.push_str(&format!(" path {p}"));
    }
    let has = |f: &dyn Fn(&Action) -> bool| rule.actions.iter().any(f);
    if has(&|a| matches!(a, Action::Hide)) {
        s.push_str(" hide");
    }
    if has(&|a| matches!(a, Action::Unhide)) {
        s.push_str(" unhide");
    }
    let last = |f: &dyn Fn(&Action) -> Option<Option<u32>>| rule.actions.iter().rev().find_map(f);
    // The kernel keeps one uid, one gid, one mode and one include: the last given.
    if let Some(uid) = last(&|a| match a {
        Action::User(u) => Some(Some(*u)),
        Action::UserName(n) => Some(names.uid(n)),
        _ => None,
    }) {
        let uid = uid.unwrap_or(0);
        match names.user_name(uid) {
            Some(n) => s.push_str(&format!(" user {n}")),
            None => s.push_str(&format!(" user {}", uid as i32)),
        }
    }
    if let Some(gid) = last(&|a| match a {
        Action::Group(g) => Some(Some(*g)),
        Action::GroupName(n) => Some(names.gid(n)),
        _ => None,
    }) {
        let gid = gid.unwrap_or(0);
        match names.group_name(gid) {
            Some(n) => s.push_str(&format!(" group {n}")),
            None => s.push_str(&format!(" group {}", gid as i32)),
        }
    }
    if let Some(Some(m)) = last(&|a| match a {
        Action::Mode(m) => Some(Some(u32::from(*m))),
        _ => None,
    }) {
        s.push_str(&format!(" mode {m:o}"));
    }
    if let Some(Some(r)) = last(&|a| match a {
        Action::Include(r) => Some(Some(u32::from(r.0))),
        _ => None,
    }) {
        s.push_str(&format!(" include {r}"));
    }
    s
}

/// What FreeBSD would make of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It fails at boot: rc.subr stops loading this file here.
    Fails,
    /// FreeBSD would load it, but cudajail does not accept it (the message says why).
    Refused,
}

/// One line FreeBSD or cudajail would not load as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The (first physical) line, 1-based.
    pub line: usize,
    /// Fails at boot, or refused by cudajail.
    pub verdict: Verdict,
    /// What happens and what to write instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.verdict {
            Verdict::Fails => "fails at boot",
            Verdict::Refused => "refused",
        };
        write!(f, "line {}: {what}: {}", self.line, self.message)
    }
}

/// A rule as loaded, with the number the kernel gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRule {
    /// The line it came from.
    pub line: usize,
    /// The rule as written (its `number` is `None` where the kernel numbered it).
    pub rule: Rule,
    /// The number it has in the kernel.
    pub number: u16,
}

/// A `[name=N]` section as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSet {
    /// Its name.
    pub name: String,
    /// Its number.
    pub id: RulesetId,
    /// The header's line.
    pub line: usize,
    /// Its rules, in file order.
    pub rules: Vec<LoadedRule>,
}

/// What loading one file did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The sections, in file order.
    pub sets: Vec<LoadedSet>,
    /// Every line that fails at boot or is refused, in order.
    pub problems: Vec<Problem>,
    /// The line where rc.subr stops loading this file at boot (the first failure).
    pub stops_at: Option<usize>,
    /// The devfs(8) command lines rc.subr runs for this file (`devfs` itself left out), with
    /// their lines, in order, whether devfs(8) then accepts them or not.
    pub commands: Vec<(usize, Vec<String>)>,
}

impl Report {
    /// Whether every line loads at boot and cudajail accepts the file.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the whole file loads at boot (refusals aside).
    pub fn loads_at_boot(&self) -> bool {
        self.stops_at.is_none()
    }

    /// The sections as [`Ruleset`]s (rules as written), moved out of the report.
    pub fn into_rulesets(self) -> Vec<Ruleset> {
        self.sets
            .into_iter()
            .map(|s| Ruleset {
                id: s.id,
                name: s.name,
                rules: s.rules.into_iter().map(|r| r.rule).collect(),
            })
            .collect()
    }

    /// The sections as [`Ruleset`]s (rules as written).
    pub fn rulesets(&self) -> Vec<Ruleset> {
        self.sets
            .iter()
            .map(|s| Ruleset {
                id: s.id,
                name: s.name.clone(),
                rules: s.rules.iter().map(|r| r.rule.clone()).collect(),
            })
            .collect()
    }
}

/// Loads devfs.rules files in order, in one rc.subr shell and one kernel, as boot does.
///
/// ```
/// use devfs::load::{Loader, NameTable, Verdict};
/// let names = NameTable::from_files("root:*:0:0::0:0:Charlie &:/root:/bin/sh\n", "video:*:44:\n");
/// let mut boot = Loader::new(Some(&names));
/// boot.load_stock();
/// let r = boot.load(b"[gpu=100]\nadd include $devfsrules_jail\nadd path 'nvidia*' unhide mode u=rw,g=rw group video\nadd path dri group audio\n");
/// assert_eq!(r.sets[0].rules.len(), 2);
/// assert_eq!(r.problems[0].line, 4);
/// assert_eq!(r.problems[0].verdict, Verdict::Fails);
/// assert_eq!(r.stops_at, Some(4));
/// ```
pub struct Loader<'a> {
    names: Option<&'a dyn NameLookup>,
    kernel_checks: bool,
    /// Whether [`Report::commands`] is filled (off for a plain parse: it is most of the
    /// memory).
    keep_commands: bool,
    umask: u16,
    /// Shell variables the headers set (`eval $name=\$num`).
    vars: BTreeMap<String, String>,
    /// `$rulenum` after the last header, as number and as text (it outlives a file: same
    /// shell).
    current: Option<(u16, String)>,
    /// The kernel's rulesets: rule numbers in use.
    kernel: BTreeMap<u16, BTreeSet<u16>>,
    /// Where each ruleset number and name was defined (file index, line).
    defined: BTreeMap<u16, (usize, usize)>,
    files: usize,
}

impl<'a> Loader<'a> {
    /// A fresh boot: no rulesets, no variables. `names` resolves `user`/`group` names; with
    /// `None`, names are kept unresolved and not checked.
    pub fn new(names: Option<&'a dyn NameLookup>) -> Loader<'a> {
        Loader {
            names,
            kernel_checks: true,
            keep_commands: true,
            umask: crate::mode::BOOT_UMASK,
            vars: BTreeMap::new(),
            current: None,
            kernel: BTreeMap::new(),
            defined: BTreeMap::new(),
            files: 0,
        }
    }

    /// A loader for one file read on its own: `include N` of a ruleset the file does not
    /// define is not checked against the kernel (it may come from another file).
    pub fn standalone() -> Loader<'a> {
        let mut l = Loader::new(None);
        l.kernel_checks = false;
        l
    }

    /// Leaves [`Report::commands`] empty (a parse that needs only the rulesets and the
    /// problems: those words are most of a report's memory).
    #[must_use]
    pub fn without_commands(mut self) -> Self {
        self.keep_commands = false;
        self
    }

    /// Loads [`STOCK_RULES`] first, as boot does.
    pub fn load_stock(&mut self) -> Report {
        self.load(STOCK_RULES.as_bytes())
    }

    /// The rulesets loaded so far, with their rule numbers.
    pub fn kernel_rulesets(&self) -> &BTreeMap<u16, BTreeSet<u16>> {
        &self.kernel
    }

    /// Loads one file's text.
    pub fn load(&mut self, text: &[u8]) -> Report {
        self.load_into(text, &mut |rep: &mut Report, r: LoadedRule| {
            if let Some(set) = rep.sets.last_mut() {
                set.rules.push(r);
            }
        })
    }

    /// Loads one file's text as [`Loader::load`] does, but hands each loaded rule to `f`
    /// (with its ruleset) instead of keeping it: the report's sets come back without rules,
    /// and memory stays at the loader's own (the rule numbers in use per ruleset) and one
    /// line's, whatever the size of the file.
    pub fn load_each(&mut self, text: &[u8], mut f: impl FnMut(RulesetId, LoadedRule)) -> Report {
        self.load_into(text, &mut |rep: &mut Report, r: LoadedRule| {
            if let Some(set) = rep.sets.last() {
                f(set.id, r);
            }
        })
    }

    fn load_into(&mut self, text: &[u8], sink: &mut dyn FnMut(&mut Report, LoadedRule)) -> Report {
        self.files += 1;
        let mut rep = Report::default();
        let fail = |rep: &mut Report, line: usize, verdict: Verdict, message: String| {
            if verdict == Verdict::Fails && rep.stops_at.is_none() {
                rep.stops_at = Some(line);
            }
            rep.problems.push(Problem {
                line,
                verdict,
                message,
            });
        };
        if text.len() > MAX_RULES_BYTES {
            fail(
                &mut rep,
                1,
                Verdict::Refused,
                format!(
                    "{} bytes, more than the {MAX_RULES_BYTES} cudajail reads",
                    text.len()
                ),
            );
            return rep;
        }
        let text = match std::str::from_utf8(text) {
            Ok(t) => t,
            Err(e) => {
                let line = text[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                fail(
                    &mut rep,
                    line,
                    Verdict::Refused,
                    "not UTF-8: FreeBSD reads the bytes as they are; cudajail reads devfs.rules as text".into(),
                );
                return rep;
            }
        };
        if let Some(pos) = text.find('\0') {
            let line = text[..pos].matches('\n').count() + 1;
            fail(
                &mut rep,
                line,
                Verdict::Refused,
                "a NUL byte: sh drops it, cudajail does not guess".into(),
            );
            return rep;
        }
        for rl in read_lines(text) {
            let (line, content) = (rl.line, rl.text);
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            if !rl.newline {
                fail(
                    &mut rep,
                    line,
                    Verdict::Fails,
                    "the file's last line has no newline: rc.subr's `while read line` stops \
                     before it, so it is never loaded; end the file with a newline"
                        .into(),
                );
                continue;
            }
            if is_header(&content) {
                match self.header(&content, line, &mut rep) {
                    Ok(None) => {}
                    Ok(Some((v, m))) => fail(&mut rep, line, v, m),
                    Err(m) => fail(&mut rep, line, Verdict::Fails, m),
                }
                continue;
            }
            match self.rule_line(&content, line, &mut rep, sink) {
                Ok(None) => {}
                Ok(Some((v, m))) => fail(&mut rep, line, v, m),
                Err(m) => fail(&mut rep, line, Verdict::Fails, m),
            }
        }
        rep
    }

    /// A header line. `Err`: fails at boot; `Ok(Some)`: a refusal (the header still loads).
    fn header(
        &mut self,
        content: &str,
        line: usize,
        rep: &mut Report,
    ) -> std::result::Result<Option<(Verdict, String)>, String> {
        let Some((name, num)) = header_fields(content) else {
            return Err(format!(
                "header {content:?}: rc.subr cannot extract the ruleset number \
                 (`expr` wants `[name=NUMBER]`, no spaces around `=` or before `]`)"
            ));
        };
        if name.is_empty() {
            return Err(format!(
                "header {content:?}: rc.subr cannot extract the ruleset name"
            ));
        }
        let n = match atonum(num) {
            Some(n) => n,
            None => {
                return Err(format!(
                    "header {content:?}: devfs rule -s {num}: error converting to number \
                     (ruleset numbers are 1..65535)"
                ))
            }
        };
        let mut refusal = None;
        if n == 0 {
            refusal = Some(
                "ruleset 0 is not a ruleset: devfs(8) reads `-s 0` as the ruleset /dev uses; \
                 number it 1..65535"
                    .to_string(),
            );
        }
        if !is_shell_name(name) {
            refusal = Some(format!(
                "ruleset name {name:?}: rc.subr runs `eval {name}=$rulenum`, which is not a \
                 shell assignment for this name (sh runs it as a command); FreeBSD still loads \
                 the rules, but no `$name` can refer to them; use letters, digits and _"
            ));
        }
        if let Some((file, l)) = self.defined.get(&n) {
            if refusal.is_none() {
                let at = if *file == self.files {
                    format!("line {l}")
                } else {
                    "an earlier file".to_string()
                };
                refusal = Some(format!(
                    "ruleset {n} was already loaded ({at}): rc.subr runs `devfs rule -s {n} \
                     delset`, deleting those rules; give this ruleset its own number"
                ));
            }
        }
        if refusal.is_none() && self.vars.contains_key(name) {
            refusal = Some(format!(
                "ruleset name {name} is already defined (by an earlier header); \
                 FreeBSD would point ${name} at {n} from here on"
            ));
        }
        // What boot does, refused or not.
        for (var, value) in header_assignment(name, num) {
            self.vars.insert(var, value);
        }
        self.current = Some((n, num.to_string()));
        if self.keep_commands {
            rep.commands.push((
                line,
                vec!["rule".into(), "-s".into(), num.to_string(), "delset".into()],
            ));
        }
        self.kernel.remove(&n);
        self.defined.insert(n, (self.files, line));
        rep.sets.push(LoadedSet {
            name: name.to_string(),
            id: RulesetId(n),
            line,
            rules: vec![],
        });
        Ok(refusal.map(|m| (Verdict::Refused, m)))
    }

    fn rule_line(
        &mut self,
        content: &str,
        line: usize,
        rep: &mut Report,
        sink: &mut dyn FnMut(&mut Report, LoadedRule),
    ) -> std::result::Result<Option<(Verdict, String)>, String> {
        // rulecmd="${line%%"\#*"}": the quoted pattern is the literal `\#*`, stripped only at
        // the end of the line.
        let cmd = content.strip_suffix("\\#*").unwrap_or(content);
        // `$rulecmd` is unquoted in `eval /sbin/devfs rule -s $rulenum $rulecmd`: it is split
        // into fields (spaces, tabs) before eval joins them with one space, quotes or not.
        let single = !cmd.contains(['\t', '\n'])
            && !cmd.contains("  ")
            && !cmd.starts_with(' ')
            && !cmd.ends_with(' ');
        let joined = if single {
            // Already fields joined by one space (nearly every line): nothing to rebuild.
            std::borrow::Cow::Borrowed(cmd)
        } else {
            std::borrow::Cow::Owned(
                cmd.split([' ', '\t', '\n'])
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        let cmd: &str = &joined;
        if cmd.is_empty() {
            return Ok(None);
        }
        if cmd.ends_with('\r') {
            return Err(
                "ends in a CR (a CRLF file): `read` keeps it, so it ends up in the last \
                 word (`hide\\r` is an unknown argument to devfs(8)); convert the file with \
                 `tr -d '\\r'`"
                    .into(),
            );
        }
        let mut soft = None;
        let words = match shell_words(cmd, &self.vars, &mut soft) {
            Ok(w) => w,
            Err(ShellErr::Syntax(m)) => return Err(format!("sh: {m}")),
            Err(ShellErr::Refused(m)) => return Ok(Some((Verdict::Refused, m))),
        };
        let Some((rs, rs_text)) = &self.current else {
            // `$rulenum` is empty: the words follow `-s` directly.
            if self.keep_commands {
                let mut argv: Vec<String> = vec!["rule".into(), "-s".into()];
                argv.extend(words.iter().cloned());
                rep.commands.push((line, argv));
            }
            return Err(
                "a rule before any [name=number] header: rc.subr runs `devfs rule -s add …`, \
                 which fails (error converting to number: add)"
                    .into(),
            );
        };
        let rs = *rs;
        if self.keep_commands {
            let mut argv: Vec<String> = vec!["rule".into(), "-s".into(), rs_text.clone()];
            argv.extend(words.iter().cloned());
            rep.commands.push((line, argv));
        }
        if let Some(m) = soft {
            return Ok(Some((Verdict::Refused, m)));
        }
        if rep.sets.is_empty() {
            // Same shell: $rulenum still holds the previous file's last ruleset.
            return Ok(Some((
                Verdict::Refused,
                format!(
                    "a rule before this file's first header: FreeBSD would add it to ruleset \
                     {rs}, the last one of the previous file; start the file with a header"
                ),
            )));
        }
        let parsed = match self.devfs_rule(&words, rs) {
            Ok(p) => p,
            Err(Outcome::Fails(m)) => return Err(m),
            Err(Outcome::Refused(m)) => return Ok(Some((Verdict::Refused, m))),
        };
        // The kernel.
        if self.kernel_checks {
            for a in &parsed.actions {
                if let Action::Include(inc) = a {
                    if !self.kernel.contains_key(&inc.0) {
                        return Err(format!(
                            "include {inc}: ruleset {inc} does not exist (yet): the kernel \
                             refuses the rule (ESRCH); define it, with at least one rule, \
                             before this line"
                        ));
                    }
                }
            }
        }
        let used = self.kernel.entry(rs).or_default();
        let number = match parsed.number {
            Some(n) if used.contains(&n) => {
                return Err(format!(
                    "rule {n} already exists in ruleset {rs}: the kernel refuses it (EEXIST)"
                ))
            }
            Some(n) => n,
            None => {
                let next = used.iter().next_back().map_or(100, |l| u32::from(*l) + 100);
                if next > 65535 {
                    return Err(format!(
                        "ruleset {rs} has no rule number left after {}: the kernel refuses \
                         an automatically numbered rule (ERANGE)",
                        next - 100
                    ));
                }
                next as u16
            }
        };
        used.insert(number);
        sink(
            rep,
            LoadedRule {
                line,
                rule: parsed,
                number,
            },
        );
        Ok(None)
    }

    /// devfs(8)'s `rule -s N <words>`: the verb, then `rulespec_intok`.
    fn devfs_rule(&self, words: &[String], rs: u16) -> std::result::Result<Rule, Outcome> {
        use Outcome::{Fails, Refused};
        let Some(verb) = words.first() else {
            return Err(Fails(
                "the line expands to no words: devfs(8) prints its usage".into(),
            ));
        };
        if verb.starts_with('-') {
            return Err(Refused(format!(
                "{verb:?}: devfs(8) reads a leading `-` word as an option; devfs.rules lines \
                 are `add …` rules"
            )));
        }
        match verb.as_str() {
            "add" => {}
            "apply" | "applyset" | "del" | "delset" | "show" | "showsets" => {
                return Err(Refused(format!(
                    "`{verb}`: FreeBSD would run `devfs rule -s {rs} {verb}` at boot; \
                     devfs.rules(5) lines are `add` rules and cudajail accepts only those"
                )))
            }
            o => return Err(Fails(format!("devfs rule: unknown command: {o}"))),
        }
        let av = &words[1..];
        if av.is_empty() {
            return Err(Fails(
                "`add` alone: devfs(8) needs a rule and prints its usage".into(),
            ));
        }
        if av[0] == "-" {
            return Err(Refused(
                "`add -` reads rules from standard input at boot; write the rules here".into(),
            ));
        }
        let mut rule = Rule {
            number: None,
            conditions: vec![],
            actions: vec![],
        };
        let mut i = 0;
        if let Some(n) = atonum(&av[0]) {
            rule.number = (n != 0).then_some(n);
            i = 1;
        }
        let arg = |i: usize, what: &str| {
            av.get(i + 1)
                .ok_or_else(|| Fails(format!("devfs rule: expecting argument for {what}")))
        };
        let mut ty: Option<DevType> = None;
        let mut path: Option<String> = None;
        // Conditions first.
        while let Some(w) = av.get(i) {
            match w.as_str() {
                "type" => {
                    let a = arg(i, "type")?;
                    let t = match a.as_str() {
                        "disk" => DevType::Disk,
                        "mem" => DevType::Mem,
                        "tape" => DevType::Tape,
                        "tty" => DevType::Tty,
                        o => return Err(Fails(format!("devfs rule: unknown type: {o}"))),
                    };
                    if let Some(prev) = ty.filter(|p| *p != t) {
                        return Err(Refused(format!(
                            "`type {} type {}`: FreeBSD ORs the types (the rule matches \
                             either); cudajail's rules hold one type: write one rule per type",
                            prev.as_str(),
                            t.as_str()
                        )));
                    }
                    if ty.is_none() {
                        rule.conditions.push(Condition::Type(t));
                    }
                    ty = Some(t);
                    i += 2;
                }
                "path" => {
                    let a = arg(i, "path")?;
                    if path.is_some() {
                        return Err(Refused(
                            "two `path`s: FreeBSD keeps only the last; write one".into(),
                        ));
                    }
                    if a.len() >= MAX_PATTERN_LEN {
                        return Err(Refused(format!(
                            "a path pattern of {} bytes: devfs(8) cuts it to {} with a warning \
                             (pattern specified too long; truncated); shorten it",
                            a.len(),
                            MAX_PATTERN_LEN - 1
                        )));
                    }
                    if a.is_empty() {
                        return Err(Refused(
                            "an empty path pattern matches nothing; remove the condition".into(),
                        ));
                    }
                    path = Some(a.clone());
                    rule.conditions.push(Condition::Path(a.clone()));
                    i += 2;
                }
                _ => break,
            }
        }
        // Then actions.
        let (mut hide, mut unhide) = (false, false);
        while let Some(w) = av.get(i) {
            match w.as_str() {
                "hide" => {
                    hide = true;
                    rule.actions.push(Action::Hide);
                    i += 1;
                }
                "unhide" => {
                    unhide = true;
                    rule.actions.push(Action::Unhide);
                    i += 1;
                }
                "user" | "group" => {
                    let user = w == "user";
                    let a = arg(i, w)?;
                    let found = self
                        .names
                        .and_then(|n| if user { n.uid(a) } else { n.gid(a) });
                    let act = if found.is_some() || (self.names.is_none() && !looks_numeric(a)) {
                        if user {
                            Action::UserName(a.clone())
                        } else {
                            Action::GroupName(a.clone())
                        }
                    } else {
                        let id = eatoi(a).map_err(|why| {
                            let db = if user {
                                "user (getpwnam)"
                            } else {
                                "group (getgrnam)"
                            };
                            Fails(format!(
                                "{w} {a:?}: no such {db} on this host and not a number \
                                 ({why}): devfs(8) fails, and rc.subr loads nothing after \
                                 this line; create the {w} or use its number"
                            ))
                        })?;
                        let id = id.map_err(Refused)?;
                        if user {
                            Action::User(id)
                        } else {
                            Action::Group(id)
                        }
                    };
                    rule.actions.push(act);
                    i += 2;
                }
                "mode" => {
                    let a = arg(i, "mode")?;
                    let m = crate::mode::parse_mode(a, self.umask)
                        .ok_or_else(|| Fails(format!("devfs rule: invalid mode: {a}")))?;
                    rule.actions.push(Action::Mode(m));
                    i += 2;
                }
                "include" => {
                    let a = arg(i, "include")?;
                    let n = atonum(a).ok_or_else(|| {
                        Fails(format!("devfs rule: error converting to number: {a}"))
                    })?;
                    rule.actions.push(Action::Include(RulesetId(n)));
                    i += 2;
                }
                "path" | "type" => {
                    return Err(Fails(format!(
                        "devfs rule: unknown argument: {w} (conditions, `path` and `type`, \
                         must come before the actions)"
                    )))
                }
                o => return Err(Fails(format!("devfs rule: unknown argument: {o}"))),
            }
        }
        if hide && unhide {
            return Err(Refused(
                "`hide` and `unhide` in one rule: FreeBSD applies both, and the node ends up \
                 visible (devfs_rule_run clears the hidden flag last); write `unhide`"
                    .into(),
            ));
        }
        // A rule is kept for the whole file: its lists at their length, not the growth
        // capacity (4), which was most of a parsed file's memory.
        rule.conditions.shrink_to_fit();
        rule.actions.shrink_to_fit();
        Ok(rule)
    }
}

enum Outcome {
    Fails(String),
    Refused(String),
}

/// `atonum` (sbin/devfs/devfs.c): `strtoul(s, &end, 10)`, the whole word, at most 65535.
fn atonum(s: &str) -> Option<u16> {
    let v = c_strtol(s)?;
    // strtoul negates in unsigned arithmetic: "-0" is 0, any other negative is huge.
    if v.negative && v.magnitude != 0 {
        return None;
    }
    u16::try_from(v.magnitude).ok()
}

/// `eatoi` (sbin/devfs/devfs.c): `strtol`, whole word, at most `INT_MAX`, then `(int)`; the
/// uid/gid is that int as an unsigned 32-bit number. `Err` is devfs(8)'s failure; `Ok(Err)` a
/// value FreeBSD takes but cudajail refuses.
fn eatoi(s: &str) -> std::result::Result<std::result::Result<u32, String>, String> {
    let v = c_strtol(s).ok_or_else(|| "error converting to integer".to_string())?;
    if s.is_empty() {
        return Ok(Err(
            "an empty user or group: devfs(8) reads it as 0 (root/wheel); write 0 if that is \
             meant"
                .into(),
        ));
    }
    if v.negative {
        if v.magnitude > 1 << 31 {
            return Ok(Err(format!(
                "{s}: below INT_MIN, devfs(8) would wrap it to another id; refused"
            )));
        }
        return Ok(Ok((v.magnitude as u32).wrapping_neg()));
    }
    if v.magnitude > i32::MAX as u64 {
        return Err("larger than INT_MAX".into());
    }
    Ok(Ok(v.magnitude as u32))
}

/// Whether a word could be read as a number by `strtol` (digits after optional space/sign).
fn looks_numeric(s: &str) -> bool {
    c_strtol(s).is_some()
}

struct CNum {
    negative: bool,
    /// Saturated at `u64::MAX`.
    magnitude: u64,
}

/// `strtol`/`strtoul` base 10 over the whole word (`*end == '\0'`): leading white space, an
/// optional sign, digits. No digits leaves `end` at the start, so only the empty word passes.
fn c_strtol(s: &str) -> Option<CNum> {
    if s.is_empty() {
        return Some(CNum {
            negative: false,
            magnitude: 0,
        });
    }
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits
        .bytes()
        .try_fold(0u64, |a, d| {
            a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX);
    Some(CNum {
        negative,
        magnitude,
    })
}

/// A shell identifier: what `eval name=value` assigns.
pub fn is_shell_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// What `eval $rulename=\$rulenum` assigns, where it is plain assignments: `$rulename` is
/// unquoted, so it is split into fields and `=$rulenum` joins the last one; eval then reads
/// `A=B` words up to a `#` comment (`[a=b=10]` sets `a` to `b=10`; `[r1=] # [r1=0]` sets `r1` to
/// `]`). A word that is not an assignment makes it a command, whose assignments do not stay; and
/// values with quotes or `$` are not modelled: nothing is assigned then.
fn header_assignment(name: &str, num: &str) -> Vec<(String, String)> {
    let fields: Vec<&str> = name.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
    let text = format!("{}={num}", fields.join(" "));
    let plain = |s: &str| {
        s.chars()
            .all(|c| !c.is_whitespace() && !"'\"$`\\;&|<>()".contains(c))
    };
    let mut out = Vec::new();
    for w in text.split(' ') {
        if w.starts_with('#') {
            break;
        }
        match w.split_once('=') {
            Some((var, val)) if is_shell_name(var) && plain(val) => {
                out.push((var.to_string(), val.to_string()));
            }
            _ => return Vec::new(),
        }
    }
    out
}

/// `case $line in \[*\]*)`: starts with `[` and has a `]` later.
fn is_header(line: &str) -> bool {
    line.starts_with('[') && line[1..].contains(']')
}

/// `expr "$line" : "\[.*=\([0-9]*\)\]"` and `"\[\(.*\)=[0-9]*\]"`: the greedy `.*` puts the
/// split at the last `=DIGITS]`. `None` where it does not match or the digits are empty.
fn header_fields(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let mut best = None;
    for (i, _) in line.match_indices('=') {
        if i == 0 {
            continue;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if b.get(i + 1 + digits) == Some(&b']') {
            best = Some((i, digits));
        }
    }
    let (i, digits) = best?;
    if digits == 0 {
        return None;
    }
    Some((&line[1..i], &line[i + 1..i + 1 + digits]))
}

/// A logical line as `read line` returns it.
struct ReadLine {
    line: usize,
    text: String,
    newline: bool,
}

/// sh's `read line` (no `-r`) over a whole file, one line at a time: `\` escapes the next
/// character (dropped), `\` + newline joins lines, unescaped spaces and tabs at both ends are
/// trimmed.
fn read_lines(text: &str) -> impl Iterator<Item = ReadLine> + '_ {
    let mut rest = text;
    let mut phys = 1;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let start = phys;
        let mut s = String::new();
        let mut newline = false;
        // Byte offsets in `s`: where the first kept character starts and the last one ends
        // (an escaped blank is kept).
        let (mut a, mut b) = (None, 0);
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\n' => {
                    phys += 1;
                    newline = true;
                    end = i + 1;
                    break;
                }
                '\\' => match chars.next() {
                    Some((_, '\n')) => phys += 1,
                    Some((_, n)) => {
                        a.get_or_insert(s.len());
                        s.push(n);
                        b = s.len();
                    }
                    None => {}
                },
                c => {
                    let blank = c == ' ' || c == '\t';
                    if !blank {
                        a.get_or_insert(s.len());
                    }
                    if a.is_some() {
                        s.push(c);
                        if !blank {
                            b = s.len();
                        }
                    }
                }
            }
        }
        rest = &rest[end..];
        let a = a.unwrap_or(0);
        s.truncate(b.max(a));
        s.drain(..a);
        Some(ReadLine {
            line: start,
            text: s,
            newline,
        })
    })
}

enum ShellErr {
    Syntax(String),
    Refused(String),
}

/// The words `eval` makes of a rule line under `set -f`: quotes, `\`, `$name` of a ruleset
/// name, `#` at a word's start ends the line. Everything else sh would do is refused.
///
/// A `$name` that is not a ruleset header's, or a positional parameter, expands to nothing, as
/// it most likely does at boot, and is reported in `soft` (cudajail refuses the line).
fn shell_words(
    s: &str,
    vars: &BTreeMap<String, String>,
    soft: &mut Option<String>,
) -> std::result::Result<Vec<String>, ShellErr> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    let meta = |ch: char| {
        ShellErr::Refused(format!(
            "{ch:?} outside quotes: rc.subr evaluates the line as shell at boot, where it is \
             not part of a devfs rule; quote it"
        ))
    };
    while i < c.len() {
        if c[i] == ' ' || c[i] == '\t' {
            i += 1;
            continue;
        }
        if c[i] == '#' {
            break;
        }
        let mut w = String::new();
        let mut quoted = false;
        while i < c.len() && c[i] != ' ' && c[i] != '\t' {
            match c[i] {
                '\'' => {
                    let close = c[i + 1..]
                        .iter()
                        .position(|x| *x == '\'')
                        .ok_or_else(|| ShellErr::Syntax("unterminated quoted string".into()))?;
                    w.extend(&c[i + 1..i + 1 + close]);
                    quoted = true;
                    i += close + 2;
                }
                '"' => {
                    i += 1;
                    quoted = true;
                    loop {
                        match c.get(i) {
                            None => {
                                return Err(ShellErr::Syntax("unterminated quoted string".into()))
                            }
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some('\\') => {
                                match c.get(i + 1) {
                                    Some(n @ ('$' | '`' | '"' | '\\')) => w.push(*n),
                                    Some(n) => {
                                        w.push('\\');
                                        w.push(*n);
                                    }
                                    None => {
                                        return Err(ShellErr::Syntax(
                                            "unterminated quoted string".into(),
                                        ))
                                    }
                                }
                                i += 2;
                            }
                            Some('$') => {
                                let (val, used) = expand(&c[i..], vars, soft)?;
                                w.push_str(&val);
                                i += used;
                            }
                            Some('`') => {
                                return Err(ShellErr::Refused(
                                    "a command substitution: rc.subr would run it at boot".into(),
                                ))
                            }
                            Some(ch) => {
                                w.push(*ch);
                                i += 1;
                            }
                        }
                    }
                }
                '\\' => {
                    match c.get(i + 1) {
                        Some(n) => w.push(*n),
                        None => {
                            // dash, bash and busybox keep it as a backslash; shells differ.
                            w.push('\\');
                            soft.get_or_insert(
                                "a backslash ends the line after `read`; shells differ on what \
                                 it means: quote it ('\\\\' in the file)"
                                    .into(),
                            );
                        }
                    }
                    quoted = true;
                    i += 2;
                }
                '$' => {
                    let (val, used) = expand(&c[i..], vars, soft)?;
                    if used > 1 && val.contains([' ', '\t', '\n']) {
                        return Err(ShellErr::Refused(
                            "an unquoted expansion with spaces".into(),
                        ));
                    }
                    w.push_str(&val);
                    i += used;
                }
                ch @ (';' | '&' | '|' | '<' | '>' | '(' | ')' | '`') => return Err(meta(ch)),
                '~' if w.is_empty() && !quoted => return Err(meta('~')),
                ch => {
                    w.push(ch);
                    i += 1;
                }
            }
        }
        if !w.is_empty() || quoted {
            words.push(w);
        }
    }
    Ok(words)
}

/// `$name` or `${name}` at the start of `c`: the ruleset number of an earlier header. A `$`
/// not followed by a name is literal.
fn expand(
    c: &[char],
    vars: &BTreeMap<String, String>,
    soft: &mut Option<String>,
) -> std::result::Result<(String, usize), ShellErr> {
    let name_char = |ch: &char| ch.is_ascii_alphanumeric() || *ch == '_';
    let (name, used): (String, usize) = match c.get(1) {
        Some('{') => {
            let close = c
                .iter()
                .position(|x| *x == '}')
                .ok_or_else(|| ShellErr::Syntax("missing '}'".into()))?;
            (c[2..close].iter().collect(), close + 1)
        }
        Some(ch) if ch.is_ascii_alphabetic() || *ch == '_' => {
            let n: String = c[1..].iter().take_while(|x| name_char(x)).collect();
            let len = n.chars().count() + 1;
            (n, len)
        }
        Some('(') => {
            return Err(ShellErr::Refused(
                "a command substitution `$(…)`: rc.subr would run it at boot".into(),
            ))
        }
        Some(ch) if ch.is_ascii_digit() || "@*#?-$!".contains(*ch) => {
            return Err(ShellErr::Refused(format!(
                "`${ch}`: a shell parameter of rc.subr's own function (`$1` is the rules file's \
                 name); write the value"
            )))
        }
        _ => return Ok(("$".into(), 1)),
    };
    if !is_shell_name(&name) {
        return Err(ShellErr::Refused(format!(
            "`${{{name}}}`: only `$name` of a ruleset header is understood"
        )));
    }
    match vars.get(&name) {
        Some(n) => Ok((n.clone(), used)),
        None => {
            soft.get_or_insert(format!(
                "${name} is not the name of an earlier ruleset header; rc.subr would expand \
                 it from its own shell variables (rc.conf's among them), most likely to nothing"
            ));
            Ok((String::new(), used))
        }
    }
}

#[cfg(test)]
mod tests;
