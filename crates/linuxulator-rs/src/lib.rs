//! The FreeBSD Linux ABI ("Linuxulator"): `compat.linux.*` sysctls, the Linux identity of a
//! jail, and the Linux file system set a Linux root needs.
//!
//! | C API / file | Rust |
//! |---|---|
//! | `compat.linux.osrelease` (`a.b.c`) | [`LinuxRelease`] |
//! | `sysctlbyname(3)` | [`SysctlOps`] |
//! | `nmount(2)`, `unmount(2)`, `getfsstat(2)` | [`MountOps`], [`MountSpec`], [`MountFlags`] |
//! | the devfs/tmpfs/fdescfs/linprocfs/linsysfs set | [`linux_mount_set`] |
//! | per-suite minimum kernel for glibc | [`min_osrelease`] |
//!
//! Mount points are always given relative to a jail root and are resolved beneath it without
//! following symlinks out of it; [`MountSpec::target`] refuses `..` before anything is resolved.
//!
//! # References
//! [linux(4)](https://man.freebsd.org/cgi/man.cgi?query=linux&sektion=4),
//! [nmount(2)](https://man.freebsd.org/cgi/man.cgi?query=nmount&sektion=2),
//! [linprocfs(5)](https://man.freebsd.org/cgi/man.cgi?query=linprocfs&sektion=5),
//! [linsysfs(5)](https://man.freebsd.org/cgi/man.cgi?query=linsysfs&sektion=5),
//! [fdescfs(5)](https://man.freebsd.org/cgi/man.cgi?query=fdescfs&sektion=5)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod compat;
mod error;
pub mod mount;
#[cfg(target_os = "freebsd")]
mod native;
mod ops;
pub mod rcconf;
pub mod readiness;
#[cfg(target_os = "freebsd")]
mod sys;
pub mod sysctl;
pub mod types;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
pub use mount::{linux_mount_set, MountFlags, MountSpec};
#[cfg(target_os = "freebsd")]
pub use native::LinuxHost;
pub use ops::{MountOps, MountedFs, SysctlDesc, SysctlOps};
pub use sysabi::{Errno, ErrorKind};
pub use types::{min_osrelease, LinuxRelease, OsRelease, Suite};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
