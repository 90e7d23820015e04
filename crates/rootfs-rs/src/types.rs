//! Relative paths below a root, and the explicit mode and owner of everything created.

use crate::error::{Error, Op, Result};
use sysabi::ErrorKind;

/// The longest path below a root we accept (FreeBSD's `PATH_MAX`, 1024).
pub const MAX_REL_LEN: usize = 1024;
/// The longest single name (FreeBSD's and Linux's `NAME_MAX`, 255).
pub const MAX_NAME_LEN: usize = 255;
/// The most components a relative path may have (each is one `openat`).
pub const MAX_DEPTH: usize = 64;

/// Mode and owner of a file or directory we create: always given, never inherited from a file
/// that was there before and never shaped by the process umask (applied with `fchmod(2)` and
/// `fchown(2)` on the new descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Perm {
    /// Permission bits (`0o7777` at most; set-id bits are refused).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Perm {
    /// Owned by root (uid 0, gid 0: `wheel` on FreeBSD, `root` in a Linux jail).
    #[must_use]
    pub const fn root(mode: u32) -> Perm {
        Perm {
            mode,
            uid: 0,
            gid: 0,
        }
    }
    /// `0755 root:0`: directories and programs.
    pub const DIR: Perm = Perm::root(0o755);
    /// `0644 root:0`: configuration and libraries.
    pub const FILE: Perm = Perm::root(0o644);
    /// `0700 root:0`: a directory nobody else may enter.
    pub const PRIVATE_DIR: Perm = Perm::root(0o700);
    /// `0700 root:0`: a program only root may run (an installer in a private directory).
    pub const PRIVATE_EXEC: Perm = Perm::root(0o700);
    /// `0600 root:0`: a file only root may read.
    pub const SECRET: Perm = Perm::root(0o600);

    /// The same mode, another owner.
    #[must_use]
    pub const fn owned_by(self, uid: u32, gid: u32) -> Perm {
        Perm {
            mode: self.mode,
            uid,
            gid,
        }
    }

    pub(crate) fn check(self, subject: &str) -> Result<()> {
        if self.mode & !0o1777 != 0 {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!(
                    "mode {:o}: only permission and sticky bits (no set-id bits) are created here",
                    self.mode
                ),
            )
            .subject(subject));
        }
        Ok(())
    }
}

/// A checked path below a root: its components, none of them empty, `.`, `..`, or holding a
/// NUL byte; at most [`MAX_DEPTH`] of them, each at most [`MAX_NAME_LEN`] bytes. A leading `/`
/// is ignored (`/etc/passwd` below a root is `etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rel<'a> {
    text: &'a str,
    parts: Vec<&'a str>,
}

impl<'a> Rel<'a> {
    /// Checks `rel`.
    ///
    /// # Errors
    /// `..`, a NUL byte, or a path past the limits: [`ErrorKind::InvalidInput`].
    pub fn new(rel: &'a str) -> Result<Rel<'a>> {
        let bad = |why: &str| {
            Err(Error::new(Op::Validate, ErrorKind::InvalidInput, why.to_string()).subject(rel))
        };
        if rel.len() > MAX_REL_LEN {
            return bad("longer than PATH_MAX (1024 bytes)");
        }
        if rel.contains('\0') {
            return bad("holds a NUL byte");
        }
        let parts: Vec<&str> = rel
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if parts.contains(&"..") {
            return bad("'..' is not allowed below a root");
        }
        if parts.len() > MAX_DEPTH {
            return bad("more than 64 components");
        }
        if parts.iter().any(|p| p.len() > MAX_NAME_LEN) {
            return bad("a name longer than NAME_MAX (255 bytes)");
        }
        Ok(Rel { text: rel, parts })
    }

    /// The components, in order.
    #[must_use]
    pub fn parts(&self) -> &[&'a str] {
        &self.parts
    }

    /// The text it was made from.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The directory components and the last name; `None` for the root itself.
    #[must_use]
    pub fn split_last(&self) -> Option<(&[&'a str], &'a str)> {
        self.parts.split_last().map(|(l, d)| (d, *l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_refuses_what_could_leave_the_root() {
        assert_eq!(
            Rel::new("/etc//./passwd").unwrap().parts(),
            ["etc", "passwd"]
        );
        assert!(Rel::new("").unwrap().split_last().is_none());
        for bad in [
            "..",
            "a/../b",
            "a/..",
            "a\0b",
            &"a/".repeat(65),
            &"x".repeat(256),
        ] {
            let e = Rel::new(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        assert!(Rel::new(&"y".repeat(1025)).is_err());
        assert!(Perm::root(0o4755).check("x").is_err());
        assert!(Perm::root(0o1777).check("x").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn rel_never_panics_and_never_yields_dotdot(s in "[a-z./\\x00]{0,80}") {
            if let Ok(r) = Rel::new(&s) {
                proptest::prop_assert!(r.parts().iter().all(|p| *p != ".." && *p != "." && !p.is_empty()));
            }
        }
    }
}

/// What is at a path below a root, as `lstat(2)` sees it ([`crate::RootFs::stat_beneath`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its kind (a symlink with its target).
    pub kind: EntryKind,
    /// Its mode bits (`07777`) and owner.
    pub perm: Perm,
    /// Immutable or append-only file flags are set (FreeBSD `chflags`): replacing it fails.
    pub immutable: bool,
}

/// The kind of an [`Entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target (as stored, at most [`MAX_REL_LEN`] bytes).
    Symlink(String),
    /// A FIFO, socket or device.
    Other,
}
