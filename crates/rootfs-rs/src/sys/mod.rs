//! The `*at` system calls std does not offer, and their safe wrappers (FreeBSD and Linux).
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

fn ret(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn open_raw(
    dir: Option<BorrowedFd<'_>>,
    name: &CStr,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<OwnedFd> {
    let dirfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: `name` is a valid C string for the duration of the call; `dirfd` is AT_FDCWD or
    // a descriptor borrowed for the call; the mode is passed as the variadic `mode_t`
    // argument openat(2) reads when O_CREAT is set (promoted to unsigned int).
    let fd = ret(unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: openat just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a trusted directory path (the root itself), following symlinks in it.
pub fn open_root(path: &CStr) -> io::Result<OwnedFd> {
    open_raw(None, path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Opens the directory `name` in `dir`, never following a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_raw(
        Some(dir),
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )
}

/// Opens the file `name` in `dir` for reading, never following a symlink and never blocking on
/// a FIFO.
pub fn open_read_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_raw(
        Some(dir),
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
        0,
    )
}

/// Creates the file `name` in `dir`, which must not exist (not even as a dangling symlink),
/// with mode 0600 until the caller sets the final one.
pub fn create_excl_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_raw(
        Some(dir),
        name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    )
}

/// mkdirat(2), mode 0700 until the caller sets the final one.
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: valid C string and a borrowed descriptor for the duration of the call.
    ret(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o700) }).map(|_| ())
}

/// unlinkat(2); `dir_entry` removes an empty directory (AT_REMOVEDIR).
pub fn unlink_at(dir: BorrowedFd<'_>, name: &CStr, dir_entry: bool) -> io::Result<()> {
    let flags = if dir_entry { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid C string and a borrowed descriptor for the duration of the call.
    ret(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(|_| ())
}

/// renameat(2) within one directory.
pub fn rename_at(dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> io::Result<()> {
    // SAFETY: valid C strings and a borrowed descriptor for the duration of the call.
    ret(unsafe { libc::renameat(dir.as_raw_fd(), from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) })
        .map(|_| ())
}

/// What `fstatat(AT_SYMLINK_NOFOLLOW)` says `name` in `dir` is; `None` when nothing is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// Anything else (FIFO, socket, device).
    Other,
}

/// fstatat(2) with AT_SYMLINK_NOFOLLOW: the kind of `name` in `dir`.
pub fn kind_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<Kind>> {
    Ok(stat_at(dir, name)?.map(|s| s.kind))
}

/// What `fstatat(AT_SYMLINK_NOFOLLOW)` reports of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Its kind.
    pub kind: Kind,
    /// Permission bits (`st_mode & 07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// FreeBSD's immutable or append-only file flags (`chflags schg`, `uchg`, `sappnd`,
    /// `uappnd`) are set: a write or rename over it fails (`EPERM`). Always false on Linux.
    pub immutable: bool,
}

/// fstatat(2) with AT_SYMLINK_NOFOLLOW: `name` in `dir`; `None` when nothing is there.
pub fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Option<Stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable memory of the size fstatat(2) fills; valid C string and a
    // borrowed descriptor for the duration of the call.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == -1 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::NotFound {
            Ok(None)
        } else {
            Err(e)
        };
    }
    // SAFETY: fstatat returned 0, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    #[cfg(target_os = "freebsd")]
    let immutable = u64::from(st.st_flags)
        & (libc::UF_IMMUTABLE | libc::SF_IMMUTABLE | libc::UF_APPEND | libc::SF_APPEND)
        != 0;
    #[cfg(not(target_os = "freebsd"))]
    let immutable = false;
    // mode_t is 16 bits on FreeBSD, 32 on Linux.
    #[allow(clippy::useless_conversion)]
    let mode = u32::from(st.st_mode) & 0o7777;
    Ok(Some(Stat {
        kind: match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFREG => Kind::File,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        },
        mode,
        uid: st.st_uid,
        gid: st.st_gid,
        immutable,
    }))
}

/// readlinkat(2): the target of the symlink `name` in `dir`, at most `max` bytes (longer is
/// an error, `ENAMETOOLONG`).
pub fn readlink_at(dir: BorrowedFd<'_>, name: &CStr, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; max + 1];
    // SAFETY: `buf` is writable for `buf.len()` bytes, which is the size passed; valid C string
    // and a borrowed descriptor for the duration of the call.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n > max {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(buf)
}
