//! [`Beneath`]: the real host's [`RootFs`], with descriptor-based `*at` calls.

use crate::error::{Error, Op, Result};
use crate::ops::RootFs;
use crate::sys::{self, Kind};
use crate::types::{Perm, Rel};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use sysabi::{Errno, ErrorKind};

/// The real host's [`RootFs`]: opens the root once per call and walks below it with
/// `openat(O_DIRECTORY|O_NOFOLLOW)`, one component at a time, then acts with `mkdirat`,
/// `openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `renameat` and `unlinkat` on the directory descriptor it
/// holds. A directory swapped for a symlink between two calls makes the next `openat` fail; it
/// can never redirect a write, a delete or a read to the host.
#[derive(Debug, Default, Clone, Copy)]
pub struct Beneath;

fn errno_of(e: &std::io::Error) -> Errno {
    let raw = e.raw_os_error().unwrap_or(0);
    if cfg!(target_os = "linux") {
        Errno::from_linux(raw)
    } else {
        Errno(raw)
    }
}

fn io_err(op: Op, e: &std::io::Error, subject: &str) -> Error {
    Error::from_errno(op, errno_of(e)).subject(subject)
}

fn cstr(op: Op, s: &str) -> Result<CString> {
    CString::new(s)
        .map_err(|_| Error::new(op, ErrorKind::InvalidInput, "holds a NUL byte").subject(s))
}

/// `what` in `dir` was refused by an `O_NOFOLLOW` open: say why in words when it is a symlink
/// (Linux answers ELOOP, FreeBSD EMLINK, and ENOTDIR when O_DIRECTORY was asked too).
fn explain(op: Op, dir: &OwnedFd, name: &CString, e: &std::io::Error, subject: &str) -> Error {
    match sys::kind_at(dir.as_fd(), name) {
        Ok(Some(Kind::Symlink)) => Error::new(
            op,
            ErrorKind::PermissionDenied,
            "is a symlink; refusing to follow it below an untrusted root",
        )
        .subject(subject),
        Ok(Some(Kind::File | Kind::Other)) if op == Op::OpenDir => {
            Error::new(op, ErrorKind::InvalidInput, "not a directory").subject(subject)
        }
        _ => io_err(op, e, subject),
    }
}

/// The components walked so far, for messages.
fn shown(root: &str, parts: &[&str]) -> String {
    let mut s = root.trim_end_matches('/').to_string();
    for p in parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn open_root(root: &str) -> Result<OwnedFd> {
    let c = cstr(Op::OpenDir, root)?;
    sys::open_root(&c).map_err(|e| io_err(Op::OpenDir, &e, root))
}

/// Walks `parts` below `root`, creating missing directories with `create` when given.
fn walk(root: &str, parts: &[&str], create: Option<Perm>) -> Result<OwnedFd> {
    let mut dir = open_root(root)?;
    for (i, p) in parts.iter().enumerate() {
        let here = shown(root, &parts[..=i]);
        let name = cstr(Op::OpenDir, p)?;
        dir = match sys::open_dir_at(dir.as_fd(), &name) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create.is_some() => {
                let perm = create.unwrap_or(Perm::DIR);
                match sys::mkdir_at(dir.as_fd(), &name) {
                    Ok(()) => {}
                    // Made by someone else in between: open what is there, as above.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(Op::Mkdir, &e, &here)),
                }
                let d = sys::open_dir_at(dir.as_fd(), &name)
                    .map_err(|e| explain(Op::OpenDir, &dir, &name, &e, &here))?;
                set_perm(&d, perm, &here)?;
                d
            }
            Err(e) => return Err(explain(Op::OpenDir, &dir, &name, &e, &here)),
        };
    }
    Ok(dir)
}

fn set_perm(fd: &OwnedFd, perm: Perm, subject: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let f = std::fs::File::from(
        fd.try_clone()
            .map_err(|e| io_err(Op::SetOwner, &e, subject))?,
    );
    std::os::unix::fs::fchown(&f, Some(perm.uid), Some(perm.gid))
        .map_err(|e| io_err(Op::SetOwner, &e, subject))?;
    // After the chown: chown clears set-id bits, and the mode is set whatever the umask was.
    f.set_permissions(std::fs::Permissions::from_mode(perm.mode))
        .map_err(|e| io_err(Op::SetOwner, &e, subject))
}

