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
//! | devfs.rules(5) files, `add …` lines | [`text::RulesFile`], [`text::parse_rule_line`] |
//! | which nodes a mount shows (fnmatch, includes, depth) | [`eval::visible`], [`eval::fnmatch`] |
//!
//! On FreeBSD, `DevfsHost` implements [`DevfsOps`] with the ioctls.
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
pub mod load;
pub mod mode;
#[cfg(target_os = "freebsd")]
mod native;
mod ops;
#[cfg(target_os = "freebsd")]
mod sys;
pub mod text;
pub mod types;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
#[cfg(target_os = "freebsd")]
pub use native::DevfsHost;
pub use ops::{delete_ruleset, DevfsOps};
pub use sysabi::{Errno, ErrorKind};
pub use types::{Action, Condition, DevType, Rule, RuleId, Ruleset, RulesetId};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
