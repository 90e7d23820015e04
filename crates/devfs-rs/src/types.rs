//! Rules and rulesets in the model of devfs(8) `rule` syntax (pure).

use crate::error::{Error, Op, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use sysabi::ErrorKind;

/// `DEVFS_MAXPTRNLEN`: the path pattern buffer, NUL included.
pub const MAX_PATTERN_LEN: usize = 200;

/// A ruleset number (`devfs_rsnum`, 16 bits). 0 means "the mount's current ruleset" in ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RulesetId(pub u16);

impl fmt::Display for RulesetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A rule id (`devfs_rid`): ruleset in the high 16 bits, rule number in the low 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleId {
    /// The ruleset.
    pub ruleset: RulesetId,
    /// The rule number within it (0 asks the kernel to number it: last + 100).
    pub rule: u16,
}

impl RuleId {
    /// `mkrid(rsn, rn)`.
    #[doc(alias = "mkrid")]
    pub const fn to_raw(self) -> u32 {
        (self.rule as u32) | ((self.ruleset.0 as u32) << 16)
    }
    /// `rid2rsn` and `rid2rn`.
    pub const fn from_raw(rid: u32) -> RuleId {
        RuleId {
            ruleset: RulesetId((rid >> 16) as u16),
            rule: (rid & 0xffff) as u16,
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.ruleset, self.rule)
    }
}

/// The `type` condition: a cdevsw `d_flags` class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DevType {
    /// `D_TAPE`.
    Tape,
    /// `D_DISK`.
    Disk,
    /// `D_TTY`.
    Tty,
    /// `D_MEM`.
    Mem,
}

impl DevType {
    /// The `D_*` bit.
    pub const fn flag(self) -> i32 {
        match self {
            DevType::Tape => 0x1,
            DevType::Disk => 0x2,
            DevType::Tty => 0x4,
            DevType::Mem => 0x8,
        }
    }
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DevType::Tape => "tape",
            DevType::Disk => "disk",
            DevType::Tty => "tty",
            DevType::Mem => "mem",
        }
    }
}

/// A condition of a rule; all conditions must match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// `path 'glob'`: fnmatch(3) with `FNM_PATHNAME` on the name below the devfs root.
    Path(String),
    /// `type disk|mem|tape|tty`.
    Type(DevType),
}

/// An action of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `hide`.
    Hide,
    /// `unhide`.
    Unhide,
    /// `user N` (numeric; names are resolved before they reach the kernel).
    User(u32),
    /// `group N`.
    Group(u32),
    /// `user NAME`: resolved to a uid on the host (getpwnam) before it reaches the kernel.
    UserName(String),
    /// `group NAME`: resolved to a gid on the host (getgrnam) before it reaches the kernel.
    GroupName(String),
    /// `mode 0660` (octal in text).
    Mode(u16),
    /// `include N`.
    Include(RulesetId),
}

/// One rule, as `devfs rule add` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    /// Rule number; `None` lets the kernel number it.
    pub number: Option<u16>,
    /// Conditions (at most one `path`, one `type`).
    pub conditions: Vec<Condition>,
    /// Actions (at least one).
    pub actions: Vec<Action>,
}

impl Rule {
    /// `add path 'glob' unhide`.
    pub fn unhide(glob: &str) -> Rule {
        Rule {
            number: None,
            conditions: vec![Condition::Path(glob.into())],
            actions: vec![Action::Unhide],
        }
    }
    /// `add hide` (no condition: every node).
    pub fn hide_all() -> Rule {
        Rule {
            number: None,
            conditions: vec![],
            actions: vec![Action::Hide],
        }
    }
    /// `add include N`.
    pub fn include(rs: RulesetId) -> Rule {
        Rule {
            number: None,
            conditions: vec![],
            actions: vec![Action::Include(rs)],
        }
    }

    /// The path pattern, if any.
    pub fn path(&self) -> Option<&str> {
        self.conditions.iter().find_map(|c| match c {
            Condition::Path(p) => Some(p.as_str()),
            Condition::Type(_) => None,
        })
    }

