//! The `DEVFSIO_*` ioctls on a devfs mount's directory descriptor. FreeBSD only.
#![allow(unsafe_code)]

use crate::codec::{ioctl, RawRule};
use libc::c_int;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

fn ret(r: c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens the devfs mount point, as devfs(8) does.
pub fn open_mount(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid C string; the descriptor returned is owned by us.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open(2) and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An ioctl whose argument is a `struct devfs_rule` (RADD, RAPPLY, RGETNEXT).
pub fn rule_ioctl(fd: BorrowedFd<'_>, request: u32, rule: &mut RawRule) -> io::Result<()> {
    // SAFETY: `rule` is a live, writable `struct devfs_rule` (layout checked by the ABI harness),
    // and `request` encodes exactly its size.
    ret(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            request as libc::c_ulong,
            std::ptr::from_mut(rule),
        )
    })
}

/// An ioctl whose argument is a `devfs_rid` (RDEL, RAPPLYID).
pub fn rid_ioctl(fd: BorrowedFd<'_>, request: u32, rid: u32) -> io::Result<()> {
    let mut v = rid;
    // SAFETY: `v` is a live u32, the size `request` encodes.
    ret(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            request as libc::c_ulong,
            std::ptr::from_mut(&mut v),
        )
    })
}

/// An ioctl whose argument is a `devfs_rsnum` (SUSE, SAPPLY, SGETNEXT); returns it as the
/// kernel left it.
pub fn rsnum_ioctl(fd: BorrowedFd<'_>, request: u32, rs: u16) -> io::Result<u16> {
    let mut v = rs;
    // SAFETY: `v` is a live u16, the size `request` encodes.
    ret(unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            request as libc::c_ulong,
            std::ptr::from_mut(&mut v),
        )
    })?;
    Ok(v)
}

const _: () = assert!(ioctl::DEVFSIO_RADD >> 16 & 0x1fff == std::mem::size_of::<RawRule>() as u32);
