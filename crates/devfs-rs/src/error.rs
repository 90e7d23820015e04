//! The crate's error type.

/// The kernel verb an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `DEVFSIO_RADD`.
    RuleAdd,
    /// `DEVFSIO_RDEL`.
    RuleDelete,
    /// `DEVFSIO_RAPPLY` / `DEVFSIO_RAPPLYID`.
    RuleApply,
    /// `DEVFSIO_RGETNEXT`.
    RuleList,
    /// `DEVFSIO_SUSE`.
    RulesetUse,
    /// `DEVFSIO_SAPPLY`.
    RulesetApply,
    /// `DEVFSIO_RGETNEXT` + `DEVFSIO_RDEL` loop.
    RulesetDelete,
    /// Opening the devfs mount point.
    Open,
    /// Checking a rule before any call.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::RuleAdd => "ioctl(DEVFSIO_RADD)",
            Op::RuleDelete => "ioctl(DEVFSIO_RDEL)",
            Op::RuleApply => "ioctl(DEVFSIO_RAPPLY)",
            Op::RuleList => "ioctl(DEVFSIO_RGETNEXT)",
            Op::RulesetUse => "ioctl(DEVFSIO_SUSE)",
            Op::RulesetApply => "ioctl(DEVFSIO_SAPPLY)",
            Op::RulesetDelete => "devfs rule delset",
            Op::Open => "open(devfs mount)",
            Op::Validate => "devfs rule check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (ruleset/rule or mount point), errno.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// devfs-specific refinement: `ESRCH` from RADD means the included ruleset does not exist,
/// `EIO` means the rule named ruleset 0 on a mount that has none.
pub fn from_errno(op: Op, errno: sysabi::Errno, subject: impl std::fmt::Display) -> Error {
    let e = Error::from_errno(op, errno).subject(subject);
    match errno {
        sysabi::Errno::ESRCH => e.detail("the included ruleset does not exist"),
        sysabi::Errno::EIO if op == Op::RuleAdd => e
            .with_kind(sysabi::ErrorKind::InvalidInput)
            .detail("ruleset 0 means the mount's current ruleset, and the mount has none"),
        sysabi::Errno::ERPCMISMATCH => {
            e.detail("struct devfs_rule magic not recognised by this kernel")
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysabi::{Errno, ErrorKind};

    #[test]
    fn devfs_errnos() {
        assert_eq!(
            from_errno(Op::RuleAdd, Errno::EIO, "0").kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            from_errno(Op::RuleAdd, Errno::ESRCH, "100").kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            from_errno(Op::RuleAdd, Errno::ERPCMISMATCH, "1").kind(),
            ErrorKind::VersionMismatch
        );
        assert_eq!(
            from_errno(Op::RuleDelete, Errno::ENOENT, "4.100").kind(),
            ErrorKind::NotFound
        );
        assert!(from_errno(Op::RuleAdd, Errno::ESRCH, "1")
            .to_string()
            .contains("included ruleset"));
    }
}