    /// Checks the kernel's limits and devfs(8)'s grammar.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(Op::Validate, ErrorKind::InvalidInput, m));
        // A rule with no action is valid: devfs(8) sends it and the kernel stores it; it does
        // nothing.
        let paths = self
            .conditions
            .iter()
            .filter(|c| matches!(c, Condition::Path(_)))
            .count();
        let types = self.conditions.len() - paths;
        if paths > 1 || types > 1 {
            return bad(format!(
                "rule `{self}`: at most one path and one type condition"
            ));
        }
        if let Some(p) = self.path() {
            if p.is_empty() || p.len() >= MAX_PATTERN_LEN || !writable(p) {
                return bad(format!(
                    "path pattern {p:?}: must be 1..199 bytes without control characters or \
                     two spaces in a row (rc.subr could not carry it from devfs.rules)"
                ));
            }
        }
        for a in &self.actions {
            if let Action::UserName(n) | Action::GroupName(n) = a {
                if n.is_empty() || !writable(n) {
                    return bad(format!(
                        "user/group name {n:?}: must be non-empty, without control characters \
                         or two spaces in a row"
                    ));
                }
            }
        }
        let vis = self
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Hide | Action::Unhide))
            .count();
        if vis > 1 {
            return bad(format!("rule `{self}`: hide and unhide are exclusive"));
        }
        if self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Mode(m) if *m > 0o7777))
        {
            return bad(format!("rule `{self}`: mode above 07777"));
        }
        Ok(())
    }
}

/// Text rc.subr carries from a devfs.rules line to devfs(8) as it is: no control characters
/// (a newline ends the line, a tab becomes a space), no two spaces in a row (rc.subr splits the
/// line into words before `eval` joins them with one space).
fn writable(s: &str) -> bool {
    !s.chars().any(char::is_control) && !s.contains("  ")
}

impl fmt::Display for Rule {
    /// devfs(8) syntax, e.g. `add 200 path 'nvidia0' unhide`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("add")?;
        if let Some(n) = self.number {
            write!(f, " {n}")?;
        } else if self.conditions.is_empty() && self.actions.is_empty() {
            // `add` alone is a usage error to devfs(8); `add 0` is the empty rule, numbered by
            // the kernel.
            f.write_str(" 0")?;
        }
        for c in &self.conditions {
            match c {
                Condition::Path(p) => write!(f, " path {}", crate::text::quote_pattern(p))?,
                Condition::Type(t) => write!(f, " type {}", t.as_str())?,
            }
        }
        for a in &self.actions {
            match a {
                Action::Hide => f.write_str(" hide")?,
                Action::Unhide => f.write_str(" unhide")?,
                // devfs(8) reads ids with strtol and refuses more than INT_MAX: larger ids
                // (uid_t is unsigned) are written as the negative int they wrap from.
                Action::User(u) => write!(f, " user {}", *u as i32)?,
                Action::Group(g) => write!(f, " group {}", *g as i32)?,
                Action::UserName(u) => write!(f, " user {}", crate::text::quote(u))?,
                Action::GroupName(g) => write!(f, " group {}", crate::text::quote(g))?,
                Action::Mode(m) => write!(f, " mode {m:04o}")?,
                Action::Include(r) => write!(f, " include {r}")?,
            }
        }
        Ok(())
    }
}

/// Which GPUs a ruleset exposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GpuSelection {
    /// Every `nvidiaN`.
    All,
    /// Only these minors; the others stay hidden.
    Only(Vec<u8>),
}

/// A numbered, named list of rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruleset {
    /// Its number.
    pub id: RulesetId,
    /// Its name in devfs.rules(5) (`devfsrules_jail_cuda`).
    pub name: String,
    /// Its rules, numbered 100, 200, … by the presets.
    pub rules: Vec<Rule>,
}

/// The nodes the stock `devfsrules_unhide_basic` (2) shows.
pub const UNHIDE_BASIC: &[&str] = &["null", "zero", "crypto", "random", "urandom"];
/// The modern entries of `devfsrules_unhide_login` (3).
pub const UNHIDE_LOGIN: &[&str] = &[
    "ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr",
];

impl Ruleset {
    fn numbered(id: RulesetId, name: &str, rules: Vec<Rule>) -> Ruleset {
        let rules = rules
            .into_iter()
            .zip(1u16..)
            .map(|(mut r, i)| {
                r.number = Some(i.saturating_mul(100));
                r
            })
            .collect();
        Ruleset {
            id,
            name: name.to_string(),
            rules,
        }
    }

    /// Equal in effect to the stock jail ruleset (4): hide everything, unhide the basic and
    /// login nodes, `fuse` and `zfs`. Its rules are spelled out rather than included, because
    /// devfs follows includes only `vfs.devfs.rule_depth` levels deep.
    pub fn jail_default(id: RulesetId) -> Ruleset {
        Ruleset::numbered(id, "devfsrules_jail", Self::jail_rules())
    }

    fn jail_rules() -> Vec<Rule> {
        let mut v = vec![Rule::hide_all()];
        v.extend(
            UNHIDE_BASIC
                .iter()
                .chain(UNHIDE_LOGIN)
                .chain(&["fuse", "zfs"])
                .map(|p| Rule::unhide(p)),
        );
        v
    }

