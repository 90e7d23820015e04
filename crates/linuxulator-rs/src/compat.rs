//! Typed access to the Linux ABI sysctls, through any [`SysctlOps`].
//!
//! `compat.linux.osname`, `osrelease` and `oss_version` are per jail (the jail parameters
//! `linux.*`); `compat.linux.emul_path` and `kern.elf64.fallback_brand` are global. All of
//! `compat.linux.*` exist only while the Linux ABI module is loaded.

use crate::error::{Error, Op, Result};
use crate::mount::MountFlags;
use crate::ops::{MountOps, SysctlOps};
use crate::types::LinuxRelease;
use sysabi::ErrorKind;

fn need(s: &dyn SysctlOps, name: &str) -> Result<String> {
    s.get(name)?.ok_or_else(|| {
        Error::new(
            Op::SysctlGet,
            ErrorKind::NotFound,
            "no such sysctl: load the Linux ABI (kldload linux64)",
        )
        .subject(name)
    })
}

/// `compat.linux.osrelease`, parsed.
///
/// # Errors
/// `NotFound` without the Linux ABI module; `InvalidInput` for a value that is not `a.b.c`.
pub fn osrelease(s: &dyn SysctlOps) -> Result<LinuxRelease> {
    need(s, "compat.linux.osrelease")?.parse()
}

/// Sets `compat.linux.osrelease` (root on the host).
///
/// # Errors
/// `PermissionDenied` when not root; `NotFound` without the module.
pub fn set_osrelease(s: &dyn SysctlOps, r: LinuxRelease) -> Result<()> {
    s.set("compat.linux.osrelease", &r.to_string())
}

/// `compat.linux.osname`.
///
/// # Errors
/// `NotFound` without the Linux ABI module.
pub fn osname(s: &dyn SysctlOps) -> Result<String> {
    need(s, "compat.linux.osname")
}

/// `compat.linux.oss_version`.
///
/// # Errors
/// `NotFound` without the module; `InvalidInput` when not a number.
pub fn oss_version(s: &dyn SysctlOps) -> Result<i64> {
    let v = need(s, "compat.linux.oss_version")?;
    v.parse().map_err(|_| {
        Error::new(
            Op::SysctlGet,
            ErrorKind::InvalidInput,
            format!("{v:?} is not a number"),
        )
        .subject("compat.linux.oss_version")
    })
}

/// `compat.linux.emul_path`: where Linux binaries find their root (`/compat/linux`).
///
/// # Errors
/// `NotFound` without the Linux ABI module.
pub fn emul_path(s: &dyn SysctlOps) -> Result<String> {
    need(s, "compat.linux.emul_path")
}

/// `kern.elf64.fallback_brand`: -1 (none) by default, 3 (`ELFOSABI_LINUX`) runs unbranded
/// Linux ELF files.
///
/// # Errors
/// As [`SysctlOps::get`].
pub fn fallback_brand(s: &dyn SysctlOps) -> Result<i64> {
    let v = need(s, "kern.elf64.fallback_brand")?;
    v.parse().map_err(|_| {
        Error::new(
            Op::SysctlGet,
            ErrorKind::InvalidInput,
            format!("{v:?} is not a number"),
        )
        .subject("kern.elf64.fallback_brand")
    })
}

/// Unmounts everything mounted below `root` (and `root` itself when `include_root`), deepest
/// first (the reverse of mounting order), and returns what it unmounted. Stops at the first failure, which is reported with
/// what was already unmounted: a busy mount is an error, never skipped.
///
/// # Errors
/// The first `unmount` error.
pub fn unmount_all(ops: &dyn MountOps, root: &str, include_root: bool) -> Result<Vec<String>> {
    let root = root.trim_end_matches('/');
    let below = format!("{root}/");
    let mut on: Vec<String> = ops
        .mounts()?
        .into_iter()
        .map(|m| m.on)
        .filter(|p| (include_root && p == root) || p.starts_with(&below))
        .collect();
    on.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    let mut done = Vec::new();
    for p in on {
        if let Err(e) = ops.unmount(&p, MountFlags::empty()) {
            return Err(if done.is_empty() {
                e
            } else {
                e.detail(format!("already unmounted: {}", done.join(", ")))
            });
        }
        done.push(p);
    }
    Ok(done)
}
