//! The protocol-independent core of a Nomad device plugin for NVIDIA GPUs without NVML.
//!
//! - [`handshake`]: what go-plugin and Nomad check when they launch a plugin (the magic cookie,
//!   the protocol line on stdout, the message for a wrong cookie).
//! - [`device`]: the device groups of Nomad's `Fingerprint` stream, read from the driver with
//!   [`nvgpu::Driver`]; what `Reserve` returns; per-GPU memory statistics for `Stats`.
//!
//! The gRPC services that carry these (Nomad's `hashicorp.nomad.plugins.base.BasePlugin` and
//! `hashicorp.nomad.plugins.device.DevicePlugin`, go-plugin's `plugin.GRPCController`, the
//! health service) are not implemented yet.
//!
//! # References
//! hashicorp/nomad `plugins/base/plugin.go` (handshake config), `plugins/device/device.go`
//! (`DeviceGroup`, `ContainerReservation`), `plugins/device/cmd/nvidia` (NVIDIA's plugin:
//! what the attributes are called); hashicorp/go-plugin `server.go` (the protocol line).

pub mod device;
pub mod handshake;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
