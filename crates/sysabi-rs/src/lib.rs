//! Shared, pure ABI building blocks for the cudajail crates.
//!
//! Every crate in this workspace talks to a FreeBSD kernel interface, and several of them need
//! the same small pieces. They live here once, so that nothing is written twice:
//!
//! | piece | C origin | Rust |
//! |---|---|---|
//! | ioctl request numbers | `<sys/ioccom.h>` (FreeBSD), `<asm-generic/ioctl.h>` (Linux) | [`ioc`] |
//! | error numbers as FreeBSD numbers them | `<sys/errno.h>` | [`Errno`] |
//! | the error shape every crate returns | — | [`Error`], [`ErrorKind`] |
//! | ABI facts checked against C headers | — | [`abi`] |
//!
//! Everything here is pure: no `libc`, no unchecked code, no `cfg(target_os)`. It is unit-tested on any
//! OS. FreeBSD numbers its errors differently from Linux (`EAGAIN` is 35, `ENAMETOOLONG` 63), so
//! the pure layers of the other crates use [`Errno`] constants rather than `libc`'s.
//!
//! # What this crate deliberately does not do
//! It makes no system calls. Each subsystem crate's `sys` module does that.
//!
//! # References
//! - [ioctl(2)](https://man.freebsd.org/cgi/man.cgi?query=ioctl&sektion=2)
//! - [errno(2)](https://man.freebsd.org/cgi/man.cgi?query=errno&sektion=2)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;
mod errno;
mod error;
pub mod fnmatch;
pub mod ioc;
pub mod iov;
#[cfg(feature = "testing")]
pub mod testing;

pub use errno::Errno;
pub use error::{Error, ErrorKind, OpName};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
