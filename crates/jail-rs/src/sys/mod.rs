//! The jail system calls, thin and safe. FreeBSD only.
#![allow(unsafe_code)]

use libc::c_int;
use std::io;
use std::os::unix::process::CommandExt;
use sysabi::iov::{IoVec, IovList};

const _: () = assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());
const _: () = assert!(std::mem::align_of::<IoVec>() == std::mem::align_of::<libc::iovec>());

fn ret(r: c_int) -> io::Result<c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// jail_set(2) with the list's pairs (which should include `errmsg`). Returns the jid.
pub fn jail_set(list: &mut IovList, flags: c_int) -> io::Result<c_int> {
    list.with_iovecs(|iov, n| {
        // SAFETY: `iov` points to `n` iovecs whose buffers are owned by `list`, which is
        // mutably borrowed for the whole call; `IoVec` has `struct iovec`'s layout (asserted above).
        ret(unsafe { libc::jail_set(iov.cast::<libc::iovec>(), n, flags) })
    })
}

/// jail_get(2): the kernel fills the out-buffers and their lengths. Returns the jid.
pub fn jail_get(list: &mut IovList, flags: c_int) -> io::Result<c_int> {
    list.with_iovecs(|iov, n| {
        // SAFETY: as for `jail_set`; the kernel writes at most each buffer's `iov_len` bytes.
        ret(unsafe { libc::jail_get(iov.cast::<libc::iovec>(), n, flags) })
    })
}

/// jail_remove(2).
pub fn jail_remove(jid: c_int) -> io::Result<()> {
    // SAFETY: plain integer argument.
    ret(unsafe { libc::jail_remove(jid) }).map(|_| ())
}

/// Makes `cmd`'s child call jail_attach(2) between fork and exec, then set its umask to 022
/// (what it creates in the jail never depends on the caller's umask). Both are system calls,
/// so the hook only runs async-signal-safe code.
pub fn attach_before_exec(cmd: &mut std::process::Command, jid: c_int) {
    // SAFETY: the closure only performs the jail_attach and umask system calls and reads
    // errno; it allocates nothing and takes no locks, as code between fork and exec must.
    unsafe {
        cmd.pre_exec(move || {
            if libc::jail_attach(jid) == -1 {
                Err(io::Error::last_os_error())
            } else {
                libc::umask(0o022);
                Ok(())
            }
        });
    }
}
