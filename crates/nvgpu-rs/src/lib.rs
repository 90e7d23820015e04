//! Ask the NVIDIA kernel driver what it has, without NVML: the same RM ioctls on
//! `/dev/nvidiactl` and `/dev/nvidiaN` work on FreeBSD (`nvidia.ko`) and Linux.
//!
//! | driver interface | Rust |
//! |---|---|
//! | `NV_ESC_*` escapes, `_IOWR('F', nr, size)` | [`codec::esc`], [`codec::ioctl_nr`] |
//! | `nv_ioctl_card_info_t`, `nv_ioctl_rm_api_version_t`, `nv_ioctl_xfer_t` | [`codec::CardInfo`], [`codec::RmApiVersion`], [`codec::Xfer`] |
//! | `NVOS00/21/54/64_PARAMETERS` | [`codec::Nvos00`], [`codec::Nvos21`], [`codec::Nvos54`], [`codec::Nvos64`] |
//! | RM status codes | [`codec::NvStatus`] |
//! | the device file seam | [`NvTransport`] |
//! | `/proc/driver/nvidia`, `hw.nvidia.gpus.*` (no device opened) | [`fast`] |
//!
//! NVIDIA only uses `_IOWR`, which FreeBSD and Linux encode identically below 8192 bytes, so
//! one request number serves both systems.
//!
//! # Example
//! ```no_run
//! # #[cfg(any(target_os = "linux", target_os = "freebsd"))] {
//! let d = nvgpu::Driver::open(nvgpu::NativeTransport::new())?;
//! println!("driver {}", d.version());
//! for g in d.gpus()? {
//!     println!("{} {} {} MiB", g.pci_bus_id, g.name, g.memory_total_mib);
//! }
//! # }
//! # Ok::<(), nvgpu::Error>(())
//! ```
//!
//! # References
//! NVIDIA open-gpu-kernel-modules (`nv-ioctl.h`, `nv-ioctl-numbers.h`, `nvos.h`, the `ctrl*`
//! headers), read for facts; [nvidia(4) on FreeBSD](https://man.freebsd.org/cgi/man.cgi?query=nvidia&sektion=4)

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod abi;
pub mod codec;
mod driver;
mod error;
pub mod fast;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod native;
mod ops;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod sys;
mod timed;

pub use abi::abi_facts;
pub use driver::{Driver, GpuInfo};
pub use error::{Error, Op, Result};
#[cfg(target_os = "freebsd")]
pub use native::sysctl_version;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub use native::NativeTransport;
pub use ops::{NvDevice, NvTransport};
pub use sysabi::{Errno, ErrorKind};
pub use timed::{list_breakdown, summarize, Phase, Timed};
