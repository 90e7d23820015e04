//! ZFS for jails: a template snapshot per distro, one clone per jail, user properties as the
//! tool's state store, and `zfs jail`.
//!
//! | C API | Rust |
//! |---|---|
//! | `lzc_create`, `lzc_snapshot`, `lzc_clone`, `lzc_destroy`, `lzc_rollback_to`, `lzc_exists` | [`ZfsOps`] |
//! | `zfs_prop_set`/`zfs_prop_get` (libzfs), user properties `cudajail:*` | [`ZfsOps::set_prop`], [`ZfsOps::get_prop`] |
//! | `ZFS_IOC_JAIL` / `ZFS_IOC_UNJAIL` | [`ZfsOps::jail`], [`ZfsOps::unjail`]; [`codec::ZFS_IOC_JAIL`] |
//! | dataset/snapshot name rules | [`DatasetName`], [`SnapshotName`], [`PropName`] |
//!
//! # Not done here (yet)
//! The libzfs_core bindings (a bindgen `-sys` crate) and the real-ZFS VM tier arrive with the
//! zfs-rs issue.
//!
//! # References
//! [zfs(8)](https://man.freebsd.org/cgi/man.cgi?query=zfs&sektion=8),
//! [zfs-jail(8)](https://man.freebsd.org/cgi/man.cgi?query=zfs-jail&sektion=8),
//! [zfsprops(7)](https://man.freebsd.org/cgi/man.cgi?query=zfsprops&sektion=7)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod cli;
pub mod codec;
mod error;
mod ops;
pub mod types;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
pub use ops::ZfsOps;
pub use sysabi::{Errno, ErrorKind};
pub use types::{DatasetName, PropName, SnapshotName};
