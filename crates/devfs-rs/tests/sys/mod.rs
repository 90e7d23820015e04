//! The C library's fnmatch(3), as an oracle for the pure matcher.
#![allow(unsafe_code)]

use std::ffi::CString;

/// `FNM_PATHNAME` (the same value, 0x2 on FreeBSD and 1 << 0 on glibc differ: take libc's).
pub fn fnmatch_pathname(pattern: &str, name: &str) -> Option<bool> {
    let p = CString::new(pattern).ok()?;
    let n = CString::new(name).ok()?;
    // SAFETY: both pointers are valid NUL-terminated strings that live across the call;
    // fnmatch(3) only reads them.
    let r = unsafe { libc::fnmatch(p.as_ptr(), n.as_ptr(), libc::FNM_PATHNAME) };
    Some(r == 0)
}
