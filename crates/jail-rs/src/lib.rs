//! Typed FreeBSD jails: parameters, their `jail_set(2)` encoding, and the [`JailOps`] seam.
//!
//! | C API | Rust |
//! |---|---|
//! | `jail_set(2)` with `JAIL_CREATE` | [`JailOps::create`] |
//! | `jail_set(2)` with `JAIL_UPDATE` | [`JailOps::update`] |
//! | `jail_get(2)` by `jid`/`name` | [`JailOps::get`] |
//! | `jail_get(2)` walking `lastjid` | [`JailOps::list`] |
//! | `jail_remove(2)` | [`JailOps::remove`] |
//! | `JAIL_*` flags | [`JailFlags`] |
//! | `security.jail.param.*` types | [`ParamType`], [`KNOWN_PARAMS`] |
//! | the name/value iovec list | [`codec::encode_create`] |
//!
//! Layering: [`types`] and [`codec`] are pure (validation, the exact bytes the kernel expects)
//! → [`JailOps`], the trait higher code is generic over → the FreeBSD implementation or
//! `hostsim::SimHost` for tests without root.
//!
//! # Testing your code without root
//! Write your orchestration against `&dyn JailOps` and hand it a `hostsim::SimHost` in tests.
//!
//! On FreeBSD, `JailHost` implements [`JailOps`] with the system calls and `JailCommandExt`
//! runs a command inside a jail.
//!
//! [`conf`] reads, resolves and prints jail.conf(5); [`exec`] runs programs on the host's
//! behalf with a clean environment, a time limit and bounded output ([`JailExec`]).
//!
//! # References
//! [jail(2)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=2),
//! [jail(8)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=8)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod codec;
pub mod conf;
mod error;
#[cfg(unix)]
pub mod exec;
#[cfg(target_os = "freebsd")]
mod native;
mod ops;
#[cfg(target_os = "freebsd")]
mod sys;
pub mod types;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
#[cfg(target_os = "freebsd")]
pub use native::{JailCommandExt, JailHost};
pub use ops::{JailExec, JailInfo, JailOps};
pub use sysabi::{Errno, ErrorKind};
pub use types::{
    learn_param_type, JailFlags, JailName, JailSpec, JailSys, Jid, ParamType, ParamValue,
    KNOWN_PARAMS,
};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
