//! The Linux file system set of a jail root, and the `nmount(2)` name/value encoding (pure).

use crate::error::{Error, Op, Result};
use serde::Serialize;
use std::fmt;
use sysabi::ErrorKind;

/// `MNAMELEN`: the longest mount point path, NUL included.
pub const MNAMELEN: usize = 1024;
/// `MFSNAMELEN`: the longest file system type name, NUL included.
pub const MFSNAMELEN: usize = 16;

bitflags::bitflags! {
    /// `MNT_*` flags passed to `nmount(2)` (the low 32 bits).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
    pub struct MountFlags: u32 {
        /// `MNT_RDONLY`.
        #[doc(alias = "MNT_RDONLY")]
        const RDONLY = 0x0000_0001;
        /// `MNT_NOEXEC`.
        #[doc(alias = "MNT_NOEXEC")]
        const NOEXEC = 0x0000_0004;
        /// `MNT_NOSUID`.
        #[doc(alias = "MNT_NOSUID")]
        const NOSUID = 0x0000_0008;
        /// `MNT_UPDATE`.
        #[doc(alias = "MNT_UPDATE")]
        const UPDATE = 0x0001_0000;
        /// `MNT_FORCE` (for `unmount(2)`).
        #[doc(alias = "MNT_FORCE")]
        const FORCE = 0x0008_0000;
        /// `MNT_IGNORE`: hidden from df(1) and friends.
        #[doc(alias = "MNT_IGNORE")]
        const IGNORE = 0x0080_0000;
    }
}

/// One mount under a jail root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountSpec {
    /// File system type (`devfs`, `tmpfs`, `fdescfs`, `linprocfs`, `linsysfs`, `nullfs`).
    pub fstype: String,
    /// Source: the host directory for nullfs, else the file system name.
    pub from: String,
    /// Mount point relative to the jail root (`dev/shm`), without leading `/`.
    pub target: String,
    /// File-system-specific options; `None` values are flags (`linrdlnk`).
    pub options: Vec<(String, Option<String>)>,
    /// `MNT_*` flags.
    pub flags: MountFlags,
}

impl MountSpec {
    fn new(fstype: &str, target: &str) -> MountSpec {
        MountSpec {
            fstype: fstype.into(),
            from: fstype.into(),
            target: target.into(),
            options: Vec::new(),
            flags: MountFlags::empty(),
        }
    }

    fn opt(mut self, k: &str, v: Option<&str>) -> MountSpec {
        self.options.push((k.into(), v.map(Into::into)));
        self
    }

    /// The mount point's components below the root, refusing anything that could leave it:
    /// absolute paths, `..`, `.`, empty components, NUL.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the target.
    pub fn target_components(&self) -> Result<Vec<&str>> {
        let t = self.target.as_str();
        let bad = |why: &str| {
            Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("mount point {t:?}: {why}"),
            ))
        };
        if t.is_empty() || t.starts_with('/') {
            return bad("must be relative to the jail root and non-empty");
        }
        if t.contains('\0') {
            return bad("contains NUL");
        }
        let comps: Vec<&str> = t.split('/').collect();
        if comps
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..")
        {
            return bad("must not contain '.', '..' or empty components");
        }
        if t.len() >= MNAMELEN {
            return bad("too long");
        }
        Ok(comps)
    }

    /// The `nmount(2)` name/value pairs for this mount at the already-resolved absolute host
    /// path `fspath` (the `sys` layer appends `errmsg`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a bad target, fstype or option (NUL bytes, lengths).
    pub fn nmount_pairs(&self, fspath: &str) -> Result<Vec<(String, Option<String>)>> {
        self.target_components()?;
        if self.fstype.is_empty()
            || self.fstype.len() >= MFSNAMELEN
            || !self.fstype.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("fstype {:?}", self.fstype),
            ));
        }
        let mut v = vec![
            ("fstype".to_string(), Some(self.fstype.clone())),
            ("fspath".to_string(), Some(fspath.to_string())),
            ("from".to_string(), Some(self.from.clone())),
        ];
        for (k, val) in &self.options {
            if k.contains('\0') || val.as_deref().is_some_and(|x| x.contains('\0')) {
                return Err(Error::new(
                    Op::Validate,
                    ErrorKind::InvalidInput,
                    format!("option {k:?} contains NUL"),
                ));
            }
            v.push((k.clone(), val.clone()));
        }
        Ok(v)
    }
}

