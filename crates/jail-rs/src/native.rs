//! [`JailOps`] on the running FreeBSD kernel.

use crate::codec::encode_create;
use crate::error::{from_errno, Error, Op, Result};
use crate::ops::{JailInfo, JailOps};
use crate::sys;
use crate::types::{JailFlags, JailName, JailSpec, Jid, ParamValue, MAXHOSTNAMELEN, MAXPATHLEN};
use sysabi::iov::IovList;
use sysabi::{Errno, ErrorKind};

/// The host's jails.
#[derive(Debug, Default, Clone, Copy)]
pub struct JailHost;

fn nul(op: Op, what: &str) -> Error {
    Error::new(
        op,
        ErrorKind::InvalidInput,
        format!("{what}: contains a NUL byte"),
    )
}

fn os_err(op: Op, e: &std::io::Error, subject: impl std::fmt::Display, list: &IovList) -> Error {
    let err = from_errno(op, Errno(e.raw_os_error().unwrap_or(0)), subject);
    match list.errmsg() {
        Some(m) => err.kernel_msg(m),
        None => err,
    }
}

fn int(list: &IovList, name: &str) -> Option<i32> {
    let b = list.value(name)?;
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// A jail as `jail_get` reported it. The name is taken as the kernel gives it: jails made by
/// other tools may have names [`JailName`] refuses (an unnamed jail is named by its jid), and
/// listing them must not fail.
fn info_from(list: &IovList) -> Result<JailInfo> {
    Ok(JailInfo {
        jid: Jid(int(list, "jid").unwrap_or(0)),
        name: list.value_str("name").unwrap_or_default(),
        path: list.value_str("path").unwrap_or_default(),
        dying: int(list, "dying").unwrap_or(0) != 0,
        params: reported(list),
    })
}

/// Parameters every jail has, asked for on each `get`/`list` (module parameters such as
/// `linux.*` are left out: asking for one whose module is not loaded fails the whole call).
const REPORTED: &[&str] = &[
    "host.hostname",
    "persist",
    "enforce_statfs",
    "devfs_ruleset",
    "children.max",
    "securelevel",
];

fn query(list: &mut IovList) {
    list.push_out("jid", 4);
    list.push_out("name", MAXHOSTNAMELEN);
    list.push_out("path", MAXPATHLEN);
    list.push_out("dying", 4);
    push_reported(list);
    list.push_errmsg();
}

fn push_reported(list: &mut IovList) {
    for p in REPORTED {
        if let Some((def, _)) = crate::types::param_def(p) {
            // Integers must have exactly their size (vfs_setopt checks it); strings may be longer.
            let cap = match def.ty {
                crate::types::ParamType::String(n) => n,
                crate::types::ParamType::ULong => 8,
                _ => 4,
            };
            list.push_out(p, cap);
        }
    }
}

fn reported(list: &IovList) -> Vec<(String, ParamValue)> {
    REPORTED
        .iter()
        .filter_map(|p| {
            let (def, _) = crate::types::param_def(p)?;
            let v = crate::codec::decode_param(p, def.ty, list.value(p)?).ok()?;
            Some(((*p).to_string(), v))
        })
        .collect()
}

impl JailHost {
    fn set(
        &self,
        op: Op,
        pairs: &[crate::codec::IovPair],
        flags: JailFlags,
        subject: &str,
    ) -> Result<i32> {
        let mut list = IovList::new();
        for p in pairs {
            let name =
                String::from_utf8_lossy(&p.name[..p.name.len().saturating_sub(1)]).into_owned();
            list.push(&name, p.value.clone())
                .ok_or_else(|| nul(op, &name))?;
        }
        list.push_errmsg();
        sys::jail_set(&mut list, flags.bits()).map_err(|e| os_err(op, &e, subject, &list))
    }
}

impl JailHost {
    /// `jail_get(2)` by name with `flags` (0 or `JAIL_DYING`).
    fn get_flags(&self, name: &JailName, flags: i32) -> Result<Option<JailInfo>> {
        let mut list = IovList::new();
        list.push_str("name", name.as_str())
            .ok_or_else(|| nul(Op::Get, "name"))?;
        // The key itself is not written back; the other out-buffers are.
        list.push_out("path", MAXPATHLEN);
        list.push_out("dying", 4);
        push_reported(&mut list);
        list.push_errmsg();
        match sys::jail_get(&mut list, flags) {
            Ok(jid) => Ok(Some(JailInfo {
                jid: Jid(jid),
                name: name.as_str().to_string(),
                path: list.value_str("path").unwrap_or_default(),
                dying: int(&list, "dying").unwrap_or(0) != 0,
                params: reported(&list),
            })),
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT.0) => Ok(None),
            Err(e) => Err(os_err(Op::Get, &e, name, &list)),
        }
    }
}

