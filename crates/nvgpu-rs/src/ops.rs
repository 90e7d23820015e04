//! The seam between the RM client logic and the device files.

use crate::codec::NvStatus;
use crate::error::Result;

/// Which device file a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NvDevice {
    /// `/dev/nvidiactl`: RM alloc/free/control, version, card info.
    Ctl,
    /// `/dev/nvidiaN`.
    Gpu(u32),
}

impl NvDevice {
    /// The device node path.
    pub fn path(self) -> String {
        match self {
            NvDevice::Ctl => "/dev/nvidiactl".into(),
            NvDevice::Gpu(n) => format!("/dev/nvidia{n}"),
        }
    }
}

/// The NVIDIA driver's verbs: escapes on a device file, and the three RM calls on
/// `/dev/nvidiactl`. The real implementation wraps `open(2)`/`ioctl(2)` (the RM calls build the
/// `NVOS*` blocks that point at `params`); `hostsim` answers like a driver of a chosen version.
///
/// RM failures are reported as `Ok(status)` with a non-`NV_OK` status, as the driver does;
/// `Err` is for `ioctl(2)` itself failing (errno).
///
/// ```
/// // hostsim: a simulated NVIDIA driver with two GPUs (the real transport is
/// // `nvgpu::NativeTransport`, over /dev/nvidiactl).
/// let h = hostsim::SimHost::freebsd14_with_gpus(2);
/// let d = nvgpu::Driver::open(&h).unwrap();
/// let gpus = d.gpus().unwrap();
/// assert_eq!(gpus.len(), 2);
/// assert_eq!(gpus[1].minor, 1);
/// assert!(!d.version().is_empty());
/// ```
pub trait NvTransport {
    /// Opens the device file (idempotent). `NotFound` when it does not exist.
    fn open(&self, dev: NvDevice) -> Result<()>;
    /// `ioctl(fd, _IOWR('F', nr, buf.len()), buf)`: the driver reads and writes `buf` in place.
    /// Only for the escapes in [`crate::codec::esc::POINTER_FREE`]; the real transport refuses
    /// any other number (its block could hold an address the driver writes through).
    fn escape(&self, dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()>;
    /// `NV_ESC_RM_ALLOC`: allocates `class` under `parent` as handle `new` (0 for a new client,
    /// whose handle is returned). Returns the handle and the RM status.
    fn rm_alloc(
        &self,
        client: u32,
        parent: u32,
        new: u32,
        class: u32,
        params: &mut [u8],
    ) -> Result<(u32, NvStatus)>;
    /// `NV_ESC_RM_CONTROL`: runs control `cmd` on `object`; `params` must have the command's
    /// exact size.
    fn rm_control(&self, client: u32, object: u32, cmd: u32, params: &mut [u8])
        -> Result<NvStatus>;
    /// `NV_ESC_RM_FREE`: frees `object` (the client itself frees everything under it).
    fn rm_free(&self, client: u32, parent: u32, object: u32) -> Result<NvStatus>;
}

impl<T: NvTransport + ?Sized> NvTransport for &T {
    fn open(&self, dev: NvDevice) -> Result<()> {
        (**self).open(dev)
    }
    fn escape(&self, dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()> {
        (**self).escape(dev, nr, buf)
    }
    fn rm_alloc(
        &self,
        client: u32,
        parent: u32,
        new: u32,
        class: u32,
        params: &mut [u8],
    ) -> Result<(u32, NvStatus)> {
        (**self).rm_alloc(client, parent, new, class, params)
    }
    fn rm_control(
        &self,
        client: u32,
        object: u32,
        cmd: u32,
        params: &mut [u8],
    ) -> Result<NvStatus> {
        (**self).rm_control(client, object, cmd, params)
    }
    fn rm_free(&self, client: u32, parent: u32, object: u32) -> Result<NvStatus> {
        (**self).rm_free(client, parent, object)
    }
}
