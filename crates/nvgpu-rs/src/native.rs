//! [`NvTransport`] over the real device files (Linux and FreeBSD).

use crate::codec::{self, bytes, NvStatus};
use crate::error::{Error, Op, Result};
use crate::ops::{NvDevice, NvTransport};
use crate::sys;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use sysabi::{Errno, ErrorKind};

/// The host's NVIDIA driver, through `/dev/nvidiactl` and `/dev/nvidiaN`. Device files are
/// opened on demand and closed on drop.
#[derive(Default)]
pub struct NativeTransport {
    fds: Mutex<HashMap<NvDevice, OwnedFd>>,
}

impl NativeTransport {
    /// A transport with nothing opened yet.
    pub fn new() -> NativeTransport {
        NativeTransport::default()
    }
}

fn errno_of(e: &std::io::Error) -> Errno {
    let raw = e.raw_os_error().unwrap_or(0);
    if cfg!(target_os = "linux") {
        Errno::from_linux(raw)
    } else {
        Errno(raw)
    }
}

impl NativeTransport {
    fn call(
        &self,
        dev: NvDevice,
        op: Op,
        nr: u8,
        block: &mut [u8],
        pointee: &mut [u8],
    ) -> Result<()> {
        let request = codec::ioctl_nr(nr, block.len()).ok_or_else(|| {
            Error::new(
                op,
                ErrorKind::InvalidInput,
                format!("{}-byte block too large for an ioctl", block.len()),
            )
        })?;
        let fds = self
            .fds
            .lock()
            .map_err(|_| Error::new(op, ErrorKind::Other, "transport lock poisoned"))?;
        let fd = fds.get(&dev).ok_or_else(|| {
            Error::new(op, ErrorKind::InvalidInput, "device not opened").subject(dev.path())
        })?;
        sys::ioctl(fd.as_fd(), request, block, pointee).map_err(|e| {
            Error::from_errno(op, errno_of(&e))
                .subject(dev.path())
                .source_err(e)
        })
    }
}

/// The 32-byte `NVOS21`/`NVOS54` block both RM alloc and control use: four u32 words, the
/// parameters' address at 16 (0 when there are none), their size at 24, the status at 28.
fn pointer_block(words: [u32; 4], params: &mut [u8]) -> [u8; 32] {
    const _: () = assert!(
        std::mem::size_of::<codec::Nvos21>() == 32 && std::mem::size_of::<codec::Nvos54>() == 32
    );
    let mut b = [0u8; 32];
    for (i, w) in words.iter().enumerate() {
        bytes::put_u32(&mut b, 4 * i, *w);
    }
    let ptr = if params.is_empty() {
        0
    } else {
        params.as_mut_ptr() as u64
    };
    b[16..24].copy_from_slice(&ptr.to_ne_bytes());
    bytes::put_u32(&mut b, 24, params.len() as u32);
    b
}

impl NvTransport for NativeTransport {
    fn open(&self, dev: NvDevice) -> Result<()> {
        let mut fds = self
            .fds
            .lock()
            .map_err(|_| Error::new(Op::Open, ErrorKind::Other, "transport lock poisoned"))?;
        if fds.contains_key(&dev) {
            return Ok(());
        }
        let path = dev.path();
        let c = CString::new(path.clone())
            .map_err(|_| Error::new(Op::Open, ErrorKind::InvalidInput, "NUL in path"))?;
        let fd = sys::open_rdwr(&c).map_err(|e| {
            Error::from_errno(Op::Open, errno_of(&e))
                .subject(&path)
                .source_err(e)
        })?;
        fds.insert(dev, fd);
        Ok(())
    }

