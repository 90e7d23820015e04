//! Linux release numbers and the Linux distributions we bootstrap (pure).

use crate::error::{Error, Op, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use sysabi::ErrorKind;

/// A Linux kernel release as the Linuxulator reports it (`compat.linux.osrelease`,
/// `linux.osrelease`): exactly `a.b.c`, with `a ≥ 1`, as the kernel's format check demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinuxRelease(pub u32, pub u32, pub u32);

impl fmt::Display for LinuxRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl FromStr for LinuxRelease {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("linux release {s:?}: expected a.b.c with a >= 1"),
            )
        };
        let mut it = s.split('.');
        let mut next = || -> Result<u32> {
            it.next()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(bad)?
                .parse()
                .map_err(|_| bad())
        };
        let r = LinuxRelease(next()?, next()?, next()?);
        if it.next().is_some() || r.0 < 1 {
            return Err(bad());
        }
        Ok(r)
    }
}

impl TryFrom<String> for LinuxRelease {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}
impl From<LinuxRelease> for String {
    fn from(r: LinuxRelease) -> String {
        r.to_string()
    }
}

/// The longest `osrelease` string the Linuxulator keeps (`LINUX_MAX_UTSNAME` 65, with the NUL).
pub const MAX_OSRELEASE_LEN: usize = 64;

/// What `linux.osrelease` / `compat.linux.osrelease` may be set to: `a.b.c` (`a ≥ 1`) or, since
/// the suffix was allowed, `a.b.c-suffix` such as `6.8.0-45-generic` — the format check of
/// `linux_map_osrel` (sys/compat/linux/linux_mib.c: after the third number either the end or
/// `-` and at least one more character). FreeBSD 13's check stops at `a.b.c` and refuses a
/// suffix; we follow the newer rule and say so in the error the kernel would give.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OsRelease {
    /// The numbers (what version checks compare).
    pub version: LinuxRelease,
    /// What follows `-`, if anything (never empty).
    pub suffix: Option<String>,
}

impl From<LinuxRelease> for OsRelease {
    fn from(version: LinuxRelease) -> OsRelease {
        OsRelease {
            version,
            suffix: None,
        }
    }
}

impl fmt::Display for OsRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.suffix {
            Some(x) => write!(f, "{}-{x}", self.version),
            None => write!(f, "{}", self.version),
        }
    }
}

impl FromStr for OsRelease {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("linux release {s:?}: {why}"),
            )
        };
        if s.len() > MAX_OSRELEASE_LEN {
            return Err(bad("longer than 64 bytes (LINUX_MAX_UTSNAME)"));
        }
        let (nums, suffix) = match s.split_once('-') {
            Some((n, "")) => {
                return Err(bad(&format!("nothing after '-' in {n:?}-")));
            }
            Some((n, x)) => {
                if !x.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(bad("the suffix must be printable ASCII without spaces"));
                }
                (n, Some(x.to_string()))
            }
            None => (s, None),
        };
        Ok(OsRelease {
            version: nums.parse()?,
            suffix,
        })
    }
}

impl TryFrom<String> for OsRelease {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}
impl From<OsRelease> for String {
    fn from(r: OsRelease) -> String {
        r.to_string()
    }
}

/// A distribution suite we know how to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Ubuntu 22.04.
    Jammy,
    /// Ubuntu 24.04.
    Noble,
    /// Debian 12.
    Bookworm,
    /// Debian 13.
    Trixie,
}

impl Suite {
    /// Every known suite.
    pub const ALL: [Suite; 4] = [Suite::Jammy, Suite::Noble, Suite::Bookworm, Suite::Trixie];
    /// Its codename.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Jammy => "jammy",
            Suite::Noble => "noble",
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
        }
    }
    /// `ubuntu` or `debian`.
    pub fn distro(self) -> &'static str {
        match self {
            Suite::Jammy | Suite::Noble => "ubuntu",
            Suite::Bookworm | Suite::Trixie => "debian",
        }
    }
}

impl FromStr for Suite {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Suite::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Error::new(
                    Op::Validate,
                    ErrorKind::InvalidInput,
                    format!("suite {s:?}: expected jammy, noble, bookworm or trixie"),
                )
            })
    }
}

/// The lowest `linux.osrelease` at which the suite's glibc starts, and the value we set.
///
/// glibc refuses to run ("FATAL: kernel too old") below the minimum kernel it was configured
/// with (`--enable-kernel`); Debian and Ubuntu build with 3.2.0 for these releases. We set a
/// release matching the suite's own kernel line, which also satisfies programs that probe for
/// newer syscalls by version.
pub fn min_osrelease(suite: Suite) -> (LinuxRelease, LinuxRelease) {
    let min = LinuxRelease(3, 2, 0);
    let set = match suite {
        Suite::Jammy => LinuxRelease(5, 15, 0),
        Suite::Noble => LinuxRelease(6, 8, 0),
        Suite::Bookworm => LinuxRelease(6, 1, 0),
        Suite::Trixie => LinuxRelease(6, 12, 0),
    };
    (min, set)
}

/// Checks that `have` is high enough for `suite`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] saying which release is needed.
pub fn check_osrelease(suite: Suite, have: LinuxRelease) -> Result<()> {
    let (min, set) = min_osrelease(suite);
    if have < min {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            format!("linux.osrelease {have} is below {min}, the minimum kernel of {}'s glibc; use {set}", suite.as_str()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn release_parsing_follows_the_kernel_format_check() {
        assert_eq!(
            "5.15.0".parse::<LinuxRelease>().unwrap(),
            LinuxRelease(5, 15, 0)
        );
        for bad in [
            "",
            "5",
            "5.15",
            "5.15.0.1",
            "0.1.2",
            "a.b.c",
            "5..0",
            "-1.2.3",
            "5.15.0-rc1",
            "+5.1.1",
        ] {
            assert!(bad.parse::<LinuxRelease>().is_err(), "{bad}");
        }
        assert!(LinuxRelease(6, 8, 0) > LinuxRelease(5, 15, 99));
    }

    #[test]
    fn suite_minimums() {
        for s in Suite::ALL {
            let (min, set) = min_osrelease(s);
            assert!(set >= min);
            assert!(check_osrelease(s, set).is_ok());
        }
        let e = check_osrelease(Suite::Noble, LinuxRelease(2, 6, 32)).unwrap_err();
        assert!(e.to_string().contains("use 6.8.0"), "{e}");
    }

    proptest! {
        #[test]
        fn release_round_trip(a in 1u32.., b: u32, c: u32) {
            let r = LinuxRelease(a, b, c);
            prop_assert_eq!(r.to_string().parse::<LinuxRelease>().unwrap(), r);
        }
        #[test]
        fn release_parse_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<LinuxRelease>();
        }
    }
}

#[cfg(test)]
mod osrelease_tests {
    use super::*;

    #[test]
    fn osrelease_follows_linux_map_osrel() {
        for ok in ["6.8.0", "6.8.0-45-generic", "5.15.0-x", "1.0.0"] {
            assert_eq!(ok.parse::<OsRelease>().unwrap().to_string(), ok);
        }
        assert_eq!(
            "6.8.0-45-generic".parse::<OsRelease>().unwrap().version,
            LinuxRelease(6, 8, 0)
        );
        for bad in [
            "6.8",
            "6.8.0-",
            "6.8.0.1",
            "0.9.9",
            "6.8.0 -x",
            "6.8.0-a b",
            "-6.8.0",
            &format!("6.8.0-{}", "x".repeat(60)),
        ] {
            assert!(bad.parse::<OsRelease>().is_err(), "{bad}");
        }
    }
}
