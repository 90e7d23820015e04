//! [`ZfsOps`] over libzfs_core (and libzfs for properties and listing): the backend used when
//! the OpenZFS headers were found at build time.

use crate::cli::ZfsCli;
use crate::error::{from_errno, Error, Op, Result};
use crate::ops::ZfsOps;
use crate::sys::{self, cstring, Libzfs, Nvlist};
use crate::types::{DatasetName, PropName, SnapshotName};
use std::sync::Mutex;
use sysabi::{Errno, ErrorKind};

/// The host's ZFS through libzfs_core.
pub struct LibZfs {
    lib: Mutex<Libzfs>,
}

fn errno(raw: i32) -> Errno {
    if cfg!(target_os = "linux") {
        Errno::from_linux(raw)
    } else {
        Errno(raw)
    }
}

fn c(op: Op, s: &str) -> Result<std::ffi::CString> {
    cstring(s).ok_or_else(|| {
        Error::new(op, ErrorKind::InvalidInput, "contains a NUL byte").subject(s.escape_debug())
    })
}

fn props(op: Op, p: &[(PropName, String)]) -> Result<Nvlist> {
    let mut l = Nvlist::new().map_err(|e| from_errno(op, errno(e), "nvlist_alloc"))?;
    for (k, v) in p {
        if v.len() > 8191 {
            return Err(Error::new(
                op,
                ErrorKind::InvalidInput,
                format!("{}: value longer than ZFS_MAXPROPLEN", k.as_str()),
            ));
        }
        l.add_string(&c(op, k.as_str())?, &c(op, v)?)
            .map_err(|e| from_errno(op, errno(e), k.as_str()))?;
    }
    Ok(l)
}

