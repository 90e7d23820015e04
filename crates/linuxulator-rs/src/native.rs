//! [`SysctlOps`] and [`MountOps`] on the running FreeBSD kernel.

use crate::error::{from_errno, Error, Op, Result};
use crate::mount::{MountFlags, MountSpec, MNAMELEN};
use crate::ops::{MountOps, MountedFs, SysctlDesc, SysctlOps};
use crate::sys;
use crate::sysctl::{encode_value, format_value, SysctlKind};
use std::ffi::CString;
use std::os::fd::AsFd;
use sysabi::iov::IovList;
use sysabi::{Errno, ErrorKind};

/// The host's sysctls and mounts.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxHost;

fn errno(e: &std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(0))
}

fn cstr(op: Op, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(op, ErrorKind::InvalidInput, "contains a NUL byte").subject(s.escape_debug())
    })
}

/// The longest mount point the mount table view can show: libc's FreeBSD 11 `statfs`, which the
/// `libc` crate uses, keeps 88 bytes of the name.
const STATFS_MNAMELEN: usize = 88;

impl SysctlOps for LinuxHost {
    fn get(&self, name: &str) -> Result<Option<String>> {
        let c = cstr(Op::SysctlGet, name)?;
        let mib = match sys::name_to_mib(&c) {
            Ok(m) => m,
            Err(e) if errno(&e) == Errno::ENOENT => return Ok(None),
            Err(e) => return Err(from_errno(Op::SysctlGet, errno(&e), name)),
        };
        let (kind, _) =
            sys::oid_fmt(&mib).map_err(|e| from_errno(Op::SysctlGet, errno(&e), name))?;
        let raw = sys::get(&c).map_err(|e| from_errno(Op::SysctlGet, errno(&e), name))?;
        format_value(name, SysctlKind::from_kind(kind), &raw).map(Some)
    }

    fn describe(&self, name: &str) -> Result<Option<SysctlDesc>> {
        let c = cstr(Op::SysctlGet, name)?;
        let mib = match sys::name_to_mib(&c) {
            Ok(m) => m,
            Err(e) if errno(&e) == Errno::ENOENT => return Ok(None),
            Err(e) => return Err(from_errno(Op::SysctlGet, errno(&e), name)),
        };
        let (kind, fmt) =
            sys::oid_fmt(&mib).map_err(|e| from_errno(Op::SysctlGet, errno(&e), name))?;
        let raw = sys::get(&c).unwrap_or_default();
        Ok(Some(SysctlDesc { kind, fmt, raw }))
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        let c = cstr(Op::SysctlSet, name)?;
        let mib = sys::name_to_mib(&c).map_err(|e| from_errno(Op::SysctlSet, errno(&e), name))?;
        let (kind, _) =
            sys::oid_fmt(&mib).map_err(|e| from_errno(Op::SysctlSet, errno(&e), name))?;
        let bytes = encode_value(name, SysctlKind::from_kind(kind), value)?;
        sys::set(&c, &bytes).map_err(|e| from_errno(Op::SysctlSet, errno(&e), name))
    }
}

impl LinuxHost {
    /// Walks `spec.target` below `root` one component at a time with `O_NOFOLLOW |
    /// O_RESOLVE_BENEATH`, so a symlink or `..` anywhere is refused rather than followed.
    fn check_beneath(root: &str, spec: &MountSpec) -> Result<String> {
        let comps = spec.target_components()?;
        let subject = format!("{root}/{}", spec.target);
        let mut dir = sys::open_dir(&cstr(Op::Mount, root)?)
            .map_err(|e| from_errno(Op::Mount, errno(&e), root))?;
        for c in &comps {
            dir = sys::open_beneath(dir.as_fd(), &cstr(Op::Mount, c)?).map_err(|e| {
                let en = errno(&e);
                let err = from_errno(Op::Mount, en, &subject);
                // EMLINK is what O_NOFOLLOW answers for a symlink on FreeBSD.
                if matches!(en, Errno::ELOOP | Errno::ENOTCAPABLE | Errno::EMLINK) {
                    err.with_kind(ErrorKind::InvalidInput).detail(format!(
                        "{c:?} is a symlink or leaves the jail root; refusing to follow it"
                    ))
                } else {
                    err
                }
            })?;
        }
        Ok(format!(
            "{}/{}",
            root.trim_end_matches('/'),
            comps.join("/")
        ))
    }
}

impl MountOps for LinuxHost {
    fn mount(&self, root: &str, spec: &MountSpec) -> Result<String> {
        let on = Self::check_beneath(root, spec)?;
        if on.len() >= STATFS_MNAMELEN.min(MNAMELEN) {
            return Err(Error::new(
                Op::Mount,
                ErrorKind::InvalidInput,
                "mount point longer than the 87 bytes the mount table view keeps",
            )
            .subject(&on));
        }
        if self
            .mounts()?
            .iter()
            .any(|m| m.on == on && m.fstype == spec.fstype)
        {
            return Ok(on);
        }
        let mut list = IovList::new();
        for (k, v) in spec.nmount_pairs(&on)? {
            let ok = match v {
                Some(v) => list.push_str(&k, &v).is_some(),
                None => list.push(&k, None).is_some(),
            };
            if !ok {
                return Err(Error::new(
                    Op::Mount,
                    ErrorKind::InvalidInput,
                    format!("option {k:?} contains NUL"),
                ));
            }
        }
        list.push_errmsg();
        sys::nmount(&mut list, spec.flags.bits() as i32).map_err(|e| {
            let err = from_errno(Op::Mount, errno(&e), &on);
            match list.errmsg() {
                Some(m) => err.kernel_msg(m),
                None => err,
            }
        })?;
        Ok(on)
    }

    fn unmount(&self, on: &str, flags: MountFlags) -> Result<()> {
        sys::unmount(&cstr(Op::Unmount, on)?, flags.bits() as i32)
            .map_err(|e| from_errno(Op::Unmount, errno(&e), on))
    }

    fn mounts(&self) -> Result<Vec<MountedFs>> {
        Ok(sys::mounts()
            .map_err(|e| from_errno(Op::MountList, errno(&e), "getfsstat"))?
            .into_iter()
            .map(|(fstype, from, on)| MountedFs { fstype, from, on })
            .collect())
    }
}
