//! The only code that calls the kernel: `open(2)` and `ioctl(2)` on NVIDIA device files.
//! The same requests exist on Linux and FreeBSD.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `open(path, O_RDWR | O_CLOEXEC)`.
pub fn open_rdwr(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call; open(2)
    // does not keep the pointer.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open(2), is valid and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(fd, request, block)` where `block` may carry the address of `pointee` (as NVIDIA's
/// `NVOS*` parameter blocks do). Both buffers are borrowed mutably for the whole call, so the
/// driver's writes through the embedded pointer land in memory nobody else can see meanwhile.
/// Retries on `EINTR`.
pub fn ioctl(
    fd: BorrowedFd<'_>,
    request: u32,
    block: &mut [u8],
    pointee: &mut [u8],
) -> io::Result<()> {
    let _keep_alive = pointee.as_mut_ptr();
    loop {
        // SAFETY: `block` is a live, writable buffer of exactly the size encoded in `request`
        // (the callers build `request` with `_IOWR('F', nr, block.len())`), and any pointer
        // stored inside it refers to `pointee`, which stays mutably borrowed until we return.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, block.as_mut_ptr()) };
        if r != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reads a string sysctl by name with `sysctlbyname(3)` (FreeBSD only: `hw.nvidia.version`).
#[cfg(target_os = "freebsd")]
pub fn sysctl_string(name: &CStr) -> io::Result<String> {
    let mut len: libc::size_t = 0;
    // SAFETY: a NULL old buffer with a valid length pointer asks only for the size; `name` is a
    // valid C string for the call.
    let r = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; len + 1];
    let mut len2 = buf.len();
    // SAFETY: `buf` is writable for `len2` bytes and outlives the call; the kernel writes at most
    // `len2` bytes and stores the written length in `len2`.
    let r = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len2,
            std::ptr::null(),
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(len2);
    Ok(String::from_utf8_lossy(&buf)
        .trim_end_matches('\0')
        .to_string())
}