fn errlist(e: &[(String, i32)]) -> String {
    e.iter()
        .map(|(n, v)| format!("{n}: {}", errno(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl LibZfs {
    /// Opens `/dev/zfs` through libzfs_core and libzfs.
    ///
    /// # Errors
    /// `NotFound`/`PermissionDenied` when `/dev/zfs` cannot be opened (no ZFS module, not root).
    pub fn new() -> Result<LibZfs> {
        sys::init().map_err(|e| {
            from_errno(Op::Create, errno(e), "/dev/zfs")
                .detail("libzfs_core_init failed: is the zfs module loaded?")
        })?;
        let lib = Libzfs::new().ok_or_else(|| {
            Error::new(
                Op::List,
                ErrorKind::NotFound,
                "libzfs_init failed: is the zfs module loaded?",
            )
        })?;
        Ok(LibZfs {
            lib: Mutex::new(lib),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&Libzfs) -> R) -> R {
        let g = self
            .lib
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&g)
    }
}

impl LibZfs {
    /// lzc_create/lzc_clone take native properties already converted to their kernel types
    /// (`compression=lz4` as a number), which is libzfs's job: user properties go in the call,
    /// native ones are set through libzfs right after; if one is refused, the new dataset is
    /// destroyed again, so the call is all or nothing.
    fn set_native_after(&self, op: Op, fs: &DatasetName, p: &[(PropName, String)]) -> Result<()> {
        for (k, v) in p.iter().filter(|(k, _)| !k.is_user()) {
            if let Err(e) = self.set_prop(fs, k, v) {
                let _ = sys::destroy(&c(op, fs.as_str())?);
                return Err(Error::new(
                    op,
                    e.kind(),
                    format!(
                        "property {}={v}: {}",
                        k.as_str(),
                        e.detail_str().unwrap_or("refused")
                    ),
                )
                .subject(fs));
            }
        }
        // Mount it, as zfs(8) does after create and clone; undo the create if that fails.
        let name = c(op, fs.as_str())?;
        let r = self.with(|lib| {
            let d = lib
                .open(&name)
                .ok_or_else(|| from_errno(op, Errno::ENOENT, fs).kernel_msg(lib.error()))?;
            d.mount().map_err(|e| {
                from_errno(op, errno(e), fs)
                    .kernel_msg(lib.error())
                    .detail("created but could not be mounted")
            })
        });
        if r.is_err() {
            let _ = sys::destroy(&name);
        }
        r
    }
}

fn user_only(p: &[(PropName, String)]) -> Vec<(PropName, String)> {
    p.iter().filter(|(k, _)| k.is_user()).cloned().collect()
}

impl ZfsOps for LibZfs {
    fn create(&self, fs: &DatasetName, p: &[(PropName, String)]) -> Result<()> {
        let l = props(Op::Create, &user_only(p))?;
        sys::create(&c(Op::Create, fs.as_str())?, &l)
            .map_err(|e| from_errno(Op::Create, errno(e), fs))?;
        self.set_native_after(Op::Create, fs, p)
    }

    fn snapshot(&self, snaps: &[SnapshotName]) -> Result<()> {
        let mut l =
            Nvlist::new().map_err(|e| from_errno(Op::Snapshot, errno(e), "nvlist_alloc"))?;
        for s in snaps {
            l.add_boolean(&c(Op::Snapshot, &s.to_string())?)
                .map_err(|e| from_errno(Op::Snapshot, errno(e), s))?;
        }
        let subject = snaps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sys::snapshot(&l).map_err(|(e, list)| {
            let err = from_errno(Op::Snapshot, errno(e), &subject);
            if list.is_empty() {
                err
            } else {
                err.detail(errlist(&list))
            }
        })
    }

    fn clone_snapshot(
        &self,
        fs: &DatasetName,
        origin: &SnapshotName,
        p: &[(PropName, String)],
    ) -> Result<()> {
        let l = props(Op::Clone, &user_only(p))?;
        sys::clone(
            &c(Op::Clone, fs.as_str())?,
            &c(Op::Clone, &origin.to_string())?,
            &l,
        )
        .map_err(|e| from_errno(Op::Clone, errno(e), fs))?;
        self.set_native_after(Op::Clone, fs, p)
    }

    fn destroy(&self, name: &crate::types::ZfsName) -> Result<()> {
        let name: &str = &name.to_string();
        if name.contains('@') {
            let mut l =
                Nvlist::new().map_err(|e| from_errno(Op::Destroy, errno(e), "nvlist_alloc"))?;
            l.add_boolean(&c(Op::Destroy, name)?)
                .map_err(|e| from_errno(Op::Destroy, errno(e), name))?;
            return sys::destroy_snaps(&l).map_err(|(e, list)| {
                // The per-snapshot errno is the informative one (EEXIST: dependent clones).
                let first = list.first().map_or(e, |(_, v)| *v);
                from_errno(Op::Destroy, errno(first), name)
            });
        }
        let cname = c(Op::Destroy, name)?;
        self.with(|lib| match lib.open(&cname) {
            Some(d) => d.unmount().map_err(|e| {
                from_errno(Op::Destroy, errno(e), name)
                    .kernel_msg(lib.error())
                    .detail("could not unmount")
            }),
            None => Ok(()),
        })?;
        sys::destroy(&cname).map_err(|e| from_errno(Op::Destroy, errno(e), name))
    }

    fn rollback(&self, snap: &SnapshotName) -> Result<()> {
        sys::rollback_to(
            &c(Op::Rollback, snap.dataset().as_str())?,
            &c(Op::Rollback, &snap.to_string())?,
        )
        .map_err(|e| from_errno(Op::Rollback, errno(e), snap))
    }

    fn rename(&self, from: &DatasetName, to: &DatasetName) -> Result<()> {
        let (f, t) = (c(Op::Rename, from.as_str())?, c(Op::Rename, to.as_str())?);
        // lzc_rename leaves mounts to the caller: unmount, rename, mount under the new name.
        self.with(|lib| match lib.open(&f) {
            Some(d) => d
                .unmount()
                .map_err(|e| from_errno(Op::Rename, errno(e), from).kernel_msg(lib.error())),
            None => Err(from_errno(Op::Rename, Errno::ENOENT, from)),
        })?;
        let r = sys::rename(&f, &t).map_err(|e| from_errno(Op::Rename, errno(e), from));
        let again = if r.is_ok() { &t } else { &f };
        self.with(|lib| {
            if let Some(d) = lib.open(again) {
                let _ = d.mount();
            }
        });
        r
    }

    fn promote(&self, clone: &DatasetName) -> Result<()> {
        sys::promote(&c(Op::Promote, clone.as_str())?).map_err(|(e, conflict)| {
            let err = from_errno(Op::Promote, errno(e), clone);
            if conflict.is_empty() {
                err
            } else {
                err.detail(format!("conflicting snapshot {conflict}"))
            }
        })
    }

    fn exists(&self, name: &crate::types::ZfsName) -> Result<bool> {
        let name: &str = &name.to_string();
        Ok(sys::exists(&c(Op::List, name)?))
    }

    fn children(&self, fs: &DatasetName) -> Result<Vec<String>> {
        let name = c(Op::List, fs.as_str())?;
        self.with(|lib| {
            let d = lib
                .open(&name)
                .ok_or_else(|| from_errno(Op::List, Errno::ENOENT, fs).kernel_msg(lib.error()))?;
            let mut v = d.children();
            v.sort();
            Ok(v)
        })
    }

    fn get_prop(&self, ds: &DatasetName, prop: &PropName) -> Result<Option<String>> {
        let name = c(Op::Prop, ds.as_str())?;
        let p = c(Op::Prop, prop.as_str())?;
        self.with(|lib| {
            let d = lib
                .open(&name)
                .ok_or_else(|| from_errno(Op::Prop, Errno::ENOENT, ds).kernel_msg(lib.error()))?;
            Ok(if prop.is_user() {
                d.user_prop(&p)
            } else {
                d.native_prop(&p)
            })
        })
    }

    fn set_prop(&self, ds: &DatasetName, prop: &PropName, value: &str) -> Result<()> {
        if value.len() > 8191 {
            return Err(Error::new(
                Op::Prop,
                ErrorKind::InvalidInput,
                format!("{}: value longer than ZFS_MAXPROPLEN", prop.as_str()),
            )
            .subject(ds));
        }
        let name = c(Op::Prop, ds.as_str())?;
        let (p, v) = (c(Op::Prop, prop.as_str())?, c(Op::Prop, value)?);
        self.with(|lib| {
            let d = lib
                .open(&name)
                .ok_or_else(|| from_errno(Op::Prop, Errno::ENOENT, ds).kernel_msg(lib.error()))?;
            d.set_prop(&p, &v)
                .map_err(|_| Error::new(Op::Prop, ErrorKind::InvalidInput, lib.error()).subject(ds))
        })
    }

    /// Through zfs(8): libzfs_core has no jail call, and `zfs_jail` exists only in FreeBSD's libzfs.
    fn jail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        ZfsCli.jail(fs, jid)
    }

    /// Through zfs(8), as [`LibZfs::jail`].
    fn unjail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        ZfsCli.unjail(fs, jid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvlists_never_leak() {
        let before = sys::LIVE_NVLISTS.load(std::sync::atomic::Ordering::SeqCst);
        for i in 0..1000 {
            let l = props(
                Op::Create,
                &[(PropName::cudajail("k").unwrap(), format!("v{i}"))],
            )
            .unwrap();
            drop(l);
        }
        assert!(props(
            Op::Create,
            &[(PropName::cudajail("k").unwrap(), "x".repeat(9000))]
        )
        .is_err());
        assert_eq!(
            sys::LIVE_NVLISTS.load(std::sync::atomic::Ordering::SeqCst),
            before
        );
    }
}
