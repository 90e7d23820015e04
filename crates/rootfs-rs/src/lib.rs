//! Files below an untrusted root, acted on by a trusted host: the layer between a tool running
//! as host root and a jail whose root user may be an attacker.
//!
//! A jail's root user can plant symlinks, swap a directory for a symlink while the host writes,
//! and pre-create files. [`Beneath`] never resolves a path the jail can change by name: it opens
//! the root once, walks each component with `openat(O_DIRECTORY|O_NOFOLLOW)`
//! ([openat(2)](https://man.freebsd.org/cgi/man.cgi?query=openat&sektion=2)), and acts on the
//! directory descriptor it holds with
//! [mkdirat(2)](https://man.freebsd.org/cgi/man.cgi?query=mkdirat&sektion=2),
//! [renameat(2)](https://man.freebsd.org/cgi/man.cgi?query=renameat&sektion=2) and
//! [unlinkat(2)](https://man.freebsd.org/cgi/man.cgi?query=unlinkat&sektion=2). Reads refuse
//! symlinks as writes do, and are bounded. Everything created gets an explicit [`Perm`]
//! ([fchown(2)](https://man.freebsd.org/cgi/man.cgi?query=fchown&sektion=2),
//! [fchmod(2)](https://man.freebsd.org/cgi/man.cgi?query=fchmod&sektion=2) on the new
//! descriptor), never the umask's or a planted file's.
//!
//! | operation | calls |
//! |---|---|
//! | [`RootFs::mkdir_beneath`] | `openat(O_DIRECTORY\|O_NOFOLLOW)` per component, `mkdirat`, `fchown`, `fchmod` |
//! | [`RootFs::write_beneath`], [`RootFs::copy_in`] | walk, `openat(O_CREAT\|O_EXCL\|O_NOFOLLOW)` of a temporary name, write, `fchown`, `fchmod`, `fsync`, `renameat`, `fsync` of the directory |
//! | [`RootFs::read_beneath`] | walk, `openat(O_NOFOLLOW\|O_NONBLOCK)`, `fstat` (regular file, size limit), `read` |
//! | [`RootFs::remove_beneath`], [`RootFs::remove_dir_beneath`] | walk, `unlinkat` |
//!
//! Linux's `openat2(RESOLVE_BENEATH)` and FreeBSD's `O_RESOLVE_BENEATH` are not needed: no
//! call here resolves more than one component, and `..` is refused before any call.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod error;
#[cfg(unix)]
mod native;
mod ops;
#[cfg(unix)]
mod sys;
mod types;

pub use error::{Error, Op, Result};
#[cfg(unix)]
pub use native::{current_owner, Beneath};
pub use ops::{Bootstrap, RootFs, READ_LIMIT};
pub use sysabi::{Errno, ErrorKind};
pub use types::{Entry, EntryKind, Perm, Rel, MAX_DEPTH, MAX_NAME_LEN, MAX_REL_LEN};
