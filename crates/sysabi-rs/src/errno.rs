//! FreeBSD error numbers (`<sys/errno.h>`), usable in pure code on any OS.

use std::fmt;

/// An error number as FreeBSD numbers it.
///
/// The pure layers use these constants, never `libc`'s, because Linux numbers several errors
/// differently (`EAGAIN` 35 vs 11, `ENAMETOOLONG` 63 vs 36, `ENOSYS` 78 vs 38). On FreeBSD,
/// `std::io::Error::raw_os_error()` already is such a number; on Linux use [`Errno::from_linux`].
///
/// # References
/// [errno(2)](https://man.freebsd.org/cgi/man.cgi?query=errno&sektion=2)
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($( $name:ident = $bsd:literal, $linux:expr, $doc:literal; )*) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($bsd), "): ", $doc)]
                pub const $name: Errno = Errno($bsd);
            )*

            /// The symbolic name (`"EINVAL"`), if this is a number FreeBSD defines.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $bsd => Some(stringify!($name)), )*
                    _ => None,
                }
            }

            /// Every named error, with its FreeBSD number and its Linux number where Linux has
            /// the same error (for [`Errno::from_linux`] and the ABI harness).
            pub const TABLE: &'static [(&'static str, i32, Option<i32>)] = &[
                $( (stringify!($name), $bsd, $linux), )*
            ];
        }
    };
}

errnos! {
    EPERM = 1, Some(1), "operation not permitted";
    ENOENT = 2, Some(2), "no such file or directory";
    ESRCH = 3, Some(3), "no such process";
    EINTR = 4, Some(4), "interrupted system call";
    EIO = 5, Some(5), "input/output error";
    ENXIO = 6, Some(6), "device not configured";
    E2BIG = 7, Some(7), "argument list too long";
    ENOEXEC = 8, Some(8), "exec format error";
    EBADF = 9, Some(9), "bad file descriptor";
    ECHILD = 10, Some(10), "no child processes";
    EDEADLK = 11, Some(35), "resource deadlock avoided";
    ENOMEM = 12, Some(12), "cannot allocate memory";
    EACCES = 13, Some(13), "permission denied";
    EFAULT = 14, Some(14), "bad address";
    EBUSY = 16, Some(16), "device busy";
    EEXIST = 17, Some(17), "file exists";
    EXDEV = 18, Some(18), "cross-device link";
    ENODEV = 19, Some(19), "operation not supported by device";
    ENOTDIR = 20, Some(20), "not a directory";
    EISDIR = 21, Some(21), "is a directory";
    EINVAL = 22, Some(22), "invalid argument";
    ENFILE = 23, Some(23), "too many open files in system";
    EMFILE = 24, Some(24), "too many open files";
    ENOTTY = 25, Some(25), "inappropriate ioctl for device";
    ETXTBSY = 26, Some(26), "text file busy";
    EFBIG = 27, Some(27), "file too large";
    ENOSPC = 28, Some(28), "no space left on device";
    EROFS = 30, Some(30), "read-only file system";
    EMLINK = 31, Some(31), "too many links (O_NOFOLLOW on a symlink)";
    EPIPE = 32, Some(32), "broken pipe";
    ERANGE = 34, Some(34), "result too large";
    EAGAIN = 35, Some(11), "resource temporarily unavailable";
    EOPNOTSUPP = 45, Some(95), "operation not supported";
    ELOOP = 62, Some(40), "too many levels of symbolic links";
    ENAMETOOLONG = 63, Some(36), "file name too long";
    ENOTEMPTY = 66, Some(39), "directory not empty";
    EDQUOT = 69, Some(122), "disc quota exceeded";
    ERPCMISMATCH = 73, None, "RPC version wrong (devfs: bad rule magic)";
    ENOSYS = 78, Some(38), "function not implemented";
    EFTYPE = 79, None, "inappropriate file type or format";
    EOVERFLOW = 84, Some(75), "value too large to be stored in data type";
    ECANCELED = 85, Some(125), "operation canceled";
    EDOOFUS = 88, None, "programming error";
    ENOTCAPABLE = 93, None, "capabilities insufficient";
    EINTEGRITY = 97, None, "integrity check failed";
}

impl Errno {
    /// Converts a Linux error number (as `raw_os_error()` gives it on Linux) to FreeBSD's
    /// numbering. Numbers with no FreeBSD twin keep their value with the high bit set, so they
    /// never alias a FreeBSD error.
    pub fn from_linux(linux: i32) -> Errno {
        Errno::TABLE
            .iter()
            .find(|t| t.2 == Some(linux))
            .map_or(Errno(linux | i32::MIN), |t| Errno(t.1))
    }

    /// True for the numbers [`Errno::from_linux`] produced for a Linux error with no FreeBSD twin.
    pub fn is_foreign(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None if self.is_foreign() => write!(f, "linux errno {}", self.0 & i32::MAX),
            None => write!(f, "errno {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(Errno::EINVAL.to_string(), "EINVAL");
        assert_eq!(Errno(63).name(), Some("ENAMETOOLONG"));
        assert_eq!(Errno(9999).to_string(), "errno 9999");
    }

    #[test]
    fn linux_numbers_translate() {
        assert_eq!(Errno::from_linux(11), Errno::EAGAIN);
        assert_eq!(Errno::from_linux(36), Errno::ENAMETOOLONG);
        assert_eq!(Errno::from_linux(22), Errno::EINVAL);
        let odd = Errno::from_linux(133);
        assert!(odd.is_foreign());
        assert_eq!(odd.to_string(), "linux errno 133");
    }

    #[test]
    fn table_has_no_duplicate_numbers() {
        let mut bsd: Vec<i32> = Errno::TABLE.iter().map(|t| t.1).collect();
        let mut lin: Vec<i32> = Errno::TABLE.iter().filter_map(|t| t.2).collect();
        bsd.sort();
        lin.sort();
        let n = bsd.len();
        bsd.dedup();
        lin.dedup();
        assert_eq!(bsd.len(), n);
        assert_eq!(
            lin.len(),
            Errno::TABLE.iter().filter(|t| t.2.is_some()).count()
        );
    }
}
