//! The kld system calls libc does not declare, and their safe wrappers. FreeBSD only.
//! Each is exported by FreeBSD's libc since FBSD_1.0 (and by libsys on 15).
#![allow(unsafe_code)]

use crate::codec::{KldFileStat, ModuleStat};
use libc::{c_char, c_int};
use std::ffi::CStr;
use std::io;

extern "C" {
    fn kldload(file: *const c_char) -> c_int;
    fn kldunloadf(fileid: c_int, flags: c_int) -> c_int;
    fn kldfind(file: *const c_char) -> c_int;
    fn kldnext(fileid: c_int) -> c_int;
    fn kldstat(fileid: c_int, stat: *mut KldFileStat) -> c_int;
    fn kldfirstmod(fileid: c_int) -> c_int;
    fn modfind(modname: *const c_char) -> c_int;
    fn modfnext(modid: c_int) -> c_int;
    fn modstat(modid: c_int, stat: *mut ModuleStat) -> c_int;
}

/// `-1` → the errno; anything else is the value.
fn ret(r: c_int) -> io::Result<c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// kldload(2).
pub fn load(file: &CStr) -> io::Result<c_int> {
    // SAFETY: `file` is a valid C string for the duration of the call.
    ret(unsafe { kldload(file.as_ptr()) })
}

/// kldunloadf(2).
pub fn unload(id: c_int, flags: c_int) -> io::Result<()> {
    // SAFETY: plain integers.
    ret(unsafe { kldunloadf(id, flags) }).map(|_| ())
}

/// kldfind(2).
pub fn find(file: &CStr) -> io::Result<c_int> {
    // SAFETY: `file` is a valid C string for the duration of the call.
    ret(unsafe { kldfind(file.as_ptr()) })
}

/// kldnext(2): 0 ends the list.
pub fn next(id: c_int) -> io::Result<c_int> {
    // SAFETY: plain integer.
    ret(unsafe { kldnext(id) })
}

/// kldstat(2) into a fresh struct whose `version` holds its size.
pub fn stat(id: c_int) -> io::Result<KldFileStat> {
    let mut st = KldFileStat::default();
    // SAFETY: `st` is a properly laid out, writable `struct kld_file_stat` (checked by the ABI
    // harness) that lives across the call.
    ret(unsafe { kldstat(id, &mut st) })?;
    Ok(st)
}

/// kldfirstmod(2): 0 when the file has no module.
pub fn first_mod(id: c_int) -> io::Result<c_int> {
    // SAFETY: plain integer.
    ret(unsafe { kldfirstmod(id) })
}

/// modfind(2).
pub fn mod_find(name: &CStr) -> io::Result<c_int> {
    // SAFETY: `name` is a valid C string for the duration of the call.
    ret(unsafe { modfind(name.as_ptr()) })
}

/// modfnext(2): 0 ends the file's list.
pub fn mod_fnext(id: c_int) -> io::Result<c_int> {
    // SAFETY: plain integer.
    ret(unsafe { modfnext(id) })
}

/// modstat(2) into a fresh struct whose `version` holds its size.
pub fn mod_stat(id: c_int) -> io::Result<ModuleStat> {
    let mut st = ModuleStat::default();
    // SAFETY: `st` is a properly laid out, writable `struct module_stat` that lives across the call.
    ret(unsafe { modstat(id, &mut st) })?;
    Ok(st)
}
