//! The error shape shared by every crate: kind, operation, subject, errno, kernel message.

use crate::Errno;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// What went wrong, in categories a caller can act on. The raw errno stays reachable through
/// [`Error::errno`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The jail, rule, module, dataset or device does not exist.
    NotFound,
    /// It exists already.
    AlreadyExists,
    /// Not root, or the jail/securelevel forbids it.
    PermissionDenied,
    /// In use (a module with references, a mounted file system, a dataset with clones).
    Busy,
    /// The input was refused: by our own validation, or by the kernel with `EINVAL` and friends.
    InvalidInput,
    /// This kernel, module or driver does not offer the operation.
    Unsupported,
    /// A structure version or driver version does not match what we speak.
    VersionMismatch,
    /// Anything else; look at the errno.
    Other,
}

impl ErrorKind {
    /// The one errno → kind mapping every crate starts from (a crate may refine it for a verb
    /// whose errno means something else, such as `jail_remove(2)`'s `EINVAL` for "no such jail").
    pub fn from_errno(e: Errno) -> ErrorKind {
        match e {
            Errno::ENOENT | Errno::ESRCH | Errno::ENXIO => ErrorKind::NotFound,
            Errno::EEXIST => ErrorKind::AlreadyExists,
            Errno::EPERM | Errno::EACCES | Errno::EROFS | Errno::ENOTCAPABLE => {
                ErrorKind::PermissionDenied
            }
            Errno::EBUSY | Errno::ETXTBSY | Errno::ENOTEMPTY => ErrorKind::Busy,
            Errno::EINVAL
            | Errno::ENAMETOOLONG
            | Errno::ERANGE
            | Errno::E2BIG
            | Errno::EFAULT
            | Errno::ELOOP
            | Errno::ENOTDIR
            | Errno::EISDIR
            | Errno::EOVERFLOW => ErrorKind::InvalidInput,
            Errno::EOPNOTSUPP | Errno::ENOSYS | Errno::ENOTTY | Errno::ENODEV => {
                ErrorKind::Unsupported
            }
            Errno::ERPCMISMATCH | Errno::EFTYPE | Errno::ENOEXEC => ErrorKind::VersionMismatch,
            _ => ErrorKind::Other,
        }
    }

    /// A short lowercase phrase for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Busy => "busy",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::VersionMismatch => "version mismatch",
            ErrorKind::Other => "failed",
        }
    }

    /// The closest `std::io::ErrorKind`.
    pub fn to_io(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            ErrorKind::NotFound => K::NotFound,
            ErrorKind::AlreadyExists => K::AlreadyExists,
            ErrorKind::PermissionDenied => K::PermissionDenied,
            ErrorKind::Busy => K::ResourceBusy,
            ErrorKind::InvalidInput => K::InvalidInput,
            ErrorKind::Unsupported => K::Unsupported,
            ErrorKind::VersionMismatch | ErrorKind::Other => K::Other,
        }
    }
}

/// Names the kernel verb an error came from. Each crate has one small `Op` enum implementing it.
pub trait OpName: fmt::Debug + Clone + Send + Sync + 'static {
    /// The C-level name, e.g. `"jail_set(create)"` or `"ioctl(DEVFSIO_RADD)"`.
    fn name(&self) -> &'static str;
}

/// The error every crate returns, parametrised by that crate's `Op` enum, so that
/// `jail::Error` and `devfs::Error` are distinct types with one implementation.
///
/// `Display` is one lowercase line: `op for "subject": kernel: "message" (ERRNO)`.
#[derive(Clone)]
pub struct Error<O: OpName>(Box<Inner<O>>);

#[derive(Clone)]
struct Inner<O: OpName> {
    kind: ErrorKind,
    op: O,
    subject: Option<String>,
    errno: Option<Errno>,
    kernel_msg: Option<String>,
    detail: Option<String>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl<O: OpName> Error<O> {
    /// An error the kernel reported: kind from [`ErrorKind::from_errno`].
    pub fn from_errno(op: O, errno: Errno) -> Self {
        Error(Box::new(Inner {
            kind: ErrorKind::from_errno(errno),
            op,
            subject: None,
            errno: Some(errno),
            kernel_msg: None,
            detail: None,
            source: None,
        }))
    }

    /// An error found without the kernel (validation), with a message naming the field and rule.
    pub fn new(op: O, kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            op,
            subject: None,
            errno: None,
            kernel_msg: None,
            detail: Some(detail.into()),
            source: None,
        }))
    }

    /// Sets the subject: the jail name, path, dataset, module or ruleset.
    pub fn subject(mut self, s: impl fmt::Display) -> Self {
        self.0.subject = Some(s.to_string());
        self
    }

    /// Attaches the kernel's own message (`errmsg` of `jail_set(2)`/`nmount(2)`, libzfs text).
    /// Empty messages are dropped.
    pub fn kernel_msg(mut self, m: impl Into<String>) -> Self {
        let m = m.into();
        if !m.is_empty() {
            self.0.kernel_msg = Some(m);
        }
        self
    }

    /// Adds our own explanation (shown after the kernel's).
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.0.detail = Some(d.into());
        self
    }

    /// Overrides the kind, for verbs whose errno means something specific.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Attaches an underlying error. An OS error (`std::io::Error` with an errno) is not
    /// attached when this error already carries the errno: it would only say it again ("not
    /// found (ENOENT): No such file or directory (os error 2)").
    pub fn source_err(mut self, e: impl StdError + Send + Sync + 'static) -> Self {
        let any: &dyn std::any::Any = &e;
        let same = any
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error().is_some() && self.0.errno.is_some());
        if !same {
            self.0.source = Some(Arc::new(e));
        }
        self
    }

    /// The category.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
    /// The kernel verb.
    pub fn op(&self) -> &O {
        &self.0.op
    }
    /// The jail, path, dataset, module or ruleset concerned.
    pub fn subject_str(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// The FreeBSD errno, if the kernel reported one.
    pub fn errno(&self) -> Option<Errno> {
        self.0.errno
    }
    /// The raw errno (FreeBSD numbering), like `std::io::Error::raw_os_error`.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.errno.map(|e| e.0)
    }
    /// The kernel's message, if it gave one.
    pub fn kernel_message(&self) -> Option<&str> {
        self.0.kernel_msg.as_deref()
    }
    /// Our own explanation, if any.
    pub fn detail_str(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
}

