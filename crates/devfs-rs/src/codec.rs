//! `struct devfs_rule`, byte for byte, and the `DEVFSIO_*` request numbers (pure).

use crate::error::{Error, Op, Result};
use crate::types::{Action, Condition, DevType, Rule, RuleId, MAX_PATTERN_LEN};
use sysabi::ErrorKind;

/// `DEVFS_MAGIC`: the first field of every rule; anything else is `ERPCMISMATCH`.
pub const DEVFS_MAGIC: u32 = 0xdb0a_087a;
/// `DRC_DSWFLAGS`: the `type` condition is set.
pub const DRC_DSWFLAGS: i32 = 0x1;
/// `DRC_PATHPTRN`: the `path` condition is set.
pub const DRC_PATHPTRN: i32 = 0x2;
/// `DRA_BACTS`: `dr_bacts` is valid.
pub const DRA_BACTS: i32 = 0x1;
/// `DRA_UID`.
pub const DRA_UID: i32 = 0x2;
/// `DRA_GID`.
pub const DRA_GID: i32 = 0x4;
/// `DRA_MODE`.
pub const DRA_MODE: i32 = 0x8;
/// `DRA_INCSET`.
pub const DRA_INCSET: i32 = 0x10;
/// `DRB_HIDE`.
pub const DRB_HIDE: i32 = 0x1;
/// `DRB_UNHIDE`.
pub const DRB_UNHIDE: i32 = 0x2;

/// `struct devfs_rule` from `<fs/devfs/devfs.h>`: 236 bytes, alignment 4, the same on amd64
/// and arm64. Checked field by field by the ABI harness.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawRule {
    /// `dr_magic`.
    pub magic: u32,
    /// `dr_id`.
    pub id: u32,
    /// `dr_icond`.
    pub icond: i32,
    /// `dr_dswflags`.
    pub dswflags: i32,
    /// `dr_pathptrn`.
    pub pathptrn: [u8; MAX_PATTERN_LEN],
    /// `dr_iacts`.
    pub iacts: i32,
    /// `dr_bacts`.
    pub bacts: i32,
    /// `dr_uid`.
    pub uid: u32,
    /// `dr_gid`.
    pub gid: u32,
    /// `dr_mode` (FreeBSD's `mode_t` is 16 bits).
    pub mode: u16,
    /// `dr_incset`.
    pub incset: u16,
}

impl std::fmt::Debug for RawRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRule")
            .field("id", &RuleId::from_raw(self.id))
            .field("rule", &self.to_rule())
            .finish()
    }
}

impl RawRule {
    /// An empty rule with the magic set, as `DEVFSIO_RGETNEXT` wants it with an id.
    pub fn with_id(id: RuleId) -> RawRule {
        RawRule {
            magic: DEVFS_MAGIC,
            id: id.to_raw(),
            icond: 0,
            dswflags: 0,
            pathptrn: [0; MAX_PATTERN_LEN],
            iacts: 0,
            bacts: 0,
            uid: 0,
            gid: 0,
            mode: 0,
            incset: 0,
        }
    }

    /// Encodes a validated rule into ruleset `id.ruleset` with number `rule.number` (or
    /// `id.rule` when the rule has none).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] from [`Rule::validate`].
    pub fn from_rule(rule: &Rule, id: RuleId) -> Result<RawRule> {
        rule.validate()?;
        let id = RuleId {
            rule: rule.number.unwrap_or(id.rule),
            ..id
        };
        let mut r = RawRule::with_id(id);
        for c in &rule.conditions {
            match c {
                Condition::Path(p) => {
                    r.icond |= DRC_PATHPTRN;
                    r.pathptrn[..p.len()].copy_from_slice(p.as_bytes());
                }
                Condition::Type(t) => {
                    r.icond |= DRC_DSWFLAGS;
                    r.dswflags |= t.flag();
                }
            }
        }
        for a in &rule.actions {
            match a {
                Action::Hide => {
                    r.iacts |= DRA_BACTS;
                    r.bacts |= DRB_HIDE;
                }
                Action::Unhide => {
                    r.iacts |= DRA_BACTS;
                    r.bacts |= DRB_UNHIDE;
                }
                Action::User(u) => {
                    r.iacts |= DRA_UID;
                    r.uid = *u;
                }
                Action::Group(g) => {
                    r.iacts |= DRA_GID;
                    r.gid = *g;
                }
                Action::Mode(m) => {
                    r.iacts |= DRA_MODE;
                    r.mode = *m;
                }
                Action::Include(rs) => {
                    r.iacts |= DRA_INCSET;
                    r.incset = rs.0;
                }
                Action::UserName(n) | Action::GroupName(n) => {
                    return Err(Error::new(
                        Op::Validate,
                        ErrorKind::InvalidInput,
                        format!(
                            "rule `{rule}`: user/group {n:?} must be resolved to a number first"
                        ),
                    ))
                }
            }
        }
        Ok(r)
    }