impl MountSpec {
    /// The options as mount(8)'s `-o` and fstab(5)'s fourth field write them:
    /// `rw`/`ro`, the flags, then each option (`mode=1777,size=1g`).
    #[must_use]
    pub fn options_text(&self) -> String {
        let mut opts = vec![if self.flags.contains(MountFlags::RDONLY) {
            "ro".to_string()
        } else {
            "rw".to_string()
        }];
        if self.flags.contains(MountFlags::NOSUID) {
            opts.push("nosuid".into());
        }
        if self.flags.contains(MountFlags::NOEXEC) {
            opts.push("noexec".into());
        }
        for (k, v) in &self.options {
            opts.push(match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            });
        }
        opts.join(",")
    }
}

impl fmt::Display for MountSpec {
    /// fstab(5)-like: `linprocfs /proc linprocfs rw`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} /{} {} {}",
            self.from,
            self.target,
            self.fstype,
            self.options_text()
        )
    }
}

/// A host directory to bind into the jail with nullfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Bind {
    /// Absolute host path.
    pub host: String,
    /// Path inside the jail, relative to its root.
    pub target: String,
    /// Writable (read-only by default).
    #[serde(default)]
    pub rw: bool,
}

/// The mounts a Linux CUDA root needs, in mount order (unmount in reverse):
/// devfs with `ruleset` on `/dev`, tmpfs `/dev/shm` (mode 1777), fdescfs `/dev/fd` with
/// `linrdlnk`, linprocfs `/proc`, linsysfs `/sys`, then the nullfs binds.
pub fn linux_mount_set(ruleset: u16, shm_size: Option<&str>, binds: &[Bind]) -> Vec<MountSpec> {
    let mut shm = MountSpec::new("tmpfs", "dev/shm").opt("mode", Some("1777"));
    if let Some(s) = shm_size {
        shm = shm.opt("size", Some(s));
    }
    let mut v = vec![
        MountSpec::new("devfs", "dev").opt("ruleset", Some(&ruleset.to_string())),
        shm,
        MountSpec::new("fdescfs", "dev/fd").opt("linrdlnk", None),
        MountSpec::new("linprocfs", "proc"),
        MountSpec::new("linsysfs", "sys"),
    ];
    for b in binds {
        let mut m = MountSpec::new("nullfs", b.target.trim_start_matches('/'));
        m.from = b.host.clone();
        if !b.rw {
            m.flags |= MountFlags::RDONLY;
        }
        v.push(m);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linux_set() {
        let v = linux_mount_set(
            100,
            Some("1g"),
            &[Bind {
                host: "/home".into(),
                target: "/home".into(),
                rw: false,
            }],
        );
        let lines: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "devfs /dev devfs rw,ruleset=100",
                "tmpfs /dev/shm tmpfs rw,mode=1777,size=1g",
                "fdescfs /dev/fd fdescfs rw,linrdlnk",
                "linprocfs /proc linprocfs rw",
                "linsysfs /sys linsysfs rw",
                "/home /home nullfs ro",
            ]
        );
    }

    #[test]
    fn escaping_targets_are_refused() {
        for t in ["", "/proc", "../etc", "a/../../b", "a//b", "./x", "a\0b"] {
            let mut m = MountSpec::new("tmpfs", "x");
            m.target = t.into();
            assert_eq!(
                m.target_components().unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{t:?}"
            );
            assert!(m.nmount_pairs("/j/x").is_err());
        }
    }

    #[test]
    fn nmount_pairs_carry_options() {
        let m = MountSpec::new("fdescfs", "dev/fd").opt("linrdlnk", None);
        let p = m.nmount_pairs("/j/r/dev/fd").unwrap();
        assert_eq!(p[0], ("fstype".into(), Some("fdescfs".into())));
        assert_eq!(p[1], ("fspath".into(), Some("/j/r/dev/fd".into())));
        assert_eq!(p[3], ("linrdlnk".into(), None));
        let mut bad = MountSpec::new("tmp fs", "x");
        assert!(bad.nmount_pairs("/x").is_err());
        bad.fstype = "averyveryverylongfs".into();
        assert!(bad.nmount_pairs("/x").is_err());
    }
}
