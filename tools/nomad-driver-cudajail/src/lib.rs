//! A Nomad task driver that runs each task in a cudajail CUDA jail of its own on FreeBSD: the
//! GPUs the device plugin (`nomad-device-nvgpu`) reserved for it and no other, the Linux
//! userspace of a suite or a recipe's template, the task's command started with jexec(8) as
//! the task's user, its output to Nomad's log paths; stop, signal, exec, recover after a
//! restart, and destroy with nothing left behind (cudajail's `destroy`).
//!
//! - [`service`]: Nomad's `Driver` and `BasePlugin` gRPC services.
//! - [`config`]: the driver's and the task's configuration blocks.
//! - [`supervise`]: the per-task supervisor process that outlives the driver.
//! - [`backend`]: the FreeBSD host, or a simulated one (tests).
//!
//! # References
//! hashicorp/nomad `plugins/drivers/proto/driver.proto`, `plugins/drivers/driver.go`,
//! `plugins/drivers/client.go` (what the client requires of each reply); jexec(8), jail(8).

pub mod backend;
pub mod config;
pub mod service;
pub mod supervise;
mod sys;