/// The parent directory of `rel` (walked, not created) and the last name.
fn parent(root: &str, rel: &Rel<'_>) -> Result<(OwnedFd, CString, String)> {
    let Some((dirs, last)) = rel.split_last() else {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            "names the root itself",
        )
        .subject(root));
    };
    let d = walk(root, dirs, None)?;
    let mut all = dirs.to_vec();
    all.push(last);
    Ok((d, cstr(Op::Validate, last)?, shown(root, &all)))
}

/// Writes `src` into a new file next to `name` in `dir` and renames it over `name`.
fn replace(
    dir: &OwnedFd,
    name: &CString,
    src: &mut dyn Read,
    perm: Perm,
    subject: &str,
) -> Result<()> {
    let last = name.to_string_lossy();
    let (tmp, fd) = loop {
        let tmp = cstr(Op::Write, &format!(".{last}.cudajail-{}", tmp_suffix()))?;
        // The temporary name may be too long for a long final name: shorten it.
        let tmp = if tmp.as_bytes().len() > crate::types::MAX_NAME_LEN {
            cstr(Op::Write, &format!(".cudajail-{}", tmp_suffix()))?
        } else {
            tmp
        };
        match sys::create_excl_at(dir.as_fd(), &tmp) {
            Ok(fd) => break (tmp, fd),
            // Someone planted that name: take the next one (never open what is there).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(Op::Write, &e, subject)),
        }
    };
    let res = (|| -> Result<()> {
        let mut f =
            std::fs::File::from(fd.try_clone().map_err(|e| io_err(Op::Write, &e, subject))?);
        std::io::copy(src, &mut f).map_err(|e| io_err(Op::Write, &e, subject))?;
        f.flush().map_err(|e| io_err(Op::Write, &e, subject))?;
        set_perm(&fd, perm, subject)?;
        f.sync_all().map_err(|e| io_err(Op::Sync, &e, subject))?;
        sys::rename_at(dir.as_fd(), &tmp, name).map_err(|e| io_err(Op::Rename, &e, subject))
    })();
    if res.is_err() {
        let _ = sys::unlink_at(dir.as_fd(), &tmp, false);
        return res;
    }
    // The rename is durable once the directory is synced.
    std::fs::File::from(dir.try_clone().map_err(|e| io_err(Op::Sync, &e, subject))?)
        .sync_all()
        .map_err(|e| io_err(Op::Sync, &e, subject))
}

