//! The crate's error type.

/// The ZFS call an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `lzc_create`.
    Create,
    /// `lzc_snapshot`.
    Snapshot,
    /// `lzc_clone`.
    Clone,
    /// `lzc_destroy` / `lzc_destroy_snaps`.
    Destroy,
    /// `lzc_rollback_to`.
    Rollback,
    /// `lzc_rename`.
    Rename,
    /// `lzc_promote`.
    Promote,
    /// Property get/set.
    Prop,
    /// Listing children.
    List,
    /// `ZFS_IOC_JAIL` / `ZFS_IOC_UNJAIL`.
    Jail,
    /// Checking a name before any call.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Create => "lzc_create",
            Op::Snapshot => "lzc_snapshot",
            Op::Clone => "lzc_clone",
            Op::Destroy => "lzc_destroy",
            Op::Rollback => "lzc_rollback_to",
            Op::Rename => "lzc_rename",
            Op::Promote => "lzc_promote",
            Op::Prop => "zfs property",
            Op::List => "zfs list",
            Op::Jail => "ioctl(ZFS_IOC_JAIL)",
            Op::Validate => "zfs name check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (dataset), errno, libzfs's description.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// ZFS-specific refinements: destroying a snapshot that clones depend on is `EEXIST` from the
/// kernel but means "busy" to a caller; `EBUSY` on destroy means children, snapshots or a mount.
pub fn from_errno(op: Op, errno: sysabi::Errno, subject: impl std::fmt::Display) -> Error {
    let e = Error::from_errno(op, errno).subject(subject);
    match (op, errno) {
        (Op::Destroy, sysabi::Errno::EEXIST) => e
            .with_kind(sysabi::ErrorKind::Busy)
            .detail("snapshot has dependent clones"),
        (Op::Destroy, sysabi::Errno::EBUSY) => e.detail("dataset has children or snapshots"),
        (Op::Rollback, sysabi::Errno::EEXIST) => e
            .with_kind(sysabi::ErrorKind::InvalidInput)
            .detail("not the most recent snapshot"),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn destroy_with_clones_is_busy() {
        let e = from_errno(Op::Destroy, sysabi::Errno::EEXIST, "zroot/t@base");
        assert_eq!(e.kind(), sysabi::ErrorKind::Busy);
        assert!(e.to_string().contains("dependent clones"));
        assert_eq!(
            from_errno(Op::Create, sysabi::Errno::EEXIST, "x").kind(),
            sysabi::ErrorKind::AlreadyExists
        );
    }
}