    /// The jail default plus what a Linux CUDA jail needs: `shm` (the directory the Linux ABI
    /// creates in every devfs, `linux_dev_shm_create` in `sys/compat/linux/linux.c`, where
    /// the jail's tmpfs `/dev/shm` is mounted: devfs cannot mkdir, and a hidden entry looks up as
    /// missing), the NVIDIA nodes `nvidiactl`, `nvidia-modeset`, the selected `nvidiaN` (the
    /// others stay hidden), and optionally `dri`, `dri/*`, `drm/*`.
    pub fn gpu(id: RulesetId, name: &str, gpus: &GpuSelection, dri: bool) -> Ruleset {
        let mut v = Self::jail_rules();
        v.push(Rule::unhide("shm"));
        v.push(Rule::unhide("nvidiactl"));
        v.push(Rule::unhide("nvidia-modeset"));
        match gpus {
            GpuSelection::All => v.push(Rule::unhide("nvidia[0-9]*")),
            GpuSelection::Only(list) => {
                v.extend(list.iter().map(|n| Rule::unhide(&format!("nvidia{n}"))))
            }
        }
        if dri {
            v.extend(["dri", "dri/*", "drm", "drm/*"].map(Rule::unhide));
        }
        Ruleset::numbered(id, name, v)
    }

    /// The devfs.rules(5) text of this ruleset.
    pub fn to_rules_file(&self) -> String {
        let mut s = format!("[{}={}]\n", self.name, self.id);
        for r in &self.rules {
            s.push_str(&r.to_string());
            s.push('\n');
        }
        s
    }
}

/// The first ruleset number ≥ `from` not in `used`: never clobbers an existing ruleset.
pub fn first_free(used: &[RulesetId], from: u16) -> Option<RulesetId> {
    (from..=u16::MAX).map(RulesetId).find(|r| !used.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rid_arithmetic_matches_the_kernel() {
        let r = RuleId {
            ruleset: RulesetId(3),
            rule: 100,
        };
        assert_eq!(r.to_raw(), 0x30064);
        assert_eq!(RuleId::from_raw(0x30064), r);
    }

    #[test]
    fn display_is_devfs_syntax() {
        let r = Rule {
            number: Some(300),
            conditions: vec![
                Condition::Type(DevType::Disk),
                Condition::Path("da*".into()),
            ],
            actions: vec![Action::Unhide, Action::Mode(0o660), Action::Group(5)],
        };
        assert_eq!(
            r.to_string(),
            "add 300 type disk path 'da*' unhide mode 0660 group 5"
        );
        assert_eq!(Rule::include(RulesetId(4)).to_string(), "add include 4");
    }

    #[test]
    fn gpu_preset_selects_minors() {
        let rs = Ruleset::gpu(
            RulesetId(100),
            "devfsrules_jail_cuda",
            &GpuSelection::Only(vec![1]),
            false,
        );
        let text = rs.to_rules_file();
        assert!(text.starts_with("[devfsrules_jail_cuda=100]\nadd 100 hide\n"));
        assert!(text.contains("path 'nvidiactl' unhide"));
        assert!(text.contains("path 'nvidia-modeset' unhide"));
        assert!(text.contains("path 'nvidia1' unhide"));
        assert!(!text.contains("'nvidia0'"));
        assert!(!text.contains("dri"));
        for r in &rs.rules {
            r.validate().unwrap();
        }
        let all = Ruleset::gpu(RulesetId(100), "x", &GpuSelection::All, true);
        assert!(all.to_rules_file().contains("'nvidia[0-9]*'"));
        assert!(all.to_rules_file().contains("'dri/*'"));
    }

    #[test]
    fn validation() {
        let long = Rule::unhide(&"a".repeat(200));
        assert!(long.validate().is_err());
        let both = Rule {
            number: None,
            conditions: vec![],
            actions: vec![Action::Hide, Action::Unhide],
        };
        assert!(both.validate().is_err());
        let none = Rule {
            number: None,
            conditions: vec![],
            actions: vec![],
        };
        assert!(none.validate().is_ok(), "devfs(8) accepts `add 0`");
        assert_eq!(none.to_string(), "add 0");
        assert!(Rule::unhide("a\nb").validate().is_err());
        assert!(Rule::unhide("a\0b").validate().is_err());
    }

    #[test]
    fn free_ruleset_numbers() {
        let used = [RulesetId(1), RulesetId(100), RulesetId(101)];
        assert_eq!(first_free(&used, 100), Some(RulesetId(102)));
        assert_eq!(first_free(&[], 100), Some(RulesetId(100)));
        assert_eq!(first_free(&[RulesetId(u16::MAX)], u16::MAX), None);
    }
}
