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
