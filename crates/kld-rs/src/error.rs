//! The crate's error type.

/// The kernel verb an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `kldload(2)`.
    Load,
    /// `kldunload(2)` / `kldunloadf(2)`.
    Unload,
    /// `kldfind(2)`.
    Find,
    /// `kldstat(2)` / `kldnext(2)`.
    Stat,
    /// `modfind(2)`.
    ModFind,
    /// `modstat(2)` / `modnext(2)`.
    ModStat,
    /// Checking a name before any call.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Load => "kldload",
            Op::Unload => "kldunload",
            Op::Find => "kldfind",
            Op::Stat => "kldstat",
            Op::ModFind => "modfind",
            Op::ModStat => "modstat",
            Op::Validate => "module name check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (file or module name), errno.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// kld-specific hints: `EBUSY` on unload means references remain; `EPERM` on load means a
/// jail or securelevel > 0; `ENOEXEC` means a bad object or unresolved symbols.
pub fn from_errno(op: Op, errno: sysabi::Errno, subject: impl std::fmt::Display) -> Error {
    let e = Error::from_errno(op, errno).subject(subject);
    match (op, errno) {
        (Op::Unload, sysabi::Errno::EBUSY) => {
            e.detail("module in use (references remain, or it refused to unload)")
        }
        (Op::Load, sysabi::Errno::EPERM) => {
            e.detail("loading needs host root and securelevel <= 0")
        }
        (Op::Load, sysabi::Errno::ENOEXEC) => {
            e.detail("bad module object or unresolved symbols; see dmesg")
        }
        (Op::Load, sysabi::Errno::ENOENT) => e.detail("not found in kern.module_path"),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysabi::{Errno, ErrorKind};

    #[test]
    fn kld_errnos() {
        let e = from_errno(Op::Unload, Errno::EBUSY, "linux64.ko");
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert!(e.to_string().contains("in use"));
        assert_eq!(
            from_errno(Op::Load, Errno::EEXIST, "x").kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            from_errno(Op::Load, Errno::ENOEXEC, "x").kind(),
            ErrorKind::VersionMismatch
        );
    }
}
