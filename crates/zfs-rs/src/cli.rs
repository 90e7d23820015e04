//! [`ZfsOps`] over the `zfs(8)` command, for hosts where the libzfs_core bindings are not
//! built: the same semantics, one process per call. Errors keep zfs(8)'s own message as the
//! kernel message and map its wording to an errno.

use crate::error::{Error, Op, Result};
use crate::ops::ZfsOps;
use crate::types::{DatasetName, PropName, SnapshotName};
use std::process::Command;
use sysabi::{Errno, ErrorKind};

/// `zfs(8)` as the backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZfsCli;

/// Maps zfs(8)'s error text to the errno the library call would have returned.
pub fn errno_from_message(msg: &str) -> Errno {
    let m = msg.to_ascii_lowercase();
    if m.contains("does not exist") || m.contains("no such") {
        Errno::ENOENT
    } else if m.contains("already exists") || m.contains("dependent clones") {
        Errno::EEXIST
    } else if m.contains("has children")
        || m.contains("busy")
        || m.contains("more recent snapshots")
    {
        Errno::EBUSY
    } else if m.contains("permission denied") || m.contains("not permitted") {
        Errno::EPERM
    } else if m.contains("invalid") || m.contains("bad ") {
        Errno::EINVAL
    } else {
        Errno::EIO
    }
}

fn zfs(op: Op, subject: &str, args: &[String]) -> Result<String> {
    let out = Command::new("zfs").args(args).output().map_err(|e| {
        Error::new(
            op,
            ErrorKind::Unsupported,
            format!("cannot run zfs(8): {e}"),
        )
        .subject(subject)
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(crate::error::from_errno(op, errno_from_message(&msg), subject).kernel_msg(msg))
}

fn props(p: &[(PropName, String)]) -> Vec<String> {
    p.iter()
        .flat_map(|(k, v)| ["-o".to_string(), format!("{}={v}", k.as_str())])
        .collect()
}

impl ZfsOps for ZfsCli {
    fn create(&self, fs: &DatasetName, p: &[(PropName, String)]) -> Result<()> {
        let mut a = vec!["create".to_string()];
        a.extend(props(p));
        a.push(fs.to_string());
        zfs(Op::Create, fs.as_str(), &a).map(|_| ())
    }
    fn snapshot(&self, snaps: &[SnapshotName]) -> Result<()> {
        let mut a = vec!["snapshot".to_string()];
        a.extend(snaps.iter().map(ToString::to_string));
        zfs(Op::Snapshot, &a[1..].join(","), &a).map(|_| ())
    }
    fn clone_snapshot(
        &self,
        fs: &DatasetName,
        origin: &SnapshotName,
        p: &[(PropName, String)],
    ) -> Result<()> {
        let mut a = vec!["clone".to_string()];
        a.extend(props(p));
        a.push(origin.to_string());
        a.push(fs.to_string());
        zfs(Op::Clone, fs.as_str(), &a).map(|_| ())
    }
    fn destroy(&self, name: &crate::types::ZfsName) -> Result<()> {
        let name: &str = &name.to_string();
        zfs(Op::Destroy, name, &["destroy".into(), name.into()]).map(|_| ())
    }
    fn rename(&self, from: &DatasetName, to: &DatasetName) -> Result<()> {
        zfs(
            Op::Rename,
            from.as_str(),
            &["rename".into(), from.to_string(), to.to_string()],
        )
        .map(|_| ())
    }
    fn promote(&self, clone: &DatasetName) -> Result<()> {
        zfs(
            Op::Promote,
            clone.as_str(),
            &["promote".into(), clone.to_string()],
        )
        .map(|_| ())
    }
    fn rollback(&self, snap: &SnapshotName) -> Result<()> {
        zfs(
            Op::Rollback,
            &snap.to_string(),
            &["rollback".into(), snap.to_string()],
        )
        .map(|_| ())
    }
    fn exists(&self, name: &crate::types::ZfsName) -> Result<bool> {
        let name: &str = &name.to_string();
        match zfs(
            Op::List,
            name,
            &[
                "list".into(),
                "-H".into(),
                "-o".into(),
                "name".into(),
                name.into(),
            ],
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
    fn children(&self, fs: &DatasetName) -> Result<Vec<String>> {
        let out = zfs(
            Op::List,
            fs.as_str(),
            &[
                "list".into(),
                "-H".into(),
                "-o".into(),
                "name".into(),
                "-d".into(),
                "1".into(),
                "-t".into(),
                "filesystem,volume,snapshot".into(),
                fs.to_string(),
            ],
        )?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != fs.as_str())
            .map(String::from)
            .collect())
    }
    fn get_prop(&self, ds: &DatasetName, prop: &PropName) -> Result<Option<String>> {
        let out = zfs(
            Op::Prop,
            ds.as_str(),
            &[
                "get".into(),
                "-H".into(),
                "-p".into(),
                "-o".into(),
                "value,source".into(),
                prop.as_str().into(),
                ds.to_string(),
            ],
        )?;
        let line = out.lines().next().unwrap_or("");
        let (value, source) = line.split_once('\t').unwrap_or((line, ""));
        Ok((!(value == "-" && source.trim() == "-")).then(|| value.to_string()))
    }
    fn set_prop(&self, ds: &DatasetName, prop: &PropName, value: &str) -> Result<()> {
        if value.contains('\0') || value.len() > 8192 {
            return Err(Error::new(
                Op::Prop,
                ErrorKind::InvalidInput,
                "property value must be at most 8192 bytes without NUL",
            )
            .subject(ds));
        }
        zfs(
            Op::Prop,
            ds.as_str(),
            &[
                "set".into(),
                format!("{}={value}", prop.as_str()),
                ds.to_string(),
            ],
        )
        .map(|_| ())
    }
    fn jail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        zfs(
            Op::Jail,
            fs.as_str(),
            &["jail".into(), jid.to_string(), fs.to_string()],
        )
        .map(|_| ())
    }
    fn unjail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        zfs(
            Op::Jail,
            fs.as_str(),
            &["unjail".into(), jid.to_string(), fs.to_string()],
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_map_to_errnos() {
        assert_eq!(
            errno_from_message("cannot open 'tank/x': dataset does not exist"),
            Errno::ENOENT
        );
        assert_eq!(
            errno_from_message("cannot create 'tank/x': dataset already exists"),
            Errno::EEXIST
        );
        assert_eq!(
            errno_from_message("cannot destroy 'tank/t@s': snapshot has dependent clones"),
            Errno::EEXIST
        );
        assert_eq!(
            errno_from_message("cannot destroy 'tank/t': filesystem has children"),
            Errno::EBUSY
        );
        assert_eq!(
            errno_from_message("cannot create 'tank/x': permission denied"),
            Errno::EPERM
        );
        assert_eq!(errno_from_message("something odd"), Errno::EIO);
    }
}
