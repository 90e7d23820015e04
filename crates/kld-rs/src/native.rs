//! [`KldOps`] on the running FreeBSD kernel.

use crate::codec::{c_text, check_name, LINKER_UNLOAD_FORCE, LINKER_UNLOAD_NORMAL};
use crate::error::{from_errno, Error, Op, Result};
use crate::ops::{KldFile, KldFileId, KldOps};
use crate::sys;
use std::ffi::CString;
use sysabi::{Errno, ErrorKind};

/// The host's kernel linker.
#[derive(Debug, Default, Clone, Copy)]
pub struct KldHost;

fn cstr(op: Op, s: &str) -> Result<CString> {
    check_name(s)?;
    CString::new(s).map_err(|_| {
        Error::new(op, ErrorKind::InvalidInput, "NUL in name").subject(s.escape_debug())
    })
}

fn os(op: Op, e: &std::io::Error, subject: impl std::fmt::Display) -> Error {
    from_errno(op, Errno(e.raw_os_error().unwrap_or(0)), subject)
}

impl KldOps for KldHost {
    fn load(&self, file: &str) -> Result<KldFileId> {
        let c = cstr(Op::Load, file)?;
        sys::load(&c)
            .map(KldFileId)
            .map_err(|e| os(Op::Load, &e, file))
    }

    fn unload(&self, id: KldFileId, force: bool) -> Result<()> {
        let flags = if force {
            LINKER_UNLOAD_FORCE
        } else {
            LINKER_UNLOAD_NORMAL
        };
        sys::unload(id.0, flags).map_err(|e| os(Op::Unload, &e, id.0))
    }

    fn find(&self, file: &str) -> Result<Option<KldFileId>> {
        let c = cstr(Op::Find, file)?;
        match sys::find(&c) {
            Ok(id) => Ok(Some(KldFileId(id))),
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT.0) => Ok(None),
            Err(e) => Err(os(Op::Find, &e, file)),
        }
    }

    fn modfind(&self, module: &str) -> Result<bool> {
        let c = cstr(Op::ModFind, module)?;
        match sys::mod_find(&c) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT.0) => Ok(false),
            Err(e) => Err(os(Op::ModFind, &e, module)),
        }
    }

    fn list(&self) -> Result<Vec<KldFile>> {
        let mut out = Vec::new();
        let mut id = sys::next(0).map_err(|e| os(Op::Stat, &e, 0))?;
        while id > 0 {
            let st = sys::stat(id).map_err(|e| os(Op::Stat, &e, id))?;
            let mut modules = Vec::new();
            let mut m = sys::first_mod(id).map_err(|e| os(Op::ModStat, &e, id))?;
            while m > 0 {
                let ms = sys::mod_stat(m).map_err(|e| os(Op::ModStat, &e, m))?;
                modules.push(c_text(&ms.name));
                m = sys::mod_fnext(m).map_err(|e| os(Op::ModStat, &e, m))?;
            }
            out.push(KldFile {
                id: KldFileId(st.id),
                name: c_text(&st.name),
                refs: st.refs,
                path: c_text(&st.pathname),
                modules,
            });
            id = sys::next(id).map_err(|e| os(Op::Stat, &e, id))?;
        }
        Ok(out)
    }
}
