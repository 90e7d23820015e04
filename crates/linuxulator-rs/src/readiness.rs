//! The Linux ABI's readiness on a FreeBSD host (rc.conf, the Linux root, its `/dev/shm`), and
//! the check record tools build their own checks with: each says what it looked at and the
//! exact command that fixes it. GPU and module checks are the tool's (cudajail's `doctor`).

use crate::ops::{MountOps, SysctlOps};
use crate::rcconf::RcConf;
use serde::Serialize;

/// Read-only view of files, so checks run against the host or a simulated one.
pub trait FsView {
    /// Whether the path exists (following symlinks).
    fn exists(&self, path: &str) -> bool;
    /// The file's text, if readable.
    fn read_to_string(&self, path: &str) -> Option<String>;
    /// Names in a directory (empty when it does not exist).
    fn read_dir(&self, path: &str) -> Vec<String>;
}

/// [`FsView`] over the real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

impl FsView for StdFs {
    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }
    fn read_to_string(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
    fn read_dir(&self, path: &str) -> Vec<String> {
        std::fs::read_dir(path)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ready.
    Ok,
    /// Works now, but not after a reboot, or only matters for one route.
    Warn,
    /// Blocks the CUDA jail.
    Fail,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short id (`module:linux64`, `nvidia-version`…).
    pub id: String,
    /// Outcome.
    pub status: Status,
    /// What was seen.
    pub evidence: String,
    /// The command that fixes it, when not ok.
    pub fix: Option<String>,
}

/// Kernel modules (file names) a Linux userland needs from FreeBSD: the Linux ABI (32- and
/// 64-bit), its file systems, and what Linux programs expect (`pty`, `tmpfs`, `nullfs` for
/// binds). Checking them is the caller's (with kld); this crate only names them.
pub const LINUX_MODULES: &[&str] = &[
    "linux",
    "linux64",
    "fdescfs",
    "linprocfs",
    "linsysfs",
    "tmpfs",
    "pty",
    "nullfs",
];

/// A check that passes when `ok`, else has status `fail` and the fix `fix`.
#[must_use]
pub fn check(id: impl Into<String>, ok: bool, evidence: String, fail: Status, fix: &str) -> Check {
    Check {
        id: id.into(),
        status: if ok { Status::Ok } else { fail },
        evidence,
        fix: (!ok).then(|| fix.to_string()),
    }
}

/// The host's rc.conf as rc(8) reads it: `/etc/defaults/rc.conf`, then `/etc/rc.conf` (either
/// may be missing).
pub fn host_rc_conf(fs: &dyn FsView) -> RcConf {
    let defaults = fs
        .read_to_string("/etc/defaults/rc.conf")
        .map(|t| RcConf::parse(&t))
        .unwrap_or_default();
    fs.read_to_string("/etc/rc.conf")
        .map(|t| RcConf::parse(&t))
        .unwrap_or_default()
        .with_defaults(defaults)
}

/// The Linux ABI's own readiness, in this order: `linux_enable` in rc.conf (for reboots), the
/// Linux root `compat.linux.emul_path` exists, and tmpfs on its `/dev/shm` (the Linuxulator
/// route). Returns the checks and the Linux root (`/compat/linux` when the sysctl is unreadable).
pub fn linux_checks(
    sysctl: &dyn SysctlOps,
    mounts: &dyn MountOps,
    fs: &dyn FsView,
) -> (Vec<Check>, String) {
    let mut out = Vec::new();
    // As rc(8) reads it: the defaults, then rc.conf, later lines winning; checkyesno accepts
    // YES/TRUE/ON/1 in any case and nothing else (a CR from a CRLF line makes it "no").
    let rc = host_rc_conf(fs);
    let linux_enable = rc.value("linux_enable");
    let on = linux_enable.as_ref().is_ok_and(|v| {
        v.as_deref().is_some_and(|v| {
            ["yes", "true", "on", "1"]
                .iter()
                .any(|y| v.eq_ignore_ascii_case(y))
        })
    });
    let evidence = match &linux_enable {
        Ok(Some(v)) if v.ends_with('\r') => format!(
            "linux_enable={v:?}: the line ends in CR (a CRLF file), so rc(8) sees {v:?}, which is off"
        ),
        Ok(Some(v)) => format!("linux_enable={v}"),
        Ok(None) => "linux_enable=(unset)".into(),
        Err(line) => format!("linux_enable is set by {line:?}, which cannot be read here"),
    };
    out.push(check(
        "rc.conf:linux_enable",
        on,
        evidence,
        Status::Warn,
        "sysrc linux_enable=YES",
    ));
    let emul = sysctl.get("compat.linux.emul_path").ok().flatten();
    let emul_ok = emul.as_deref().is_some_and(|p| fs.exists(p));
    out.push(check(
        "emul_path",
        emul_ok,
        match &emul {
            Some(p) => format!(
                "compat.linux.emul_path={p} ({})",
                if fs.exists(p) { "exists" } else { "missing" }
            ),
            None => "compat.linux.emul_path unreadable: is linux64 loaded?".into(),
        },
        Status::Fail,
        &match &emul {
            Some(p) => format!("mkdir -p {p}"),
            None => "kldload linux64".to_string(),
        },
    ));
    let root = emul.unwrap_or_else(|| "/compat/linux".into());
    let shm = format!("{}/dev/shm", root.trim_end_matches('/'));
    let shm_ok = mounts
        .mounts()
        .map(|v| v.iter().any(|m| m.on == shm && m.fstype == "tmpfs"))
        .unwrap_or(false);
    out.push(check(
        "linuxulator:dev/shm",
        shm_ok,
        format!(
            "tmpfs on {shm}: {}",
            if shm_ok {
                "mounted"
            } else {
                "not mounted (needed by `cudajail run` only)"
            }
        ),
        Status::Warn,
        &format!("mount -t tmpfs -o mode=1777 tmpfs {shm}"),
    ));
    (out, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_say_what_fixes_them() {
        let c = check("x", false, "seen".into(), Status::Warn, "do it");
        assert_eq!((c.status, c.fix.as_deref()), (Status::Warn, Some("do it")));
        assert_eq!(check("x", true, String::new(), Status::Fail, "f").fix, None);
    }
}
