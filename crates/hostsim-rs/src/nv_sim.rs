//! A fake NVIDIA driver, after the FreeBSD `nvidia_handle_ioctl` and RM's resource server.
//!
//! Rules modelled: device nodes exist only while `nvidia.ko` is loaded (`ENOENT`);
//! `CHECK_VERSION_STR` needs its exact 72-byte block (`EINVAL`), answers a query with the
//! driver's version and fails a strict check of another version with `EINVAL` (FreeBSD);
//! `CARD_INFO` needs room for all 32 entries (`EINVAL`, FreeBSD); RM calls report failures in the
//! status field: an unknown client (`NV_ERR_INVALID_CLIENT`), object
//! (`NV_ERR_INVALID_OBJECT_HANDLE`) or parent (`NV_ERR_INVALID_OBJECT_PARENT`), a duplicate
//! handle (`NV_ERR_INSERT_DUPLICATE_NAME`), a parameter block whose size is not the control's
//! (`NV_ERR_INVALID_PARAM_STRUCT`), an FB info list that is empty, too long or names an unknown
//! index (`NV_ERR_INVALID_ARGUMENT`, measured on 580.159.04). The FB list size follows the
//! driver's major version: 0x80 from 570 on (measured: 580), 0x39 from 535, 0x36 before (guess).
//! Freeing a client frees everything under it.

use crate::{Args, SimHost, State};
use nvgpu::codec::{self, bytes, class, ctrl, esc, CardInfo, NvStatus, PciInfo};
use nvgpu::{Error, NvDevice, NvTransport, Op, Result};
use sysabi::Errno;

/// A simulated GPU.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimGpu {
    /// Minor number (`/dev/nvidiaN`).
    pub minor: u32,
    /// RM gpu id.
    pub gpu_id: u32,
    /// PCI bus.
    pub bus: u8,
    /// PCI device id.
    pub device_id: u16,
    /// Name.
    pub name: String,
    /// UUID text.
    pub uuid: String,
    /// Total memory, KiB.
    pub total_kib: u32,
    /// Free memory, KiB.
    pub free_kib: u32,
}

pub(crate) fn seed(s: &mut State, n: u32, version: &str) {
    s.gpus = (0..n)
        .map(|i| SimGpu {
            minor: i,
            gpu_id: 0x100 * (i + 1),
            bus: 0x65 + i as u8,
            device_id: 0x2330,
            name: "NVIDIA H100 80GB HBM3".into(),
            uuid: format!("GPU-{:08x}-0000-4000-8000-{:012x}", 0x7180_742a + i, i),
            total_kib: 83_516_416,
            free_kib: 83_024_896,
        })
        .collect();
    s.nvidia_version = Some(version.to_string());
    s.devices.push(devfs::eval::Node::new("nvidiactl"));
    s.devices.push(devfs::eval::Node::new("nvidia-modeset"));
    for i in 0..n {
        s.devices
            .push(devfs::eval::Node::new(&format!("nvidia{i}")));
    }
}

fn fb_max(version: &str) -> usize {
    match version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0)
    {
        570.. => 0x80,
        535.. => 0x39,
        _ => 0x36,
    }
}

fn err(e: Errno, dev: NvDevice) -> Error {
    Error::from_errno(Op::Escape("ioctl"), e).subject(dev.path())
}

impl SimHost {
    /// Replaces the NVIDIA driver version (as after a driver upgrade).
    pub fn set_nvidia_version(&self, v: &str) {
        self.st().nvidia_version = Some(v.into());
    }

    fn node_exists(s: &State, dev: NvDevice) -> bool {
        let name = dev.path().trim_start_matches("/dev/").to_string();
        s.nvidia_version.is_some() && s.devices.iter().any(|d| d.name == name)
    }
}

