//! A Nomad device plugin for NVIDIA GPUs without NVML, speaking Nomad's real plugin protocol.
//!
//! - [`handshake`]: what go-plugin and Nomad check when they launch a plugin (the magic cookie,
//!   the protocol versions, the protocol line on stdout, the message for a wrong cookie).
//! - [`server`]: go-plugin's side of the launch: a gRPC server on a private unix socket with
//!   the health service (`plugin` SERVING) and `plugin.GRPCController/Shutdown`.
//! - [`device`]: the device groups of Nomad's `Fingerprint` stream, read from the driver with
//!   [`nvgpu::Driver`]; health across fingerprints; what `Reserve` returns; memory statistics.
//! - [`service`]: Nomad's `BasePlugin` and `DevicePlugin` gRPC services over a [`service::GpuSource`].
//! - [`config`], [`msgpack`]: the plugin's configuration schema and its go-cty msgpack encoding.
//! - [`proto`]: the generated messages, servers and clients.
//! - [`loader`]: Nomad's side of a launch (start a plugin, read its line, connect), for tests.
//!
//! The `nomad-device-nvgpu` binary (tools/nomad-device-nvgpu) is `server::serve` with
//! `service::device_routes` over the host's driver.
//!
//! # References
//! hashicorp/nomad `plugins/base/plugin.go` (handshake config), `plugins/base/proto/base.proto`,
//! `plugins/device/proto/device.proto`, `plugins/device/device.go` (`DeviceGroup`,
//! `ContainerReservation`), `plugins/device/cmd/nvidia` (NVIDIA's plugin: attribute and config
//! names); hashicorp/go-plugin `server.go` (the protocol line), `grpc_controller.go`.

pub mod config;
pub mod device;
pub mod handshake;
pub mod loader;
pub mod msgpack;
pub mod proto;
pub mod server;
pub mod service;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
