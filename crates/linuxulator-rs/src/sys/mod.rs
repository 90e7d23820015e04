//! sysctl, nmount, unmount, getfsstat and beneath-root directory walking. FreeBSD only.
#![allow(unsafe_code)]

use libc::c_int;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use sysabi::iov::{IoVec, IovList};

const _: () = assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());

fn ret(r: c_int) -> io::Result<c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `sysctlnametomib(3)`.
pub fn name_to_mib(name: &CStr) -> io::Result<Vec<c_int>> {
    let mut mib = [0 as c_int; 24];
    let mut len: libc::size_t = mib.len();
    // SAFETY: `mib` has room for `len` ints and `len` is updated to the count written.
    ret(unsafe { libc::sysctlnametomib(name.as_ptr(), mib.as_mut_ptr(), &mut len) })?;
    Ok(mib[..len.min(mib.len())].to_vec())
}

/// `sysctl({0, 4, mib…})` (`CTL_SYSCTL_OIDFMT`): the kind word and the format string.
pub fn oid_fmt(mib: &[c_int]) -> io::Result<(u32, String)> {
    let mut q = vec![0 as c_int, 4];
    q.extend_from_slice(mib);
    let mut buf = [0u8; 256];
    let mut len: libc::size_t = buf.len();
    // SAFETY: `q` is a valid MIB of `q.len()` ints; `buf` is writable for `len` bytes.
    ret(unsafe {
        libc::sysctl(
            q.as_ptr(),
            q.len() as libc::c_uint,
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    })?;
    let fmt = &buf[4..len.clamp(4, buf.len())];
    let end = fmt.iter().position(|b| *b == 0).unwrap_or(fmt.len());
    Ok((
        u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]),
        String::from_utf8_lossy(&fmt[..end]).into_owned(),
    ))
}

/// `sysctlbyname(3)` read: the raw value.
pub fn get(name: &CStr) -> io::Result<Vec<u8>> {
    let mut len: libc::size_t = 0;
    // SAFETY: NULL old pointer with a valid length pointer: a size query.
    ret(unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null(),
            0,
        )
    })?;
    let mut buf = vec![0u8; len + 16];
    let mut len2 = buf.len();
    // SAFETY: `buf` is writable for `len2` bytes; the kernel stores the written length in `len2`.
    ret(unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len2,
            std::ptr::null(),
            0,
        )
    })?;
    buf.truncate(len2);
    Ok(buf)
}

/// `sysctlbyname(3)` write.
pub fn set(name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is readable for its length for the duration of the call.
    ret(unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            value.as_ptr().cast(),
            value.len(),
        )
    })
    .map(|_| ())
}

/// nmount(2) with the list's pairs (which should include `errmsg`).
pub fn nmount(list: &mut IovList, flags: c_int) -> io::Result<()> {
    list.with_iovecs(|iov, n| {
        // SAFETY: `iov` points to `n` iovecs into buffers owned by the mutably borrowed `list`.
        ret(unsafe { libc::nmount(iov.cast::<libc::iovec>(), n, flags) })
    })
    .map(|_| ())
}

/// unmount(2) of the file system whose id is `fsid` (`MNT_BYFSID`: the kernel finds it in the
/// mount list; no path is looked up, so nothing below a jail root can redirect it).
pub fn unmount_fsid(fsid: [i32; 2], flags: c_int) -> io::Result<()> {
    // sys_unmount decodes "FSID:%d:%d" (sys/kern/vfs_mount.c).
    let id = std::ffi::CString::new(format!("FSID:{}:{}", fsid[0], fsid[1]))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `id` is a valid C string for the call.
    ret(unsafe { libc::unmount(id.as_ptr(), flags | libc::MNT_BYFSID) }).map(|_| ())
}

/// The two words of a `statfs` file system id.
fn fsid_of(s: &libc::statfs) -> [i32; 2] {
    // SAFETY: `fsid_t` is `#[repr(C)] struct { int32_t val[2]; }` (sys/mount.h), whose field the
    // libc crate keeps private; reading it as `[i32; 2]` reads exactly those 8 bytes.
    unsafe { std::ptr::read_unaligned(std::ptr::addr_of!(s.f_fsid).cast::<[i32; 2]>()) }
}

/// The capacity of `statfs.f_mntonname` in the libc ABI this was built with (1024 since
/// FreeBSD 12, 88 before).
pub fn mntonname_capacity() -> usize {
    fn n<const N: usize>(_: *const [libc::c_char; N]) -> usize {
        N
    }
    let s = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: only the field's address is taken (no reference, no read) to learn its type.
    n(unsafe { std::ptr::addr_of!((*s.as_ptr()).f_mntonname) })
}

/// A mounted file system as `statfs` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    /// `f_fstypename`.
    pub fstype: String,
    /// `f_mntfromname`.
    pub from: String,
    /// `f_mntonname`.
    pub on: String,
    /// `f_fsid`.
    pub fsid: [i32; 2],
}

fn mounted(s: &libc::statfs) -> Mounted {
    let text = |a: &[libc::c_char]| {
        let b: Vec<u8> = a
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    Mounted {
        fstype: text(&s.f_fstypename),
        from: text(&s.f_mntfromname),
        on: text(&s.f_mntonname),
        fsid: fsid_of(s),
    }
}

/// fstatfs(2): the file system `fd` is on.
pub fn fstatfs(fd: BorrowedFd<'_>) -> io::Result<Mounted> {
    // SAFETY: `statfs` is plain old data; all-zero is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a writable `statfs`; `fd` is a live descriptor for the call.
    ret(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) })?;
    Ok(mounted(&st))
}

/// fchdir(2).
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor for the call.
    ret(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(|_| ())
}

/// getfsstat(2): every mount with its id.
pub fn mounts_with_ids() -> io::Result<Vec<Mounted>> {
    // SAFETY: NULL buffer: a count query.
    let n = ret(unsafe { libc::getfsstat(std::ptr::null_mut(), 0, libc::MNT_NOWAIT) })? as usize;
    let cap = n + 8;
    // SAFETY: `statfs` is plain old data; all-zero is a valid value.
    let mut buf: Vec<libc::statfs> = vec![unsafe { std::mem::zeroed() }; cap];
    let bytes = (cap * std::mem::size_of::<libc::statfs>()) as libc::c_long;
    // SAFETY: `buf` holds `cap` writable `statfs` records, `bytes` long in total.
    let got = ret(unsafe { libc::getfsstat(buf.as_mut_ptr(), bytes, libc::MNT_NOWAIT) })? as usize;
    Ok(buf[..got.min(cap)].iter().map(mounted).collect())
}

/// Opens a directory.
pub fn open_dir(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid C string; the returned descriptor is owned by us.
    let fd = ret(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just returned by open(2) and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens one component below `dir` as a directory, never following a symlink
/// (`O_NOFOLLOW`) and never leaving `dir` (`O_RESOLVE_BENEATH`).
pub fn open_beneath(dir: BorrowedFd<'_>, component: &CStr) -> io::Result<OwnedFd> {
    let flags = libc::O_RDONLY
        | libc::O_DIRECTORY
        | libc::O_NOFOLLOW
        | libc::O_CLOEXEC
        | libc::O_RESOLVE_BENEATH;
    // SAFETY: `dir` is a live descriptor; `component` a valid C string.
    let fd = ret(unsafe { libc::openat(dir.as_raw_fd(), component.as_ptr(), flags) })?;
    // SAFETY: `fd` was just returned by openat(2) and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