impl<O: OpName> fmt::Display for Error<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.op.name())?;
        if let Some(s) = &self.0.subject {
            write!(f, " for {s:?}")?;
        }
        f.write_str(": ")?;
        let mut any = false;
        if let Some(m) = &self.0.kernel_msg {
            write!(f, "kernel: {m:?}")?;
            any = true;
        }
        if let Some(d) = &self.0.detail {
            if any {
                f.write_str("; ")?;
            }
            f.write_str(d)?;
            any = true;
        }
        if !any {
            f.write_str(self.0.kind.as_str())?;
        }
        if let Some(e) = self.0.errno {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

impl<O: OpName> fmt::Debug for Error<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("op", &self.0.op)
            .field("subject", &self.0.subject)
            .field("errno", &self.0.errno)
            .field("kernel_msg", &self.0.kernel_msg)
            .field("detail", &self.0.detail)
            .finish()
    }
}

impl<O: OpName> StdError for Error<O> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl<O: OpName> From<Error<O>> for std::io::Error {
    fn from(e: Error<O>) -> Self {
        std::io::Error::new(e.0.kind.to_io(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct T;
    impl OpName for T {
        fn name(&self) -> &'static str {
            "jail_set(create)"
        }
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(ErrorKind::from_errno(Errno::ENOENT), ErrorKind::NotFound);
        assert_eq!(
            ErrorKind::from_errno(Errno::EEXIST),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            ErrorKind::from_errno(Errno::EPERM),
            ErrorKind::PermissionDenied
        );
        assert_eq!(ErrorKind::from_errno(Errno::EBUSY), ErrorKind::Busy);
        assert_eq!(
            ErrorKind::from_errno(Errno::ENAMETOOLONG),
            ErrorKind::InvalidInput
        );
        assert_eq!(ErrorKind::from_errno(Errno::ENOSYS), ErrorKind::Unsupported);
        assert_eq!(
            ErrorKind::from_errno(Errno::ERPCMISMATCH),
            ErrorKind::VersionMismatch
        );
        assert_eq!(ErrorKind::from_errno(Errno::EAGAIN), ErrorKind::Other);
        // Every named errno maps without panicking and to something deliberate.
        for (_, n, _) in Errno::TABLE {
            let _ = ErrorKind::from_errno(Errno(*n));
        }
    }

    #[test]
    fn display_is_one_lowercase_line() {
        let e = Error::from_errno(T, Errno::EINVAL)
            .subject("web")
            .kernel_msg("path is not a directory");
        assert_eq!(
            e.to_string(),
            r#"jail_set(create) for "web": kernel: "path is not a directory" (EINVAL)"#
        );
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.raw_os_error(), Some(22));
        let v = Error::new(T, ErrorKind::InvalidInput, "name: must not contain '/'");
        assert_eq!(
            v.to_string(),
            "jail_set(create): name: must not contain '/'"
        );
        let io: std::io::Error = v.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        let bare = Error::from_errno(T, Errno::EBUSY);
        assert_eq!(bare.to_string(), "jail_set(create): busy (EBUSY)");
    }

    #[test]
    fn empty_kernel_message_is_dropped() {
        let e = Error::from_errno(T, Errno::EPERM).kernel_msg("");
        assert_eq!(e.kernel_message(), None);
    }

    fn assert_send_sync<X: Send + Sync + 'static>() {}
    #[test]
    fn error_is_send_sync() {
        assert_send_sync::<Error<T>>();
    }

    #[test]
    fn an_os_error_is_not_said_twice() {
        #[derive(Debug, Clone, Copy)]
        struct O;
        impl OpName for O {
            fn name(&self) -> &'static str {
                "open(thing)"
            }
        }
        let io = std::io::Error::from_raw_os_error(2);
        let e = Error::from_errno(O, Errno::ENOENT).source_err(io);
        assert!(StdError::source(&e).is_none());
        let other = std::io::Error::other("pipe closed");
        let e = Error::from_errno(O, Errno::EIO).source_err(other);
        assert!(StdError::source(&e).is_some());
    }
}
