//! `cudajail`: Linux CUDA programs on FreeBSD, in a Linux jail on ZFS or under the Linuxulator.
//!
//! This is the library behind the `cudajail` command, for integrators (jail managers, node
//! agents) who embed the flow. [`run`] takes parsed arguments and returns what to print.
//!
//! Exit codes of the command: 0 success, 1 the operation failed, 2 usage or spec error.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod cli;
mod commands;
pub mod doctor;
pub mod engine;
pub mod export;
#[cfg(target_os = "freebsd")]
pub mod native;
pub mod plan;
pub mod recipe;
pub mod recording;
#[cfg(unix)]
pub mod rootfs;
pub mod shim;
pub mod spec;

pub use cli::{Cli, Command, ConfCmd, TemplateCmd};
pub use commands::completions::CompletionShell;
pub use commands::{load_spec, run, Failure};
