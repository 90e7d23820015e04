//! The seams: sysctls and mounts.

use crate::error::Result;
use crate::mount::{MountFlags, MountSpec};
use serde::Serialize;

/// What [`SysctlOps::describe`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SysctlDesc {
    /// The kind word (`CTLTYPE_*` in the low bits, `CTLFLAG_*` above).
    pub kind: u32,
    /// The format string (`"I"`, `"IU"`, `"A"`, `"B"`, `"E,jailsys"`, `"S,in_addr,a"`…).
    pub fmt: String,
    /// The raw value (empty for nodes).
    pub raw: Vec<u8>,
}

/// Reading and writing sysctls by name.
///
/// # References
/// [sysctl(3)](https://man.freebsd.org/cgi/man.cgi?query=sysctl&sektion=3)
///
/// ```
/// use linuxulator::SysctlOps;
/// // hostsim: a simulated FreeBSD 14 host (the real one is `linuxulator::LinuxHost`).
/// let h = hostsim::SimHost::freebsd14_cuda_ready(1);
/// assert_eq!(h.get("kern.osrelease").unwrap().as_deref(), Some("14.3-RELEASE"));
/// assert_eq!(h.get("no.such.sysctl").unwrap(), None);
/// ```
pub trait SysctlOps {
    /// `sysctlbyname(3)`—The value as text (integers in decimal), `None` if the name does not exist.
    fn get(&self, name: &str) -> Result<Option<String>>;
    /// `sysctl {0, 4, mib}` (`CTL_SYSCTL_OIDFMT`) and the raw value—The sysctl's kind word,
    /// format string and raw bytes, `None` if the name does not exist. This is what libjail
    /// learns jail parameter types from (`security.jail.param.*`).
    fn describe(&self, name: &str) -> Result<Option<SysctlDesc>>;
    /// `sysctlbyname(3)`—Sets a value given as text, converted to the sysctl's type.
    ///
    /// # Privileges
    /// Root on the host.
    fn set(&self, name: &str, value: &str) -> Result<()>;
}

/// A mounted file system, as `getfsstat(2)` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountedFs {
    /// Type name.
    pub fstype: String,
    /// Source (`f_mntfromname`).
    pub from: String,
    /// Mount point (`f_mntonname`), absolute.
    pub on: String,
}

/// Mounting and unmounting under a jail root.
///
/// # References
/// [nmount(2)](https://man.freebsd.org/cgi/man.cgi?query=nmount&sektion=2)
///
/// ```
/// use linuxulator::{linux_mount_set, MountOps};
/// let h = hostsim::SimHost::freebsd14_cuda_ready(1);
/// h.with_state(|s| s.mkdir_p("/jails/j/dev").unwrap());
/// // The first of the Linux mount set: devfs on dev, walked beneath the root.
/// let devfs = &linux_mount_set(100, None, &[])[0];
/// let on = h.mount("/jails/j", devfs).unwrap();
/// assert_eq!(on, "/jails/j/dev");
/// assert!(h.mounts().unwrap().iter().any(|m| m.on == on && m.fstype == "devfs"));
/// ```
pub trait MountOps {
    /// `nmount(2)`—Mounts `spec` beneath `root` (the mount point is resolved without following
    /// symlinks out of `root`); returns the absolute mount point.
    ///
    /// # Errors
    /// `InvalidInput` with the kernel's errmsg, `NotFound` for a missing mount point,
    /// `Unsupported` when the file system is not loaded, `InvalidInput` when the mount point
    /// escapes the root.
    fn mount(&self, root: &str, spec: &MountSpec) -> Result<String>;
    /// `unmount(2)`—Unmounts an absolute mount point. `Busy` (`EBUSY`) while in use.
    fn unmount(&self, on: &str, flags: MountFlags) -> Result<()>;
    /// `getfsstat(2)`—Everything mounted.
    fn mounts(&self) -> Result<Vec<MountedFs>>;
}
