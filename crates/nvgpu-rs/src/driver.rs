//! The RM client: version, GPUs, names, UUIDs, memory (pure logic over [`NvTransport`]).

use crate::codec::{self, bytes, class, ctrl, esc, fb_index, NvStatus};
use crate::error::{Error, Op, Result};
use crate::ops::{NvDevice, NvTransport};
use serde::Serialize;
use sysabi::ErrorKind;

/// One GPU as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuInfo {
    /// Minor number: N of `/dev/nvidiaN`.
    pub minor: u32,
    /// RM gpu id.
    pub gpu_id: u32,
    /// PCI address as `nvidia-smi` prints it: `00000000:65:00.0`.
    pub pci_bus_id: String,
    /// PCI vendor id (0x10de).
    pub vendor_id: u16,
    /// PCI device id.
    pub device_id: u16,
    /// Marketing name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub uuid: String,
    /// Total frame buffer memory in MiB, as `nvidia-smi --query-gpu=memory.total` counts it.
    pub memory_total_mib: u64,
    /// Free heap memory in MiB.
    pub memory_free_mib: u64,
    /// Every FB info value read (index → KiB), for diagnostics.
    pub fb_info_kib: Vec<(u32, u32)>,
    /// Device nodes a jail must see for this GPU.
    pub device_nodes: Vec<String>,
}

/// An open connection to the NVIDIA driver. The RM client it allocates on first use (with a
/// device and subdevice per GPU) lives as long as the `Driver` and is freed on drop.
pub struct Driver<T: NvTransport> {
    t: T,
    version: String,
    session: std::sync::Mutex<Option<Session>>,
}

/// RM objects kept between calls: the client, and per GPU id its subdevice handle with the
/// properties that cannot change while the driver is loaded (name, UUID).
#[derive(Default)]
struct Session {
    client: u32,
    next_handle: u32,
    fb_list_size: Option<usize>,
    gpus: std::collections::HashMap<u32, (u32, String, String)>,
}

fn esc_err(name: &'static str, e: Error) -> Error {
    e.detail(format!("escape {name} failed"))
}

