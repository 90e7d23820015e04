//! FreeBSD kernel linker files and modules: `kldload(2)`, `kldunload(2)`, `kldstat(2)`,
//! `kldfind(2)`, `modfind(2)`, `modstat(2)`.
//!
//! | C API | Rust |
//! |---|---|
//! | `struct kld_file_stat` (v2, 2080 bytes) | [`codec::KldFileStat`] |
//! | `struct module_stat` (v3, 1048 bytes) | [`codec::ModuleStat`] |
//! | `kldload`/`kldunloadf`/`kldfind`/`kldstat`/`modfind`/`modstat` | [`KldOps`] |
//!
//! File names and module names differ: the file `linux64.ko` provides the modules
//! `linuxelf64`, `linux64elf`…; `kldfind` takes a file name, `modfind` a module name.
//! [`ensure_loaded`] loads only what is missing and reports what it did, for rollback.
//!
//! # References
//! [kldload(2)](https://man.freebsd.org/cgi/man.cgi?query=kldload&sektion=2),
//! [kldstat(2)](https://man.freebsd.org/cgi/man.cgi?query=kldstat&sektion=2),
//! [modstat(2)](https://man.freebsd.org/cgi/man.cgi?query=modstat&sektion=2)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod codec;
mod error;
#[cfg(target_os = "freebsd")]
mod native;
mod ops;
#[cfg(target_os = "freebsd")]
mod sys;

pub use abi::abi_facts;
pub use error::{from_errno, Error, Op, Result};
#[cfg(target_os = "freebsd")]
pub use native::KldHost;
pub use ops::{ensure_loaded, module_name, KldFile, KldFileId, KldOps, Loaded};
pub use sysabi::{Errno, ErrorKind};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
