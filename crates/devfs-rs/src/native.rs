//! [`DevfsOps`] on the running FreeBSD kernel.

use crate::codec::{ioctl, RawRule};
use crate::error::{from_errno, Error, Op, Result};
use crate::ops::DevfsOps;
use crate::sys;
use crate::types::{Rule, RuleId, RulesetId};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use sysabi::{Errno, ErrorKind};

/// The host's devfs rules, through a devfs mount point.
#[derive(Debug, Default, Clone, Copy)]
pub struct DevfsHost;

fn errno(e: &std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(0))
}

fn open(op: Op, mount: &Path) -> Result<OwnedFd> {
    let c = CString::new(mount.as_os_str().as_encoded_bytes()).map_err(|_| {
        Error::new(op, ErrorKind::InvalidInput, "NUL in path").subject(mount.display())
    })?;
    sys::open_mount(&c).map_err(|e| from_errno(Op::Open, errno(&e), mount.display()))
}

impl DevfsOps for DevfsHost {
    fn add_rule(&self, mount: &Path, ruleset: RulesetId, rule: &Rule) -> Result<RuleId> {
        let mut raw = RawRule::from_rule(rule, RuleId { ruleset, rule: 0 })?;
        let fd = open(Op::RuleAdd, mount)?;
        sys::rule_ioctl(fd.as_fd(), ioctl::DEVFSIO_RADD, &mut raw)
            .map_err(|e| from_errno(Op::RuleAdd, errno(&e), ruleset))?;
        if rule.number.is_some() {
            return Ok(RuleId::from_raw(raw.id));
        }
        // The kernel numbered it (last + 100) without writing the id back: it is now the last rule.
        let rules = self.rules(mount, ruleset)?;
        let n = rules.iter().filter_map(|r| r.number).max().unwrap_or(0);
        Ok(RuleId { ruleset, rule: n })
    }

    fn delete_rule(&self, mount: &Path, id: RuleId) -> Result<()> {
        let fd = open(Op::RuleDelete, mount)?;
        sys::rid_ioctl(fd.as_fd(), ioctl::DEVFSIO_RDEL, id.to_raw())
            .map_err(|e| from_errno(Op::RuleDelete, errno(&e), id))
    }

    fn rules(&self, mount: &Path, ruleset: RulesetId) -> Result<Vec<Rule>> {
        let fd = open(Op::RuleList, mount)?;
        let mut out = Vec::new();
        let mut raw = RawRule::with_id(RuleId { ruleset, rule: 0 });
        loop {
            match sys::rule_ioctl(fd.as_fd(), ioctl::DEVFSIO_RGETNEXT, &mut raw) {
                Ok(()) => {
                    out.push(raw.to_rule()?);
                    let id = RuleId::from_raw(raw.id);
                    raw = RawRule::with_id(id);
                }
                Err(e) if errno(&e) == Errno::ENOENT => return Ok(out),
                Err(e) => return Err(from_errno(Op::RuleList, errno(&e), ruleset)),
            }
        }
    }

    fn rulesets(&self, mount: &Path) -> Result<Vec<RulesetId>> {
        let fd = open(Op::RuleList, mount)?;
        let mut out = Vec::new();
        let mut rs = 0u16;
        loop {
            match sys::rsnum_ioctl(fd.as_fd(), ioctl::DEVFSIO_SGETNEXT, rs) {
                Ok(next) if next > rs => {
                    out.push(RulesetId(next));
                    rs = next;
                }
                Ok(_) => return Ok(out),
                Err(e) if errno(&e) == Errno::ENOENT => return Ok(out),
                Err(e) => return Err(from_errno(Op::RuleList, errno(&e), mount.display())),
            }
        }
    }

    fn use_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()> {
        let fd = open(Op::RulesetUse, mount)?;
        sys::rsnum_ioctl(fd.as_fd(), ioctl::DEVFSIO_SUSE, ruleset.0)
            .map(|_| ())
            .map_err(|e| from_errno(Op::RulesetUse, errno(&e), ruleset))
    }

    fn apply_rule(&self, mount: &Path, rule: &Rule) -> Result<()> {
        let mut raw = RawRule::from_rule(
            rule,
            RuleId {
                ruleset: RulesetId(0),
                rule: 0,
            },
        )?;
        let fd = open(Op::RuleApply, mount)?;
        sys::rule_ioctl(fd.as_fd(), ioctl::DEVFSIO_RAPPLY, &mut raw)
            .map_err(|e| from_errno(Op::RuleApply, errno(&e), mount.display()))
    }

    fn apply_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()> {
        let fd = open(Op::RulesetApply, mount)?;
        sys::rsnum_ioctl(fd.as_fd(), ioctl::DEVFSIO_SAPPLY, ruleset.0)
            .map(|_| ())
            .map_err(|e| from_errno(Op::RulesetApply, errno(&e), ruleset))
    }
}