    /// Decodes what `DEVFSIO_RGETNEXT` returned.
    ///
    /// # Errors
    /// [`ErrorKind::VersionMismatch`] for a wrong magic, [`ErrorKind::InvalidInput`] for a
    /// pattern that is not NUL-terminated UTF-8.
    pub fn to_rule(&self) -> Result<Rule> {
        if self.magic != DEVFS_MAGIC {
            return Err(Error::new(
                Op::RuleList,
                ErrorKind::VersionMismatch,
                format!("bad magic {:#x}", self.magic),
            ));
        }
        let mut conditions = Vec::new();
        if self.icond & DRC_DSWFLAGS != 0 {
            for t in [DevType::Tape, DevType::Disk, DevType::Tty, DevType::Mem] {
                if self.dswflags & t.flag() != 0 {
                    conditions.push(Condition::Type(t));
                }
            }
        }
        if self.icond & DRC_PATHPTRN != 0 {
            let end = self.pathptrn.iter().position(|b| *b == 0).ok_or_else(|| {
                Error::new(
                    Op::RuleList,
                    ErrorKind::InvalidInput,
                    "path pattern not NUL-terminated",
                )
            })?;
            let p = std::str::from_utf8(&self.pathptrn[..end]).map_err(|_| {
                Error::new(
                    Op::RuleList,
                    ErrorKind::InvalidInput,
                    "path pattern not UTF-8",
                )
            })?;
            conditions.push(Condition::Path(p.to_string()));
        }
        let mut actions = Vec::new();
        if self.iacts & DRA_BACTS != 0 {
            if self.bacts & DRB_HIDE != 0 {
                actions.push(Action::Hide);
            }
            if self.bacts & DRB_UNHIDE != 0 {
                actions.push(Action::Unhide);
            }
        }
        if self.iacts & DRA_UID != 0 {
            actions.push(Action::User(self.uid));
        }
        if self.iacts & DRA_GID != 0 {
            actions.push(Action::Group(self.gid));
        }
        if self.iacts & DRA_MODE != 0 {
            actions.push(Action::Mode(self.mode));
        }
        if self.iacts & DRA_INCSET != 0 {
            actions.push(Action::Include(crate::RulesetId(self.incset)));
        }
        Ok(Rule {
            number: Some(RuleId::from_raw(self.id).rule),
            conditions,
            actions,
        })
    }

    /// The 236 bytes the kernel reads (native byte order).
    pub fn to_bytes(&self) -> [u8; std::mem::size_of::<RawRule>()] {
        let mut b = [0u8; std::mem::size_of::<RawRule>()];
        let mut at = 0;
        let mut put = |x: &[u8]| {
            b[at..at + x.len()].copy_from_slice(x);
            at += x.len();
        };
        put(&self.magic.to_ne_bytes());
        put(&self.id.to_ne_bytes());
        put(&self.icond.to_ne_bytes());
        put(&self.dswflags.to_ne_bytes());
        put(&self.pathptrn);
        put(&self.iacts.to_ne_bytes());
        put(&self.bacts.to_ne_bytes());
        put(&self.uid.to_ne_bytes());
        put(&self.gid.to_ne_bytes());
        put(&self.mode.to_ne_bytes());
        put(&self.incset.to_ne_bytes());
        b
    }
}

/// The `DEVFSIO_*` request numbers, computed with FreeBSD's `_IOC` layout.
pub mod ioctl {
    use super::RawRule;
    use std::mem::size_of;
    use sysabi::ioc::{bsd_iow, bsd_iowr};

