//! The seam between the RM client logic and the device files.

use crate::error::Result;

/// Which device file a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NvDevice {
    /// `/dev/nvidiactl`: RM alloc/free/control, version, card info.
    Ctl,
    /// `/dev/nvidiaN`.
    Gpu(u32),
}

/// Opening NVIDIA device files and sending them `_IOWR` requests. The real implementation wraps
/// `open(2)`/`ioctl(2)`; hostsim answers like a driver of a chosen version.
pub trait NvTransport {
    /// Opens (or reuses) the device file. `NotFound` when it does not exist.
    fn open(&self, dev: NvDevice) -> Result<()>;
    /// `ioctl(fd, request, buf)`: the driver reads and writes `buf` in place.
    ///
    /// # Errors
    /// The errno of `ioctl(2)`, in FreeBSD numbering. RM failures usually come back as success
    /// with a non-zero status field inside `buf`.
    fn ioctl(&self, dev: NvDevice, request: u32, buf: &mut [u8]) -> Result<()>;
}
