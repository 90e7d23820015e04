//! The one system call this crate makes itself: kill(2) (FreeBSD kill(2), POSIX).
#![allow(unsafe_code)]

/// Sends `sig` to `pid` (a process group when negative). `Ok(false)` when no such process
/// (ESRCH). Refuses 0 and -1 (this process's group, every process) and init.
///
/// # Errors
/// EPERM, EINVAL; `InvalidInput` for 0, ±1.
pub fn kill(pid: i32, sig: i32) -> std::io::Result<bool> {
    if matches!(pid, -1..=1) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        ));
    }
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

/// The effective user id of this process (geteuid(2)).
pub fn geteuid() -> u32 {
    // SAFETY: geteuid(2) takes nothing, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_group_of_everyone_and_our_own_group_are_never_signalled() {
        for p in [-1, 0, 1] {
            assert_eq!(
                super::kill(p, 0).unwrap_err().kind(),
                std::io::ErrorKind::InvalidInput
            );
        }
        assert!(super::kill(std::process::id() as i32, 0).unwrap());
    }
}