/// A suffix for temporary names: pid, time and a counter. Names are created with `O_EXCL`, so
/// a name someone guessed and planted only makes us take the next one.
fn tmp_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}.{t:x}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl RootFs for Beneath {
    fn mkdir_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()> {
        perm.check(rel)?;
        let rel = Rel::new(rel)?;
        walk(root, rel.parts(), Some(perm)).map(|_| ())
    }

    fn mkdir_new_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()> {
        perm.check(rel)?;
        let rel = Rel::new(rel)?;
        let (dir, name, here) = parent(root, &rel)?;
        sys::mkdir_at(dir.as_fd(), &name).map_err(|e| io_err(Op::Mkdir, &e, &here))?;
        let d = sys::open_dir_at(dir.as_fd(), &name)
            .map_err(|e| explain(Op::OpenDir, &dir, &name, &e, &here))?;
        set_perm(&d, perm, &here)
    }

    fn write_beneath(&self, root: &str, rel: &str, data: &[u8], perm: Perm) -> Result<()> {
        perm.check(rel)?;
        let rel = Rel::new(rel)?;
        let (dir, name, here) = parent(root, &rel)?;
        replace(&dir, &name, &mut &data[..], perm, &here)
    }

    fn copy_in(&self, src: &str, root: &str, rel: &str, perm: Perm) -> Result<()> {
        perm.check(rel)?;
        let rel = Rel::new(rel)?;
        let (dir, name, here) = parent(root, &rel)?;
        let mut f = std::fs::File::open(src).map_err(|e| io_err(Op::Read, &e, src))?;
        replace(&dir, &name, &mut f, perm, &here)
    }

    fn remove_beneath(&self, root: &str, rel: &str) -> Result<()> {
        let rel = Rel::new(rel)?;
        let (dir, name, here) = parent(root, &rel)?;
        sys::unlink_at(dir.as_fd(), &name, false).map_err(|e| io_err(Op::Remove, &e, &here))
    }

    fn remove_dir_beneath(&self, root: &str, rel: &str) -> Result<()> {
        let rel = Rel::new(rel)?;
        let (dir, name, here) = parent(root, &rel)?;
        if sys::kind_at(dir.as_fd(), &name).map_err(|e| io_err(Op::Remove, &e, &here))?
            == Some(Kind::Symlink)
        {
            return Err(Error::new(
                Op::Remove,
                ErrorKind::InvalidInput,
                "is a symlink, not a directory",
            )
            .subject(here));
        }
        sys::unlink_at(dir.as_fd(), &name, true).map_err(|e| io_err(Op::Remove, &e, &here))
    }

    fn read_beneath(&self, root: &str, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let rel = Rel::new(rel)?;
        let (dir, name, here) = match parent(root, &rel) {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let fd = match sys::open_read_at(dir.as_fd(), &name) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(explain(Op::Read, &dir, &name, &e, &here)),
        };
        let f = std::fs::File::from(fd);
        let meta = f.metadata().map_err(|e| io_err(Op::Read, &e, &here))?;
        if !meta.is_file() {
            return Err(
                Error::new(Op::Read, ErrorKind::InvalidInput, "not a regular file").subject(here),
            );
        }
        if meta.len() > limit {
            return Err(Error::new(
                Op::Read,
                ErrorKind::InvalidInput,
                format!("{} bytes, more than the {limit} accepted", meta.len()),
            )
            .subject(here));
        }
        let mut out = Vec::new();
        // One byte past the limit tells a file that grew after the fstat.
        f.take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| io_err(Op::Read, &e, &here))?;
        if out.len() as u64 > limit {
            return Err(Error::new(
                Op::Read,
                ErrorKind::InvalidInput,
                format!("grew past {limit} bytes while read"),
            )
            .subject(here));
        }
        Ok(Some(out))
    }

    fn stat_beneath(&self, root: &str, rel: &str) -> Result<Option<crate::Entry>> {
        let rel = Rel::new(rel)?;
        let (dir, name, here) = match parent(root, &rel) {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(st) = sys::stat_at(dir.as_fd(), &name).map_err(|e| io_err(Op::Read, &e, &here))?
        else {
            return Ok(None);
        };
        let kind = match st.kind {
            Kind::File => crate::EntryKind::File,
            Kind::Dir => crate::EntryKind::Dir,
            Kind::Other => crate::EntryKind::Other,
            Kind::Symlink => {
                let t = sys::readlink_at(dir.as_fd(), &name, crate::MAX_REL_LEN)
                    .map_err(|e| io_err(Op::Read, &e, &here))?;
                crate::EntryKind::Symlink(String::from_utf8(t).map_err(|_| {
                    Error::new(
                        Op::Read,
                        ErrorKind::InvalidInput,
                        "symlink target not UTF-8",
                    )
                    .subject(here.clone())
                })?)
            }
        };
        Ok(Some(crate::Entry {
            kind,
            perm: Perm {
                mode: st.mode,
                uid: st.uid,
                gid: st.gid,
            },
            immutable: st.immutable,
        }))
    }

    fn read_host(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }
}

/// The uid and gid owning `path` (for tests and examples that run without root and so can only
/// give files to themselves).
///
/// # Errors
/// `path` cannot be stat'ed.
pub fn current_owner(path: &str) -> Result<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| io_err(Op::Read, &e, path))?;
    Ok((m.uid(), m.gid()))
}
