//! The crate's error type.

/// The file-system verb an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Opening the root or a directory below it (`openat(O_DIRECTORY|O_NOFOLLOW)`).
    OpenDir,
    /// `mkdirat(2)`.
    Mkdir,
    /// Creating a file (`openat(O_CREAT|O_EXCL|O_NOFOLLOW)`) and writing it.
    Write,
    /// `renameat(2)`.
    Rename,
    /// `unlinkat(2)`.
    Remove,
    /// Opening and reading a file (`openat(O_NOFOLLOW)`, `fstat`, `read`).
    Read,
    /// `fchown(2)`/`fchmod(2)`.
    SetOwner,
    /// `fsync(2)` of a file or of its directory.
    Sync,
    /// Checking a relative path before any call.
    Validate,
    /// Building a root file system ([`crate::Bootstrap`]).
    Bootstrap,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::OpenDir => "openat(O_DIRECTORY|O_NOFOLLOW)",
            Op::Mkdir => "mkdirat",
            Op::Write => "openat(O_CREAT|O_EXCL|O_NOFOLLOW)+write",
            Op::Rename => "renameat",
            Op::Remove => "unlinkat",
            Op::Read => "openat(O_NOFOLLOW)+read",
            Op::SetOwner => "fchown/fchmod",
            Op::Sync => "fsync",
            Op::Validate => "path check",
            Op::Bootstrap => "bootstrap",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (the path below the root), errno.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