    /// Only the escapes in [`codec::esc::POINTER_FREE`]: any other number could make the driver
    /// read or write memory through an address in `buf`, which safe code must not allow.
    fn escape(&self, dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()> {
        if !codec::esc::POINTER_FREE.contains(&nr) {
            return Err(Error::new(
                Op::Escape("ioctl"),
                ErrorKind::InvalidInput,
                format!("escape {nr} may carry addresses the driver writes through; only the pointer-free escapes {:?} are sent raw (RM calls go through rm_alloc/rm_control/rm_free)", codec::esc::POINTER_FREE),
            )
            .subject(dev.path()));
        }
        self.call(dev, Op::Escape("ioctl"), nr, buf, &mut [])
    }

    fn rm_alloc(
        &self,
        client: u32,
        parent: u32,
        new: u32,
        class: u32,
        params: &mut [u8],
    ) -> Result<(u32, NvStatus)> {
        let mut b = pointer_block([client, parent, new, class], params);
        self.call(
            NvDevice::Ctl,
            Op::Escape("NV_ESC_RM_ALLOC"),
            codec::esc::RM_ALLOC,
            &mut b,
            params,
        )?;
        Ok((
            bytes::u32_at(&b, 8).unwrap_or(0),
            NvStatus(bytes::u32_at(&b, 28).unwrap_or(u32::MAX)),
        ))
    }

    fn rm_control(
        &self,
        client: u32,
        object: u32,
        cmd: u32,
        params: &mut [u8],
    ) -> Result<NvStatus> {
        // NVOS54 puts `flags` where NVOS21 has `hClass`: 0 here.
        let mut b = pointer_block([client, object, cmd, 0], params);
        self.call(
            NvDevice::Ctl,
            Op::Escape("NV_ESC_RM_CONTROL"),
            codec::esc::RM_CONTROL,
            &mut b,
            params,
        )?;
        Ok(NvStatus(bytes::u32_at(&b, 28).unwrap_or(u32::MAX)))
    }

    fn rm_free(&self, client: u32, parent: u32, object: u32) -> Result<NvStatus> {
        let mut b = [0u8; std::mem::size_of::<codec::Nvos00>()];
        bytes::put_u32(&mut b, 0, client);
        bytes::put_u32(&mut b, 4, parent);
        bytes::put_u32(&mut b, 8, object);
        self.call(
            NvDevice::Ctl,
            Op::Escape("NV_ESC_RM_FREE"),
            codec::esc::RM_FREE,
            &mut b,
            &mut [],
        )?;
        Ok(NvStatus(bytes::u32_at(&b, 12).unwrap_or(u32::MAX)))
    }
}

/// The driver version from FreeBSD's `hw.nvidia.version` sysctl, without opening any device.
///
/// # Errors
/// `NotFound` when `nvidia.ko` is not loaded (no such sysctl); `VersionMismatch` when the text
/// holds no version.
#[cfg(target_os = "freebsd")]
pub fn sysctl_version() -> Result<String> {
    let op = Op::Escape("sysctl hw.nvidia.version");
    let text = sys::sysctl_string(c"hw.nvidia.version").map_err(|e| {
        Error::from_errno(op, errno_of(&e))
            .subject("hw.nvidia.version")
            .detail("is nvidia.ko loaded?")
    })?;
    codec::parse_sysctl_version(&text).ok_or_else(|| {
        Error::new(
            op,
            ErrorKind::VersionMismatch,
            format!("no version in {text:?}"),
        )
        .subject("hw.nvidia.version")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_escapes_with_pointers_are_refused_before_any_call() {
        let t = NativeTransport::new();
        for nr in [
            codec::esc::RM_ALLOC,
            codec::esc::RM_CONTROL,
            codec::esc::RM_FREE,
            codec::esc::IOCTL_XFER_CMD,
            0x4e,
            0,
        ] {
            // A block whose "address" field points at nothing valid: never sent.
            let mut b = [0xffu8; 32];
            let e = t.escape(NvDevice::Ctl, nr, &mut b).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{nr}");
            assert!(e.to_string().contains("pointer-free"), "{e}");
        }
        // A pointer-free one gets as far as the (unopened) device.
        let e = t
            .escape(NvDevice::Ctl, codec::esc::CARD_INFO, &mut [0u8; 8])
            .unwrap_err();
        assert!(e.to_string().contains("not opened"), "{e}");
    }
}
