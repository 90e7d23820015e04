//! FreeBSD devfs rules and rulesets, managed live through the kernel's `DEVFSIO_*` ioctls.
//!
//! | C API / tool | Rust |
//! |---|---|
//! | `struct devfs_rule` | [`codec::RawRule`] (byte-exact, 236 bytes) |
//! | `DEVFSIO_RADD`, `RDEL`, `RAPPLY`, `RAPPLYID`, `RGETNEXT`, `SUSE`, `SAPPLY`, `SGETNEXT` | [`codec::ioctl`] numbers; [`DevfsOps`] verbs |
//! | `devfs rule add …` syntax | [`Rule`] (`Display` prints it) |
//! | `mkrid`, `rid2rsn`, `rid2rn` | [`RuleId`] |
//! | the stock jail ruleset, a GPU ruleset | [`Ruleset::jail_default`], [`Ruleset::gpu`] |
//!
//! Layering: [`types`] and [`codec`] are pure → [`DevfsOps`] → the FreeBSD implementation (on
//! an fd of a devfs mount) or `hostsim::SimHost`.
//!
//! # Not done here (yet)
//! devfs.rules(5) parsing, the visibility evaluator and the FreeBSD backend arrive with the
//! devfs-rs issue.
//!
//! # References
//! [devfs(8)](https://man.freebsd.org/cgi/man.cgi?query=devfs&sektion=8),
//! [devfs.rules(5)](https://man.freebsd.org/cgi/man.cgi?query=devfs.rules&sektion=5),
//! `sys/fs/devfs/devfs.h`

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod codec;
mod error;
pub mod eval;
mod ops;
pub mod types;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
pub use ops::{delete_ruleset, DevfsOps};
pub use sysabi::{Errno, ErrorKind};
pub use types::{Action, Condition, DevType, Rule, RuleId, Ruleset, RulesetId};