impl NvTransport for SimHost {
    fn open(&self, dev: NvDevice) -> Result<()> {
        if let Some(e) = self.enter(Args::NvOpen { device: dev }) {
            return Err(Error::from_errno(Op::Open, e).subject(dev.path()));
        }
        if !SimHost::node_exists(&self.st(), dev) {
            self.failed(Errno::ENOENT);
            return Err(Error::from_errno(Op::Open, Errno::ENOENT).subject(dev.path()));
        }
        Ok(())
    }

    fn escape(&self, dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()> {
        if let Some(e) = self.enter(Args::NvEscape { device: dev, nr }) {
            return Err(err(e, dev));
        }
        let s = self.st();
        let Some(version) = s.nvidia_version.clone() else {
            return Err(err(Errno::ENXIO, dev));
        };
        let fail = |e| {
            self.failed(e);
            Err(err(e, dev))
        };
        match nr {
            esc::CHECK_VERSION_STR => {
                if buf.len() != codec::RM_API_VERSION_SIZE {
                    return fail(Errno::EINVAL);
                }
                match bytes::u32_at(buf, 0) {
                    Some(codec::RM_API_VERSION_CMD_QUERY) => {
                        bytes::put_u32(buf, 4, codec::RM_API_VERSION_REPLY_RECOGNIZED);
                        let v = codec::encode_version(0, &version);
                        buf[8..].copy_from_slice(&v[8..]);
                        Ok(())
                    }
                    _ if bytes::c_text(&buf[8..]) == version => Ok(()),
                    _ => fail(Errno::EINVAL),
                }
            }
            esc::CARD_INFO => {
                if buf.len() < codec::CARD_INFO_SIZE * codec::NV_MAX_DEVICES {
                    return fail(Errno::EINVAL);
                }
                let cards: Vec<CardInfo> = s
                    .gpus
                    .iter()
                    .map(|g| CardInfo {
                        valid: 1,
                        pci_info: PciInfo {
                            domain: 0,
                            bus: g.bus,
                            slot: 0,
                            function: 0,
                            _pad0: 0,
                            vendor_id: 0x10de,
                            device_id: g.device_id,
                        },
                        gpu_id: g.gpu_id,
                        minor_number: g.minor,
                        ..CardInfo::default()
                    })
                    .collect();
                buf.fill(0);
                codec::encode_card_info(&cards, buf);
                Ok(())
            }
            _ => fail(Errno::EINVAL),
        }
    }

    fn rm_alloc(
        &self,
        client: u32,
        parent: u32,
        new: u32,
        cls: u32,
        params: &mut [u8],
    ) -> Result<(u32, NvStatus)> {
        if let Some(e) = self.enter(Args::NvRmAlloc { class: cls }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let mut s = self.st();
        if matches!(cls, 0 | 1 | class::NV01_ROOT_CLIENT) {
            let h = 0xc1d0_0001 + s.rm_objects.keys().filter(|(c, h)| c == h).count() as u32;
            s.rm_objects.insert((h, h), (class::NV01_ROOT_CLIENT, 0));
            return Ok((h, NvStatus::OK));
        }
        if !s.rm_objects.contains_key(&(client, client)) {
            return Ok((0, NvStatus(0x23)));
        }
        let Some(&(pclass, pgpu)) = s.rm_objects.get(&(client, parent)) else {
            return Ok((0, NvStatus(0x36)));
        };
        if s.rm_objects.contains_key(&(client, new)) || new == 0 {
            return Ok((0, NvStatus(0x19)));
        }
        let gpu = match cls {
            class::NV01_DEVICE_0 => {
                if params.len() != std::mem::size_of::<codec::Nv0080Alloc>()
                    || pclass != class::NV01_ROOT_CLIENT
                {
                    return Ok((0, NvStatus::INVALID_PARAM_STRUCT));
                }
                let id = bytes::u32_at(params, 0).unwrap_or(u32::MAX);
                if id as usize >= s.gpus.len() {
                    return Ok((0, NvStatus(0x1F)));
                }
                id
            }
            class::NV20_SUBDEVICE_0 => {
                if params.len() != codec::SUBDEVICE_ALLOC_SIZE || pclass != class::NV01_DEVICE_0 {
                    return Ok((0, NvStatus::INVALID_PARAM_STRUCT));
                }
                pgpu
            }
            _ => return Ok((0, NvStatus(0x22))),
        };
        s.rm_objects.insert((client, new), (cls, gpu));
        Ok((new, NvStatus::OK))
    }

    fn rm_control(&self, client: u32, object: u32, cmd: u32, p: &mut [u8]) -> Result<NvStatus> {
        if let Some(e) = self.enter(Args::NvRmControl { cmd }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let s = self.st();
        if !s.rm_objects.contains_key(&(client, client)) {
            return Ok(NvStatus(0x23));
        }
        let Some(&(cls, gpu)) = s.rm_objects.get(&(client, object)) else {
            return Ok(NvStatus(0x33));
        };
        let need = |n: usize| p.len() == n;
        match cmd {
            ctrl::GPU_GET_ID_INFO_V2 => {
                if !need(codec::ID_INFO_V2_SIZE) {
                    return Ok(NvStatus::INVALID_PARAM_STRUCT);
                }
                let id = bytes::u32_at(p, 0).unwrap_or(0);
                let Some(i) = s.gpus.iter().position(|g| g.gpu_id == id) else {
                    return Ok(NvStatus(0x1F));
                };
                bytes::put_u32(p, 8, i as u32);
                Ok(NvStatus::OK)
            }
            ctrl::GPU_GET_NAME_STRING | ctrl::GPU_GET_GID_INFO | ctrl::FB_GET_INFO_V2
                if cls != class::NV20_SUBDEVICE_0 =>
            {
                Ok(NvStatus(0x24))
            }
            ctrl::GPU_GET_NAME_STRING => {
                if !need(codec::NAME_STRING_SIZE) {
                    return Ok(NvStatus::INVALID_PARAM_STRUCT);
                }
                let n = s.gpus[gpu as usize].name.as_bytes();
                p[4..4 + n.len().min(63)].copy_from_slice(&n[..n.len().min(63)]);
                Ok(NvStatus::OK)
            }
            ctrl::GPU_GET_GID_INFO => {
                if !need(codec::GID_INFO_SIZE) {
                    return Ok(NvStatus::INVALID_PARAM_STRUCT);
                }
                let u = s.gpus[gpu as usize].uuid.as_bytes();
                bytes::put_u32(p, 8, u.len() as u32);
                p[12..12 + u.len()].copy_from_slice(u);
                Ok(NvStatus::OK)
            }
            ctrl::FB_GET_INFO_V2 => {
                let max = fb_max(s.nvidia_version.as_deref().unwrap_or(""));
                if !need(4 + 8 * max) {
                    return Ok(NvStatus::INVALID_PARAM_STRUCT);
                }
                let n = bytes::u32_at(p, 0).unwrap_or(0) as usize;
                if n == 0 || n > max {
                    return Ok(NvStatus(0x1F));
                }
                let g = &s.gpus[gpu as usize];
                for i in 0..n {
                    let v = match bytes::u32_at(p, 4 + 8 * i).unwrap_or(u32::MAX) {
                        0x7 | 0x8 => g.total_kib,
                        0x9 | 0x16 => g.free_kib,
                        0x20 => g.total_kib - 256 * 1024,
                        idx if idx < max as u32 => 0,
                        _ => return Ok(NvStatus(0x1F)),
                    };
                    bytes::put_u32(p, 8 + 8 * i, v);
                }
                Ok(NvStatus::OK)
            }
            _ => Ok(NvStatus(0x24)),
        }
    }

    fn rm_free(&self, client: u32, _parent: u32, object: u32) -> Result<NvStatus> {
        if let Some(e) = self.enter(Args::NvRmFree { object }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let mut s = self.st();
        if !s.rm_objects.contains_key(&(client, object)) {
            return Ok(NvStatus(0x33));
        }
        if client == object {
            s.rm_objects.retain(|(c, _), _| *c != client);
        } else {
            s.rm_objects.remove(&(client, object));
        }
        Ok(NvStatus::OK)
    }
}

#[cfg(test)]
mod tests {
    use crate::{SimHost, Verb};
    use nvgpu::codec::{self, NvStatus};
    use nvgpu::{Driver, ErrorKind, NvDevice, NvTransport};

    #[test]
    fn the_driver_api_reads_the_simulated_gpus() {
        let h = SimHost::freebsd14_with_gpus(2);
        {
            let d = Driver::open(&h).unwrap();
            assert_eq!(d.version(), "580.95.05");
            let g = d.gpus().unwrap();
            assert_eq!(g.len(), 2);
            assert_eq!(g[1].name, "NVIDIA H100 80GB HBM3");
            assert_eq!(g[1].memory_total_mib, 81559);
            assert_eq!(g[1].pci_bus_id, "00000000:66:00.0");
            assert!(g[0].uuid.starts_with("GPU-") && g[0].uuid != g[1].uuid);
            assert!(!h.snapshot().rm_objects.is_empty());
        }
        assert!(
            h.snapshot().rm_objects.is_empty(),
            "dropping the driver freed the client"
        );
    }

    #[test]
    fn older_driver_layouts_are_probed() {
        for v in ["535.104.05", "525.60.11", "580.95.05"] {
            let h = SimHost::freebsd14_with_gpus(1);
            h.set_nvidia_version(v);
            let d = Driver::open(&h).unwrap();
            assert_eq!(d.gpus().unwrap()[0].memory_free_mib, 81079, "{v}");
        }
    }

    #[test]
    fn wrong_sizes_and_bad_handles_are_rejected_like_the_driver() {
        let h = SimHost::freebsd14_with_gpus(1);
        let mut small = vec![0u8; 72];
        assert_eq!(
            h.escape(NvDevice::Ctl, codec::esc::CARD_INFO, &mut small)
                .unwrap_err()
                .errno(),
            Some(sysabi::Errno::EINVAL)
        );
        let mut v = vec![0u8; 71];
        assert!(h
            .escape(NvDevice::Ctl, codec::esc::CHECK_VERSION_STR, &mut v)
            .is_err());
        let mut strict = codec::encode_version(codec::RM_API_VERSION_CMD_STRICT, "1.0");
        assert!(h
            .escape(NvDevice::Ctl, codec::esc::CHECK_VERSION_STR, &mut strict)
            .is_err());
        let (c, st) = h
            .rm_alloc(0, 0, 0, codec::class::NV01_ROOT_CLIENT, &mut [])
            .unwrap();
        assert_eq!(st, NvStatus::OK);
        let mut short = [0u8; 8];
        assert_eq!(
            h.rm_alloc(c, c, 5, codec::class::NV01_DEVICE_0, &mut short)
                .unwrap()
                .1,
            NvStatus::INVALID_PARAM_STRUCT
        );
        assert_eq!(
            h.rm_control(c, 99, codec::ctrl::GPU_GET_NAME_STRING, &mut [0; 132])
                .unwrap(),
            NvStatus(0x33)
        );
        assert_eq!(
            h.rm_control(77, 77, codec::ctrl::GPU_GET_NAME_STRING, &mut [0; 132])
                .unwrap(),
            NvStatus(0x23)
        );
        assert_eq!(h.rm_free(c, c, c).unwrap(), NvStatus::OK);
    }

    #[test]
    fn driver_errors_surface_with_names() {
        let h = SimHost::freebsd14_with_gpus(1);
        h.fail_at(Verb::NvRmControl, 2, sysabi::Errno::EIO);
        let d = Driver::open(&h).unwrap();
        assert!(d.gpus().is_err());
        let h2 = SimHost::freebsd14_with_gpus(0);
        h2.with_state(|s| s.nvidia_version = None);
        assert_eq!(Driver::open(&h2).err().unwrap().kind(), ErrorKind::NotFound);
    }
}
