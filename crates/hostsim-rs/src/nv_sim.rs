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
//! Freeing a client frees everything under it; a GPU control sent to an object that is not a
//! subdevice is `NV_ERR_INVALID_COMMAND`.
//!
//! Every number and block layout the decisions use is the simulation's own reading of NVIDIA's
//! headers ([`crate::nv_abi`]), not nvgpu-rs's codec: the driver API under test is only the
//! caller here.

use crate::nv_abi as abi;
use crate::{Args, SimHost, State};
use nvgpu::codec::NvStatus;
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
            abi::esc::CHECK_VERSION_STR => {
                let l = abi::rm_api_version();
                if buf.len() != l.size {
                    return fail(Errno::EINVAL);
                }
                let text = l.off("versionString");
                if abi::get_u32(buf, l.off("cmd")) == abi::VERSION_CMD_QUERY {
                    abi::put_u32(buf, l.off("reply"), abi::VERSION_REPLY_RECOGNIZED);
                    abi::put_c_str(&mut buf[text..], version.as_bytes());
                    Ok(())
                } else if abi::c_str(&buf[text..]) == version.as_bytes() {
                    Ok(())
                } else {
                    fail(Errno::EINVAL)
                }
            }
            abi::esc::CARD_INFO => {
                let l = abi::card_info();
                if buf.len() < l.size * abi::MAX_DEVICES {
                    return fail(Errno::EINVAL);
                }
                buf.fill(0);
                let (pci, p) = (l.off("pci_info"), abi::pci_info());
                for (g, out) in s.gpus.iter().zip(buf.chunks_exact_mut(l.size)) {
                    out[l.off("valid")] = 1;
                    out[pci + p.off("bus")] = g.bus;
                    abi::put_u16(out, pci + p.off("vendor_id"), abi::PCI_VENDOR_NVIDIA);
                    abi::put_u16(out, pci + p.off("device_id"), g.device_id);
                    abi::put_u32(out, l.off("gpu_id"), g.gpu_id);
                    abi::put_u32(out, l.off("minor_number"), g.minor);
                }
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
        use abi::{class, status};
        if let Some(e) = self.enter(Args::NvRmAlloc { class: cls }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let mut s = self.st();
        if matches!(cls, class::ROOT | class::ROOT_NON_PRIV | class::ROOT_CLIENT) {
            let h = 0xc1d0_0001 + s.rm_objects.keys().filter(|(c, h)| c == h).count() as u32;
            s.rm_objects.insert((h, h), (class::ROOT_CLIENT, 0));
            return Ok((h, NvStatus(status::OK)));
        }
        if !s.rm_objects.contains_key(&(client, client)) {
            return Ok((0, NvStatus(status::INVALID_CLIENT)));
        }
        let Some(&(pclass, pgpu)) = s.rm_objects.get(&(client, parent)) else {
            return Ok((0, NvStatus(status::INVALID_OBJECT_PARENT)));
        };
        if s.rm_objects.contains_key(&(client, new)) || new == 0 {
            return Ok((0, NvStatus(status::INSERT_DUPLICATE_NAME)));
        }
        let gpu = match cls {
            class::DEVICE_0 => {
                let l = abi::nv0080_alloc();
                if params.len() != l.size || pclass != class::ROOT_CLIENT {
                    return Ok((0, NvStatus(status::INVALID_PARAM_STRUCT)));
                }
                let id = abi::get_u32(params, l.off("deviceId"));
                if id as usize >= s.gpus.len() {
                    return Ok((0, NvStatus(status::INVALID_ARGUMENT)));
                }
                id
            }
            class::SUBDEVICE_0 => {
                if params.len() != abi::nv2080_alloc().size || pclass != class::DEVICE_0 {
                    return Ok((0, NvStatus(status::INVALID_PARAM_STRUCT)));
                }
                pgpu
            }
            _ => return Ok((0, NvStatus(status::INVALID_CLASS))),
        };
        s.rm_objects.insert((client, new), (cls, gpu));
        Ok((new, NvStatus(status::OK)))
    }

    fn rm_control(&self, client: u32, object: u32, cmd: u32, p: &mut [u8]) -> Result<NvStatus> {
        use abi::{class, ctrl, fb_index, status};
        if let Some(e) = self.enter(Args::NvRmControl { cmd }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let s = self.st();
        if !s.rm_objects.contains_key(&(client, client)) {
            return Ok(NvStatus(status::INVALID_CLIENT));
        }
        let Some(&(cls, gpu)) = s.rm_objects.get(&(client, object)) else {
            return Ok(NvStatus(status::INVALID_OBJECT_HANDLE));
        };
        let bad_struct = Ok(NvStatus(status::INVALID_PARAM_STRUCT));
        match cmd {
            ctrl::GPU_GET_ID_INFO_V2 => {
                let l = abi::id_info_v2();
                if p.len() != l.size {
                    return bad_struct;
                }
                let id = abi::get_u32(p, l.off("gpuId"));
                let Some(i) = s.gpus.iter().position(|g| g.gpu_id == id) else {
                    return Ok(NvStatus(status::INVALID_ARGUMENT));
                };
                abi::put_u32(p, l.off("deviceInstance"), i as u32);
                Ok(NvStatus(status::OK))
            }
            ctrl::GPU_GET_NAME_STRING | ctrl::GPU_GET_GID_INFO | ctrl::FB_GET_INFO_V2
                if cls != class::SUBDEVICE_0 =>
            {
                Ok(NvStatus(status::INVALID_COMMAND))
            }
            ctrl::GPU_GET_NAME_STRING => {
                let l = abi::name_string();
                if p.len() != l.size {
                    return bad_struct;
                }
                let at = l.off("gpuNameString");
                let name = s.gpus[gpu as usize].name.as_bytes();
                abi::put_c_str(&mut p[at..at + abi::MAX_NAME_STRING_LENGTH], name);
                Ok(NvStatus(status::OK))
            }
            ctrl::GPU_GET_GID_INFO => {
                let l = abi::gid_info();
                if p.len() != l.size {
                    return bad_struct;
                }
                let u = s.gpus[gpu as usize].uuid.as_bytes();
                let n = u.len().min(abi::MAX_GID_LENGTH);
                abi::put_u32(p, l.off("length"), n as u32);
                let at = l.off("data");
                p[at..at + n].copy_from_slice(&u[..n]);
                Ok(NvStatus(status::OK))
            }
            ctrl::FB_GET_INFO_V2 => {
                let max = fb_max(s.nvidia_version.as_deref().unwrap_or(""));
                let l = abi::fb_info_v2(max);
                if p.len() != l.size {
                    return bad_struct;
                }
                let n = abi::get_u32(p, l.off("fbInfoListSize")) as usize;
                if n == 0 || n > max {
                    return Ok(NvStatus(status::INVALID_ARGUMENT));
                }
                let g = &s.gpus[gpu as usize];
                let list = l.off("fbInfoList");
                for i in 0..n {
                    let entry = list + 8 * i;
                    let v = match abi::get_u32(p, entry) {
                        fb_index::RAM_SIZE | fb_index::TOTAL_RAM_SIZE => g.total_kib,
                        fb_index::HEAP_SIZE | fb_index::HEAP_FREE => g.free_kib,
                        fb_index::USABLE_RAM_SIZE => g.total_kib - 256 * 1024,
                        idx if (idx as usize) < max => 0,
                        _ => return Ok(NvStatus(status::INVALID_ARGUMENT)),
                    };
                    abi::put_u32(p, entry + 4, v);
                }
                Ok(NvStatus(status::OK))
            }
            _ => Ok(NvStatus(status::INVALID_COMMAND)),
        }
    }

    fn rm_free(&self, client: u32, _parent: u32, object: u32) -> Result<NvStatus> {
        if let Some(e) = self.enter(Args::NvRmFree { object }) {
            return Err(err(e, NvDevice::Ctl));
        }
        let mut s = self.st();
        if !s.rm_objects.contains_key(&(client, object)) {
            return Ok(NvStatus(abi::status::INVALID_OBJECT_HANDLE));
        }
        if client == object {
            s.rm_objects.retain(|(c, _), _| *c != client);
        } else {
            s.rm_objects.remove(&(client, object));
        }
        Ok(NvStatus(abi::status::OK))
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

    /// One case per rule in the module comment; each fails if its rule is dropped.
    #[test]
    fn each_resource_server_rule_refuses_on_its_own() {
        use crate::nv_abi::{class, ctrl, status};
        let h = SimHost::freebsd14_with_gpus(1);
        let ok = NvStatus(status::OK);
        let (c, st) = h.rm_alloc(0, 0, 0, class::ROOT_CLIENT, &mut []).unwrap();
        assert_eq!(st, ok);
        let mut dev = [0u8; 56];
        assert_eq!(
            h.rm_alloc(c, c, 0x10, class::DEVICE_0, &mut dev).unwrap(),
            (0x10, ok)
        );
        assert_eq!(
            h.rm_alloc(c, c, 0x10, class::DEVICE_0, &mut dev).unwrap().1,
            NvStatus(status::INSERT_DUPLICATE_NAME),
            "a handle in use"
        );
        assert_eq!(
            h.rm_alloc(c, 0x99, 0x11, class::SUBDEVICE_0, &mut [0; 4])
                .unwrap()
                .1,
            NvStatus(status::INVALID_OBJECT_PARENT)
        );
        assert_eq!(
            h.rm_alloc(c, c, 0x11, class::SUBDEVICE_0, &mut [0; 4])
                .unwrap()
                .1,
            NvStatus(status::INVALID_PARAM_STRUCT),
            "a subdevice belongs under a device"
        );
        let mut second = [0u8; 56];
        second[0] = 1;
        assert_eq!(
            h.rm_alloc(c, c, 0x12, class::DEVICE_0, &mut second)
                .unwrap()
                .1,
            NvStatus(status::INVALID_ARGUMENT),
            "device instance 1 of a one-GPU host"
        );
        assert_eq!(
            h.rm_alloc(c, 0x10, 0x13, 0x2081, &mut [0; 4]).unwrap().1,
            NvStatus(status::INVALID_CLASS)
        );
        assert_eq!(
            h.rm_control(c, 0x10, ctrl::GPU_GET_NAME_STRING, &mut [0; 132])
                .unwrap(),
            NvStatus(status::INVALID_COMMAND),
            "the name is asked of the subdevice"
        );
        assert_eq!(
            h.rm_alloc(c, 0x10, 0x20, class::SUBDEVICE_0, &mut [0; 4])
                .unwrap(),
            (0x20, ok)
        );
        let mut name = [0u8; 132];
        assert_eq!(
            h.rm_control(c, 0x20, ctrl::GPU_GET_NAME_STRING, &mut name)
                .unwrap(),
            ok
        );
        assert!(name[4..].starts_with(b"NVIDIA H100 80GB HBM3\0"));
        assert_eq!(
            h.rm_control(c, 0x20, ctrl::GPU_GET_NAME_STRING, &mut [0; 260])
                .unwrap(),
            NvStatus(status::INVALID_PARAM_STRUCT),
            "the union is 64 NvU16, not 128"
        );
        let fb = |list: &[u32]| {
            let mut p = vec![0u8; 4 + 8 * 0x80];
            p[..4].copy_from_slice(&(list.len() as u32).to_ne_bytes());
            for (i, idx) in list.iter().enumerate() {
                p[4 + 8 * i..8 + 8 * i].copy_from_slice(&idx.to_ne_bytes());
            }
            let st = h.rm_control(c, 0x20, ctrl::FB_GET_INFO_V2, &mut p).unwrap();
            (st, u32::from_ne_bytes([p[8], p[9], p[10], p[11]]))
        };
        assert_eq!(fb(&[0x8]), (ok, 83_516_416));
        assert_eq!(fb(&[]).0, NvStatus(status::INVALID_ARGUMENT), "empty list");
        assert_eq!(
            fb(&[0x80]).0,
            NvStatus(status::INVALID_ARGUMENT),
            "index past the table"
        );
        assert_eq!(
            h.rm_control(c, 0x20, 0x2080_9999, &mut []).unwrap(),
            NvStatus(status::INVALID_COMMAND)
        );
        assert_eq!(h.rm_free(c, c, 0x10).unwrap(), ok);
        assert_eq!(
            h.rm_free(c, c, 0x10).unwrap(),
            NvStatus(status::INVALID_OBJECT_HANDLE)
        );
        assert_eq!(h.rm_free(c, c, c).unwrap(), ok);
        assert!(
            h.snapshot().rm_objects.is_empty(),
            "freeing the client freed the subdevice"
        );
        assert_eq!(
            h.rm_control(c, c, ctrl::GPU_GET_ID_INFO_V2, &mut [0; 32])
                .unwrap(),
            NvStatus(status::INVALID_CLIENT)
        );
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
