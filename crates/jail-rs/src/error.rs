//! The crate's error type.

/// The kernel verb an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `jail_set(2)` with `JAIL_CREATE`.
    Create,
    /// `jail_set(2)` with `JAIL_UPDATE`.
    Update,
    /// `jail_get(2)`.
    Get,
    /// `jail_get(2)` walking `lastjid`.
    List,
    /// `jail_remove(2)`.
    Remove,
    /// `jail_attach(2)`, and running a program in the jail after it.
    Attach,
    /// Checking a name or parameter before any call.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Create => "jail_set(create)",
            Op::Update => "jail_set(update)",
            Op::Get => "jail_get",
            Op::List => "jail_get(lastjid)",
            Op::Remove => "jail_remove",
            Op::Attach => "jail_attach",
            Op::Validate => "jail parameter check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (jail name or jid), errno, the kernel's `errmsg`.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The kernel-specific refinement of the errno mapping: `jail_remove(2)` and `jail_attach(2)`
/// report an unknown jid as `EINVAL`, which means "not found" there.
pub fn from_errno(op: Op, errno: sysabi::Errno, subject: impl std::fmt::Display) -> Error {
    let e = Error::from_errno(op, errno).subject(subject);
    match (op, errno) {
        (Op::Remove | Op::Attach, sysabi::Errno::EINVAL) => {
            e.with_kind(sysabi::ErrorKind::NotFound)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysabi::{Errno, ErrorKind};

    #[test]
    fn remove_einval_means_not_found() {
        assert_eq!(
            from_errno(Op::Remove, Errno::EINVAL, 5).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            from_errno(Op::Create, Errno::EINVAL, "x").kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            from_errno(Op::Update, Errno::ENOENT, 9).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            from_errno(Op::Create, Errno::EEXIST, "x").kind(),
            ErrorKind::AlreadyExists
        );
    }
}
