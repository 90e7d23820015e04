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

/// Serialises [`MountOps::mount`]'s change of the process's working directory (it mounts on
/// `.` after `fchdir` to the verified directory, then changes back).
static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    fn check_beneath(root: &str, spec: &MountSpec) -> Result<(String, std::os::fd::OwnedFd)> {
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
        Ok((
            format!("{}/{}", root.trim_end_matches('/'), comps.join("/")),
            dir,
        ))
    }
}

impl MountOps for LinuxHost {
    /// Mounts on the directory the beneath-root walk opened, never on a path looked up again:
    /// `fchdir` to it and `nmount` with `fspath` `.` (sys/kern/vfs_mount.c `vfs_domount`
    /// resolves `.` to that vnode and records its global path, `vn_path_to_global_path`). Then
    /// the new mount, found by its fsid, must sit at the intended path and be what a fresh
    /// beneath-root walk reaches; otherwise it is unmounted again (by fsid) and refused.
    fn mount(&self, root: &str, spec: &MountSpec) -> Result<String> {
        let (on, dir) = Self::check_beneath(root, spec)?;
        let cap = sys::mntonname_capacity().min(MNAMELEN);
        if on.len() >= cap {
            return Err(Error::new(
                Op::Mount,
                ErrorKind::InvalidInput,
                format!("mount point longer than the {} bytes statfs keeps", cap - 1),
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
        let before: Vec<[i32; 2]> = sys::mounts_with_ids()
            .map_err(|e| from_errno(Op::MountList, errno(&e), "getfsstat"))?
            .into_iter()
            .map(|m| m.fsid)
            .collect();
        let mut list = IovList::new();
        for (k, v) in spec.nmount_pairs(".")? {
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
        {
            let _cwd = CWD
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let back = sys::open_dir(c".").map_err(|e| from_errno(Op::Mount, errno(&e), "."))?;
            sys::fchdir(dir.as_fd()).map_err(|e| from_errno(Op::Mount, errno(&e), &on))?;
            let r = sys::nmount(&mut list, spec.flags.bits() as i32);
            let restored = sys::fchdir(back.as_fd());
            r.map_err(|e| {
                let err = from_errno(Op::Mount, errno(&e), &on);
                match list.errmsg() {
                    Some(m) => err.kernel_msg(m),
                    None => err,
                }
            })?;
            restored.map_err(|e| from_errno(Op::Mount, errno(&e), "working directory"))?;
        }
        let new: Vec<sys::Mounted> = sys::mounts_with_ids()
            .map_err(|e| from_errno(Op::MountList, errno(&e), "getfsstat"))?
            .into_iter()
            .filter(|m| !before.contains(&m.fsid) && m.fstype == spec.fstype)
            .collect();
        let [ours] = new.as_slice() else {
            return Err(Error::new(
                Op::Mount,
                ErrorKind::Other,
                format!(
                    "{} new {} mounts appeared at once; cannot tell which is ours",
                    new.len(),
                    spec.fstype
                ),
            )
            .subject(&on));
        };
        let reached = Self::check_beneath(root, spec).and_then(|(_, fd)| {
            sys::fstatfs(fd.as_fd()).map_err(|e| from_errno(Op::Mount, errno(&e), &on))
        });
        if ours.on != on || !reached.as_ref().is_ok_and(|m| m.fsid == ours.fsid) {
            let undone = sys::unmount_fsid(ours.fsid, 0).is_ok();
            return Err(Error::new(
                Op::Mount,
                ErrorKind::PermissionDenied,
                format!(
                    "the mount landed on {} instead (the directory was moved or replaced while mounting); {}",
                    ours.on,
                    if undone { "unmounted it again" } else { "could not unmount it: unmount it by hand" }
                ),
            )
            .subject(&on));
        }
        Ok(on)
    }

    /// Unmounts the file system the mount table lists at `on` (the topmost, if several are
    /// stacked), by its fsid (`MNT_BYFSID`): `on` is matched against the names the kernel
    /// recorded at mount time, never looked up as a path the jail could redirect.
    fn unmount(&self, on: &str, flags: MountFlags) -> Result<()> {
        let m = sys::mounts_with_ids()
            .map_err(|e| from_errno(Op::MountList, errno(&e), "getfsstat"))?
            .into_iter()
            .rfind(|m| m.on == on)
            .ok_or_else(|| {
                from_errno(Op::Unmount, Errno::EINVAL, on).detail("not a mount point")
            })?;
        sys::unmount_fsid(m.fsid, flags.bits() as i32)
            .map_err(|e| from_errno(Op::Unmount, errno(&e), on))
    }

    fn mounts(&self) -> Result<Vec<MountedFs>> {
        Ok(sys::mounts_with_ids()
            .map_err(|e| from_errno(Op::MountList, errno(&e), "getfsstat"))?
            .into_iter()
            .map(|m| MountedFs {
                fstype: m.fstype,
                from: m.from,
                on: m.on,
            })
            .collect())
    }
}
