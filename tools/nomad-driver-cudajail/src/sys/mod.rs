//! The one system call this crate makes itself: kill(2) (FreeBSD kill(2), POSIX).
#![allow(unsafe_code)]

/// Sends `sig` to `pid` (a process group when negative). `Ok(false)` when no such process
/// (ESRCH).
///
/// # Errors
/// EPERM, EINVAL.
pub fn kill(pid: i32, sig: i32) -> std::io::Result<bool> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    let r = unsafe { libc::kill(pid, sig) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(e)
    }
}
