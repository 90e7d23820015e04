//! The crate's error type.

/// The kernel verb an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `sysctlbyname(3)` read.
    SysctlGet,
    /// `sysctlbyname(3)` write.
    SysctlSet,
    /// `nmount(2)`.
    Mount,
    /// `unmount(2)`.
    Unmount,
    /// `getfsstat(2)`.
    MountList,
    /// Checking input before any call.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::SysctlGet => "sysctl(read)",
            Op::SysctlSet => "sysctl(write)",
            Op::Mount => "nmount",
            Op::Unmount => "unmount",
            Op::MountList => "getfsstat",
            Op::Validate => "linux compat check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (sysctl name or mount point), errno, errmsg.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Hints for the errnos these verbs commonly return.
pub fn from_errno(op: Op, errno: sysabi::Errno, subject: impl std::fmt::Display) -> Error {
    let e = Error::from_errno(op, errno).subject(subject);
    match (op, errno) {
        (Op::SysctlSet, sysabi::Errno::EPERM) => e.detail("setting sysctls needs root on the host"),
        (Op::SysctlGet | Op::SysctlSet, sysabi::Errno::ENOENT) => {
            e.detail("no such sysctl: is the module that provides it loaded?")
        }
        (Op::Mount, sysabi::Errno::ENODEV | sysabi::Errno::EOPNOTSUPP) => {
            e.detail("file system type not available: load its module (kldload)")
        }
        (Op::Unmount, sysabi::Errno::EBUSY) => e.detail("file system in use"),
        _ => e,
    }
}
