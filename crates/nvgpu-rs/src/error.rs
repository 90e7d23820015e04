//! The crate's error type.

/// The driver call an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Opening a device node.
    Open,
    /// An escape (`ioctl`), named by its `NV_ESC_*` name.
    Escape(&'static str),
    /// An RM control (`NV_ESC_RM_CONTROL`), named by its command name.
    Control(&'static str),
    /// Checking input or a reply.
    Validate,
}

impl sysabi::OpName for Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Open => "open(nvidia device)",
            Op::Escape(n) | Op::Control(n) => n,
            Op::Validate => "nvidia reply check",
        }
    }
}

/// This crate's error: kind, [`Op`], subject (device node), errno, RM status name.
pub type Error = sysabi::Error<Op>;
/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