fn rm_check(op: Op, st: NvStatus, subject: impl std::fmt::Display) -> Result<()> {
    if st == NvStatus::OK {
        return Ok(());
    }
    let kind = match st {
        NvStatus::NOT_SUPPORTED => ErrorKind::Unsupported,
        NvStatus::INVALID_PARAM_STRUCT => ErrorKind::VersionMismatch,
        NvStatus(0x1B) => ErrorKind::PermissionDenied,
        NvStatus(0x57) => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    Err(Error::new(op, kind, format!("RM status {st}")).subject(subject))
}

/// First handle we choose for objects under our client.
const HANDLE_BASE: u32 = 0xcf00_0000;

impl<T: NvTransport> Driver<T> {
    /// Opens `/dev/nvidiactl` and asks the driver's version (`CHECK_VERSION_STR` query), then
    /// confirms it with a strict check, as NVIDIA's user-space libraries do.
    ///
    /// # Errors
    /// `NotFound` when there is no `/dev/nvidiactl`; `VersionMismatch` when the driver does not
    /// answer the query.
    pub fn open(t: T) -> Result<Driver<T>> {
        t.open(NvDevice::Ctl)?;
        let mut b = codec::encode_version(codec::RM_API_VERSION_CMD_QUERY, "");
        t.escape(NvDevice::Ctl, esc::CHECK_VERSION_STR, &mut b)
            .map_err(|e| esc_err("NV_ESC_CHECK_VERSION_STR", e))?;
        let version = codec::decode_version(&b).ok_or_else(|| {
            Error::new(
                Op::Escape("NV_ESC_CHECK_VERSION_STR"),
                ErrorKind::VersionMismatch,
                "the driver did not report a version",
            )
            .subject("/dev/nvidiactl")
        })?;
        let mut strict = codec::encode_version(codec::RM_API_VERSION_CMD_STRICT, &version);
        t.escape(NvDevice::Ctl, esc::CHECK_VERSION_STR, &mut strict)
            .map_err(|e| {
                esc_err(
                    "NV_ESC_CHECK_VERSION_STR",
                    e.with_kind(ErrorKind::VersionMismatch),
                )
                .subject(&version)
            })?;
        Ok(Driver {
            t,
            version,
            session: std::sync::Mutex::new(None),
        })
    }

    /// The kernel driver's version string (`580.95.05`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The transport, for callers that need more escapes.
    pub fn transport(&self) -> &T {
        &self.t
    }

    /// The driver's version and each GPU's minor, name, UUID and PCI address: what
    /// [`fast::read_host`](crate::fast::read_host) answers without the driver, from the driver.
    ///
    /// # Errors
    /// As [`Driver::gpus`].
    pub fn summary(&self) -> Result<crate::fast::Summary> {
        let mut gpus: Vec<crate::fast::GpuSummary> = self
            .gpus()?
            .into_iter()
            .map(|g| crate::fast::GpuSummary {
                minor: g.minor,
                name: g.name,
                uuid: g.uuid,
                pci_bus_id: g.pci_bus_id,
            })
            .collect();
        gpus.sort_by_key(|g| g.minor);
        Ok(crate::fast::Summary {
            driver_version: self.version.clone(),
            gpus,
        })
    }

    /// Every GPU with PCI ids, name, UUID and memory.
    ///
    /// # Errors
    /// The first escape or control that fails, naming it, with errno or RM status.
    pub fn gpus(&self) -> Result<Vec<GpuInfo>> {
        let mut buf = vec![0u8; codec::CARD_INFO_SIZE * codec::NV_MAX_DEVICES];
        self.t
            .escape(NvDevice::Ctl, esc::CARD_INFO, &mut buf)
            .map_err(|e| esc_err("NV_ESC_CARD_INFO", e))?;
        let cards = codec::decode_card_info(&buf);
        if cards.is_empty() {
            return Ok(Vec::new());
        }
        for c in &cards {
            // Opening the GPU's node initialises it for RM (as every NVIDIA client does).
            self.t.open(NvDevice::Gpu(c.minor_number))?;
        }
        let mut guard = self.session.lock().map_err(|_| {
            Error::new(
                Op::Validate,
                ErrorKind::Other,
                "driver session lock poisoned",
            )
        })?;
        if guard.is_none() {
            let (h, st) = self.t.rm_alloc(0, 0, 0, class::NV01_ROOT_CLIENT, &mut [])?;
            rm_check(
                Op::Escape("NV_ESC_RM_ALLOC(NV01_ROOT_CLIENT)"),
                st,
                "/dev/nvidiactl",
            )?;
            if h == 0 {
                return Err(Error::new(
                    Op::Escape("NV_ESC_RM_ALLOC(NV01_ROOT_CLIENT)"),
                    ErrorKind::Other,
                    "driver returned handle 0",
                ));
            }
            *guard = Some(Session {
                client: h,
                next_handle: HANDLE_BASE,
                ..Session::default()
            });
        }
        let session = guard
            .as_mut()
            .ok_or_else(|| Error::new(Op::Validate, ErrorKind::Other, "no RM client"))?;
        cards.iter().map(|c| session.gpu(&self.t, c)).collect()
    }
}

impl<T: NvTransport> Drop for Driver<T> {
    fn drop(&mut self) {
        if let Ok(mut g) = self.session.lock() {
            if let Some(s) = g.take() {
                // Freeing the client frees every device and subdevice under it.
                let _ = self.t.rm_free(s.client, s.client, s.client);
            }
        }
    }
}

impl Session {
    fn control<T: NvTransport>(
        &self,
        t: &T,
        name: &'static str,
        object: u32,
        cmd: u32,
        p: &mut [u8],
    ) -> Result<()> {
        let st = t.rm_control(self.client, object, cmd, p)?;
        rm_check(Op::Control(name), st, format!("handle {object:#x}"))
    }

    /// The subdevice, name and UUID of a GPU, allocating and asking once per driver session.
    fn subdevice<T: NvTransport>(&mut self, t: &T, gpu_id: u32) -> Result<(u32, String, String)> {
        if let Some(v) = self.gpus.get(&gpu_id) {
            return Ok(v.clone());
        }
        let mut id = [0u8; codec::ID_INFO_V2_SIZE];
        bytes::put_u32(&mut id, 0, gpu_id);
        self.control(
            t,
            "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2",
            self.client,
            ctrl::GPU_GET_ID_INFO_V2,
            &mut id,
        )?;
        let device_instance = bytes::u32_at(&id, 8).unwrap_or(0);
        let h_dev = self.next_handle + 1;
        let h_sub = self.next_handle + 2;
        self.next_handle += 2;
        let mut dp = [0u8; std::mem::size_of::<codec::Nv0080Alloc>()];
        bytes::put_u32(&mut dp, 0, device_instance);
        let (_, st) = t.rm_alloc(
            self.client,
            self.client,
            h_dev,
            class::NV01_DEVICE_0,
            &mut dp,
        )?;
        rm_check(
            Op::Escape("NV_ESC_RM_ALLOC(NV01_DEVICE_0)"),
            st,
            format!("gpu {gpu_id:#x}"),
        )?;
        let mut sp = [0u8; codec::SUBDEVICE_ALLOC_SIZE];
        let (_, st) = t.rm_alloc(self.client, h_dev, h_sub, class::NV20_SUBDEVICE_0, &mut sp)?;
        rm_check(
            Op::Escape("NV_ESC_RM_ALLOC(NV20_SUBDEVICE_0)"),
            st,
            format!("gpu {gpu_id:#x}"),
        )?;
        let mut name = [0u8; codec::NAME_STRING_SIZE];
        self.control(
            t,
            "NV2080_CTRL_CMD_GPU_GET_NAME_STRING",
            h_sub,
            ctrl::GPU_GET_NAME_STRING,
            &mut name,
        )?;
        let mut gid = [0u8; codec::GID_INFO_SIZE];
        self.control(
            t,
            "NV2080_CTRL_CMD_GPU_GET_GID_INFO",
            h_sub,
            ctrl::GPU_GET_GID_INFO,
            &mut gid,
        )?;
        let name = codec::decode_name(&name).ok_or_else(|| {
            Error::new(
                Op::Control("NV2080_CTRL_CMD_GPU_GET_NAME_STRING"),
                ErrorKind::Other,
                "empty or garbled name",
            )
        })?;
        let uuid = codec::decode_gid(&gid).ok_or_else(|| {
            Error::new(
                Op::Control("NV2080_CTRL_CMD_GPU_GET_GID_INFO"),
                ErrorKind::Other,
                "reply is not a GPU-… uuid",
            )
        })?;
        let v = (h_sub, name, uuid);
        self.gpus.insert(gpu_id, v.clone());
        Ok(v)
    }

    fn gpu<T: NvTransport>(&mut self, t: &T, c: &codec::CardInfo) -> Result<GpuInfo> {
        let (h_sub, name, uuid) = self.subdevice(t, c.gpu_id)?;
        let fb = self.fb_info(t, h_sub)?;
        let kib = |idx: u32| {
            fb.iter()
                .find(|(i, _)| *i == idx)
                .map(|(_, v)| u64::from(*v))
        };
        let total = kib(fb_index::TOTAL_RAM_SIZE)
            .or_else(|| kib(fb_index::RAM_SIZE))
            .unwrap_or(0);
        let free = kib(fb_index::HEAP_FREE).unwrap_or(0);
        let p = c.pci_info;
        Ok(GpuInfo {
            minor: c.minor_number,
            gpu_id: c.gpu_id,
            pci_bus_id: format!(
                "{:08X}:{:02X}:{:02X}.{:X}",
                p.domain, p.bus, p.slot, p.function
            ),
            vendor_id: p.vendor_id,
            device_id: p.device_id,
            name,
            uuid,
            memory_total_mib: total / 1024,
            memory_free_mib: free / 1024,
            fb_info_kib: fb,
            device_nodes: vec![
                "/dev/nvidiactl".into(),
                "/dev/nvidia-modeset".into(),
                NvDevice::Gpu(c.minor_number).path(),
            ],
        })
    }

    /// `FB_GET_INFO_V2`: probes the list size once per session (a wrong size is rejected with
    /// `NV_ERR_INVALID_PARAM_STRUCT`, or `NV_ERR_INVALID_ARGUMENT` by drivers that check it
    /// later, and no side effect), then asks for the wanted indices.
    fn fb_info<T: NvTransport>(&mut self, t: &T, h_sub: u32) -> Result<Vec<(u32, u32)>> {
        let want = [
            fb_index::TOTAL_RAM_SIZE,
            fb_index::HEAP_FREE,
            fb_index::RAM_SIZE,
            fb_index::HEAP_SIZE,
            fb_index::USABLE_RAM_SIZE,
        ];
        if self.fb_list_size.is_none() {
            for max in codec::FB_INFO_MAX_LIST_SIZES {
                // HEAP_SIZE is valid on every driver, so a refusal is about the block's size.
                let mut b = codec::encode_fb_info(*max, &[fb_index::HEAP_SIZE]);
                let st = t.rm_control(self.client, h_sub, ctrl::FB_GET_INFO_V2, &mut b)?;
                debug(format_args!("FB_GET_INFO_V2 list size {max:#x}: {st}"));
                if st == NvStatus::OK {
                    self.fb_list_size = Some(*max);
                    break;
                }
            }
        }
        let max = self.fb_list_size.ok_or_else(|| {
            Error::new(
                Op::Control("NV2080_CTRL_CMD_FB_GET_INFO_V2"),
                ErrorKind::VersionMismatch,
                "no known FB info list size accepted by this driver",
            )
        })?;
        if std::env::var_os("NVGPU_DEBUG").is_some() {
            for idx in 0..0x40 {
                let mut b = codec::encode_fb_info(max, &[idx]);
                let st = t.rm_control(self.client, h_sub, ctrl::FB_GET_INFO_V2, &mut b)?;
                debug(format_args!(
                    "FB_GET_INFO_V2 index {idx:#x}: {st} {:?}",
                    codec::decode_fb_info(&b)
                ));
            }
        }
        // All wanted indices in one call; the driver refuses the whole list if one index is
        // unknown to it (`INVALID_ARGUMENT`), so then ask one by one and skip those.
        let mut b = codec::encode_fb_info(max, &want);
        let st = t.rm_control(self.client, h_sub, ctrl::FB_GET_INFO_V2, &mut b)?;
        if st == NvStatus::OK {
            return Ok(codec::decode_fb_info(&b));
        }
        let mut out = Vec::new();
        for idx in want {
            let mut b = codec::encode_fb_info(max, &[idx]);
            let st = t.rm_control(self.client, h_sub, ctrl::FB_GET_INFO_V2, &mut b)?;
            if st == NvStatus(0x1F) {
                continue;
            }
            rm_check(
                Op::Control("NV2080_CTRL_CMD_FB_GET_INFO_V2"),
                st,
                format!("handle {h_sub:#x}"),
            )?;
            out.extend(codec::decode_fb_info(&b));
        }
        Ok(out)
    }
}

/// Prints a diagnostic line when `NVGPU_DEBUG` is set.
fn debug(args: std::fmt::Arguments<'_>) {
    if std::env::var_os("NVGPU_DEBUG").is_some() {
        eprintln!("nvgpu: {args}");
    }
}

#[cfg(test)]
mod tests {
    //! A tiny private fake driver for this module's own tests (hostsim carries the full one).
    use super::*;
    use crate::codec::{CardInfo, PciInfo};
    use std::cell::RefCell;

    struct Fake {
        version: &'static str,
        fb_max: usize,
        fail_name: Option<NvStatus>,
        garbage_gid: bool,
        opened: RefCell<Vec<NvDevice>>,
        freed: std::rc::Rc<RefCell<Vec<u32>>>,
    }

    fn fake() -> Fake {
        Fake {
            version: "580.95.05",
            fb_max: 0x39,
            fail_name: None,
            garbage_gid: false,
            opened: RefCell::default(),
            freed: Default::default(),
        }
    }

    impl NvTransport for Fake {
        fn open(&self, dev: NvDevice) -> Result<()> {
            if dev == NvDevice::Gpu(9) {
                return Err(Error::from_errno(Op::Open, sysabi::Errno::ENOENT).subject(dev.path()));
            }
            self.opened.borrow_mut().push(dev);
            Ok(())
        }
        fn escape(&self, _dev: NvDevice, nr: u8, buf: &mut [u8]) -> Result<()> {
            match nr {
                esc::CHECK_VERSION_STR => {
                    if buf.len() != codec::RM_API_VERSION_SIZE {
                        return Err(Error::from_errno(Op::Escape("x"), sysabi::Errno::EINVAL));
                    }
                    let cmd = bytes::u32_at(buf, 0).unwrap();
                    if cmd == codec::RM_API_VERSION_CMD_QUERY {
                        bytes::put_u32(buf, 4, 1);
                        buf[8..8 + self.version.len()].copy_from_slice(self.version.as_bytes());
                        Ok(())
                    } else if bytes::c_text(&buf[8..]) == self.version {
                        Ok(())
                    } else {
                        Err(Error::from_errno(Op::Escape("x"), sysabi::Errno::EINVAL))
                    }
                }
                esc::CARD_INFO => {
                    let card = CardInfo {
                        valid: 1,
                        pci_info: PciInfo {
                            domain: 0,
                            bus: 0x65,
                            slot: 0,
                            function: 0,
                            _pad0: 0,
                            vendor_id: 0x10de,
                            device_id: 0x2330,
                        },
                        gpu_id: 0x6500,
                        minor_number: 0,
                        ..CardInfo::default()
                    };
                    codec::encode_card_info(&[card], buf);
                    Ok(())
                }
                _ => Err(Error::from_errno(Op::Escape("x"), sysabi::Errno::EINVAL)),
            }
        }
        fn rm_alloc(
            &self,
            _c: u32,
            _p: u32,
            new: u32,
            class: u32,
            _params: &mut [u8],
        ) -> Result<(u32, NvStatus)> {
            Ok((
                if class == class::NV01_ROOT_CLIENT {
                    0xc1d0_0001
                } else {
                    new
                },
                NvStatus::OK,
            ))
        }
        fn rm_control(&self, _c: u32, _o: u32, cmd: u32, p: &mut [u8]) -> Result<NvStatus> {
            match cmd {
                ctrl::GPU_GET_ID_INFO_V2 => Ok(NvStatus::OK),
                ctrl::GPU_GET_NAME_STRING => {
                    if let Some(s) = self.fail_name {
                        return Ok(s);
                    }
                    p[4..20].copy_from_slice(b"NVIDIA H100 80GB");
                    Ok(NvStatus::OK)
                }
                ctrl::GPU_GET_GID_INFO => {
                    let u: &[u8] = if self.garbage_gid {
                        b"\xff\xfe"
                    } else {
                        b"GPU-7180742a-ab92-b3ff-5b86-5e6f10c1175b"
                    };
                    bytes::put_u32(p, 8, u.len() as u32);
                    p[12..12 + u.len()].copy_from_slice(u);
                    Ok(NvStatus::OK)
                }
                ctrl::FB_GET_INFO_V2 => {
                    if p.len() != 4 + 8 * self.fb_max {
                        return Ok(NvStatus::INVALID_PARAM_STRUCT);
                    }
                    let list = codec::decode_fb_info(p);
                    for (i, (idx, _)) in list.iter().enumerate() {
                        let v = match *idx {
                            fb_index::TOTAL_RAM_SIZE => 83_516_416,
                            fb_index::HEAP_FREE => 83_024_896,
                            _ => 1,
                        };
                        bytes::put_u32(p, 8 + 8 * i, v);
                    }
                    Ok(NvStatus::OK)
                }
                _ => Ok(NvStatus(0x24)),
            }
        }
        fn rm_free(&self, c: u32, _p: u32, _o: u32) -> Result<NvStatus> {
            self.freed.borrow_mut().push(c);
            Ok(NvStatus::OK)
        }
    }

    #[test]
    fn enumerates_like_the_real_driver() {
        let f = fake();
        let freed = f.freed.clone();
        let d = Driver::open(f).unwrap();
        assert_eq!(d.version(), "580.95.05");
        let g = d.gpus().unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].name, "NVIDIA H100 80GB");
        assert_eq!(g[0].uuid, "GPU-7180742a-ab92-b3ff-5b86-5e6f10c1175b");
        assert_eq!(g[0].pci_bus_id, "00000000:65:00.0");
        assert_eq!(
            (g[0].memory_total_mib, g[0].memory_free_mib),
            (81559, 81079)
        );
        assert!(d.transport().opened.borrow().contains(&NvDevice::Gpu(0)));
        assert_eq!(d.gpus().unwrap(), g, "a second call reuses the session");
        // The brief answer the fast path is compared with: the same fields, nothing else.
        assert_eq!(
            d.summary().unwrap().lines(),
            "GPU 0: NVIDIA H100 80GB (UUID: GPU-7180742a-ab92-b3ff-5b86-5e6f10c1175b) pci 00000000:65:00.0\n"
        );
        assert!(freed.borrow().is_empty());
        drop(d);
        assert_eq!(
            freed.borrow().as_slice(),
            [0xc1d0_0001],
            "the client is freed on drop"
        );
    }

    #[test]
    fn probes_the_fb_list_size_of_older_drivers() {
        let d = Driver::open(Fake {
            fb_max: 0x36,
            ..fake()
        })
        .unwrap();
        assert_eq!(d.gpus().unwrap()[0].memory_total_mib, 81559);
        let d = Driver::open(Fake {
            fb_max: 0x99,
            ..fake()
        })
        .unwrap();
        let e = d.gpus().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::VersionMismatch);
        assert!(e.to_string().contains("FB_GET_INFO_V2"), "{e}");
    }

    #[test]
    fn rm_failures_name_the_control_and_status_and_free_the_client() {
        let d = Driver::open(Fake {
            fail_name: Some(NvStatus(0x1B)),
            ..fake()
        })
        .unwrap();
        let e = d.gpus().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let msg = e.to_string();
        assert!(
            msg.contains("GET_NAME_STRING") && msg.contains("NV_ERR_INSUFFICIENT_PERMISSIONS"),
            "{msg}"
        );
        assert!(
            d.transport().freed.borrow().is_empty(),
            "client kept for the driver's life"
        );
    }

    #[test]
    fn garbage_replies_are_errors_not_panics() {
        let d = Driver::open(Fake {
            garbage_gid: true,
            ..fake()
        })
        .unwrap();
        assert!(d.gpus().unwrap_err().to_string().contains("uuid"));
    }

    #[test]
    fn missing_node_and_version_mismatch() {
        let f = fake();
        assert_eq!(
            f.open(NvDevice::Gpu(9)).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let f = Fake {
            version: "",
            ..fake()
        };
        assert_eq!(
            Driver::open(f).err().unwrap().kind(),
            ErrorKind::VersionMismatch
        );
    }
}