impl JailOps for JailHost {
    fn create(&self, spec: &JailSpec) -> Result<Jid> {
        let pairs = encode_create(spec, JailFlags::CREATE)?;
        self.set(Op::Create, &pairs, JailFlags::CREATE, spec.name.as_str())
            .map(Jid)
    }

    fn update(&self, jid: Jid, params: &[(String, ParamValue)]) -> Result<()> {
        let mut pairs = vec![crate::codec::IovPair {
            name: b"jid\0".to_vec(),
            value: Some(jid.0.to_ne_bytes().to_vec()),
        }];
        for (n, v) in params {
            pairs.push(crate::codec::encode_param(n, v).map_err(|e| e.subject(jid))?);
        }
        self.set(Op::Update, &pairs, JailFlags::UPDATE, &jid.to_string())
            .map(|_| ())
    }

    fn get(&self, name: &JailName) -> Result<Option<JailInfo>> {
        self.get_flags(name, 0)
    }

    fn get_dying(&self, name: &JailName) -> Result<Option<JailInfo>> {
        self.get_flags(name, JailFlags::DYING.bits())
    }

    fn list(&self) -> Result<Vec<JailInfo>> {
        let mut out = Vec::new();
        let mut last = 0i32;
        loop {
            let mut list = IovList::new();
            list.push("lastjid", Some(last.to_ne_bytes().to_vec()))
                .ok_or_else(|| nul(Op::List, "lastjid"))?;
            query(&mut list);
            match sys::jail_get(&mut list, 0) {
                Ok(jid) => {
                    out.push(info_from(&list)?);
                    last = jid;
                }
                Err(e) if e.raw_os_error() == Some(Errno::ENOENT.0) => return Ok(out),
                Err(e) => return Err(os_err(Op::List, &e, format!("lastjid {last}"), &list)),
            }
        }
    }

    fn remove(&self, jid: Jid) -> Result<()> {
        sys::jail_remove(jid.0)
            .map_err(|e| from_errno(Op::Remove, Errno(e.raw_os_error().unwrap_or(0)), jid))
    }
}

/// Runs a [`std::process::Command`] inside a jail: the child calls `jail_attach(2)` right
/// before `execve`, so only the new process enters the jail, and sets its umask to 022.
///
/// # Privileges
/// Root on the host (`PRIV_JAIL_ATTACH`).
///
/// # References
/// [jail_attach(2)](https://man.freebsd.org/cgi/man.cgi?query=jail_attach&sektion=2)
pub trait JailCommandExt {
    /// Attach the child to `jid` before it executes.
    fn jail(&mut self, jid: Jid) -> &mut Self;
}

impl JailCommandExt for std::process::Command {
    fn jail(&mut self, jid: Jid) -> &mut Self {
        sys::attach_before_exec(self, jid.0);
        self
    }
}

impl crate::ops::JailExec for JailHost {
    /// `jail_attach(2)` and exec in a child, with [`crate::exec::run_bounded`]'s clean
    /// environment, time limit ([`crate::exec::TIMEOUT`]) and bounded output
    /// ([`crate::exec::OUTPUT_CAP`]); umask 022 after the attach.
    fn exec(&self, jid: Jid, argv: &[&str]) -> Result<(i32, String)> {
        let (prog, args) = argv.split_first().ok_or_else(|| {
            Error::new(Op::Attach, ErrorKind::InvalidInput, "empty command").subject(jid)
        })?;
        crate::exec::run_bounded(
            std::process::Command::new(prog).args(args).jail(jid),
            crate::exec::TIMEOUT,
            crate::exec::OUTPUT_CAP,
        )
        .map_err(|e| e.subject(format!("{argv:?} in jail {jid}")))
    }
}