    /// `DEVFSIO_RADD`: `_IOWR('D', 0, struct devfs_rule)`.
    pub const DEVFSIO_RADD: u32 = bsd_iowr(b'D', 0, size_of::<RawRule>());
    /// `DEVFSIO_RDEL`: `_IOW('D', 1, devfs_rid)`.
    pub const DEVFSIO_RDEL: u32 = bsd_iow(b'D', 1, size_of::<u32>());
    /// `DEVFSIO_RAPPLY`: `_IOW('D', 2, struct devfs_rule)`.
    pub const DEVFSIO_RAPPLY: u32 = bsd_iow(b'D', 2, size_of::<RawRule>());
    /// `DEVFSIO_RAPPLYID`: `_IOW('D', 3, devfs_rid)`.
    pub const DEVFSIO_RAPPLYID: u32 = bsd_iow(b'D', 3, size_of::<u32>());
    /// `DEVFSIO_RGETNEXT`: `_IOWR('D', 4, struct devfs_rule)`.
    pub const DEVFSIO_RGETNEXT: u32 = bsd_iowr(b'D', 4, size_of::<RawRule>());
    /// `DEVFSIO_SUSE`: `_IOW('D', 10, devfs_rsnum)`.
    pub const DEVFSIO_SUSE: u32 = bsd_iow(b'D', 10, size_of::<u16>());
    /// `DEVFSIO_SAPPLY`: `_IOW('D', 11, devfs_rsnum)`.
    pub const DEVFSIO_SAPPLY: u32 = bsd_iow(b'D', 11, size_of::<u16>());
    /// `DEVFSIO_SGETNEXT`: `_IOWR('D', 12, devfs_rsnum)`.
    pub const DEVFSIO_SGETNEXT: u32 = bsd_iowr(b'D', 12, size_of::<u16>());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RulesetId;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        assert_eq!(std::mem::size_of::<RawRule>(), 236);
        assert_eq!(std::mem::offset_of!(RawRule, mode), 232);
        assert_eq!(ioctl::DEVFSIO_RADD, 0xC0EC_4400);
        assert_eq!(ioctl::DEVFSIO_SGETNEXT, 0xC002_440C);
    }

    #[test]
    fn bytes_are_at_the_kernel_offsets() {
        let rule = Rule {
            number: Some(200),
            conditions: vec![Condition::Path("nvidia*".into())],
            actions: vec![
                Action::Unhide,
                Action::Mode(0o666),
                Action::Include(RulesetId(4)),
            ],
        };
        let raw = RawRule::from_rule(
            &rule,
            RuleId {
                ruleset: RulesetId(100),
                rule: 0,
            },
        )
        .unwrap();
        let b = raw.to_bytes();
        assert_eq!(&b[0..4], &DEVFS_MAGIC.to_ne_bytes());
        assert_eq!(&b[4..8], &((100u32 << 16) | 200).to_ne_bytes());
        assert_eq!(&b[8..12], &DRC_PATHPTRN.to_ne_bytes());
        assert_eq!(&b[16..23], b"nvidia*");
        assert_eq!(b[23], 0);
        assert_eq!(
            &b[216..220],
            &(DRA_BACTS | DRA_MODE | DRA_INCSET).to_ne_bytes()
        );
        assert_eq!(&b[220..224], &DRB_UNHIDE.to_ne_bytes());
        assert_eq!(&b[232..234], &0o666u16.to_ne_bytes());
        assert_eq!(&b[234..236], &4u16.to_ne_bytes());
        assert_eq!(raw.to_rule().unwrap(), rule);
    }

    #[test]
    fn bad_magic_is_a_version_mismatch() {
        let mut r = RawRule::with_id(RuleId::from_raw(0x10064));
        r.magic = 1;
        assert_eq!(r.to_rule().unwrap_err().kind(), ErrorKind::VersionMismatch);
    }

    proptest! {
        #[test]
        fn rule_round_trips_through_the_struct(
            num in 1u16.., path in proptest::option::of("[a-z0-9*/\\[\\]-]{1,40}"),
            ty in proptest::option::of(0usize..4), hide: bool, mode in proptest::option::of(0u16..0o7777),
            user in proptest::option::of(any::<u32>()), inc in proptest::option::of(any::<u16>()),
        ) {
            let mut conditions = vec![];
            if let Some(t) = ty { conditions.push(Condition::Type([DevType::Tape, DevType::Disk, DevType::Tty, DevType::Mem][t])); }
            if let Some(p) = path { conditions.push(Condition::Path(p)); }
            let mut actions = vec![if hide { Action::Hide } else { Action::Unhide }];
            if let Some(u) = user { actions.push(Action::User(u)); }
            if let Some(m) = mode { actions.push(Action::Mode(m)); }
            if let Some(i) = inc { actions.push(Action::Include(RulesetId(i))); }
            let rule = Rule { number: Some(num), conditions, actions };
            let raw = RawRule::from_rule(&rule, RuleId { ruleset: RulesetId(7), rule: 0 }).unwrap();
            prop_assert_eq!(raw.to_rule().unwrap(), rule);
        }
    }
}
