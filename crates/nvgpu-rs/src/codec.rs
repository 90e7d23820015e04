//! The NVIDIA driver's parameter blocks and request numbers (pure), written from the published
//! layouts (abi-facts §5) and checked by the ABI harness against C declarations of the same.

use sysabi::ioc;

/// `NV_IOCTL_MAGIC`: the ioctl group `'F'`.
pub const NV_IOCTL_MAGIC: u8 = b'F';
/// `NV_MAX_DEVICES`: entries FreeBSD's `CARD_INFO` insists on.
pub const NV_MAX_DEVICES: usize = 32;
/// `NV_ABSOLUTE_MAX_IOCTL_SIZE`: the most `XFER_CMD` moves.
pub const NV_ABSOLUTE_MAX_IOCTL_SIZE: usize = 16384;

/// Escape numbers (`NV_ESC_*`).
pub mod esc {
    /// `NV_ESC_RM_FREE`.
    pub const RM_FREE: u8 = 0x29;
    /// `NV_ESC_RM_CONTROL`.
    pub const RM_CONTROL: u8 = 0x2A;
    /// `NV_ESC_RM_ALLOC`.
    pub const RM_ALLOC: u8 = 0x2B;
    /// `NV_ESC_CARD_INFO` (`NV_IOCTL_BASE` + 0).
    pub const CARD_INFO: u8 = 200;
    /// `NV_ESC_REGISTER_FD`.
    pub const REGISTER_FD: u8 = 201;
    /// `NV_ESC_CHECK_VERSION_STR`.
    pub const CHECK_VERSION_STR: u8 = 210;
    /// `NV_ESC_IOCTL_XFER_CMD`.
    pub const IOCTL_XFER_CMD: u8 = 211;
    /// `NV_ESC_ATTACH_GPUS_TO_FD`.
    pub const ATTACH_GPUS_TO_FD: u8 = 212;
    /// `NV_ESC_SYS_PARAMS`.
    pub const SYS_PARAMS: u8 = 214;

    /// The escapes whose block holds no address the driver reads or writes through, so that
    /// handing any buffer of any size to them is memory-safe: the kernel copies exactly the
    /// ioctl's size in and out of the buffer (open-gpu-kernel-modules, kernel-open/common/inc/
    /// nv-ioctl.h: `nv_ioctl_card_info_t`, `nv_ioctl_rm_api_version_t`, and the array of GPU ids
    /// of `NV_ESC_ATTACH_GPUS_TO_FD`). The RM escapes (`NVOS21`, `NVOS54`, …) and
    /// `NV_ESC_IOCTL_XFER_CMD` carry user addresses the driver writes through: they go through
    /// the typed `rm_*` calls only.
    pub const POINTER_FREE: &[u8] = &[CARD_INFO, CHECK_VERSION_STR, ATTACH_GPUS_TO_FD];
}

/// `_IOWR('F', nr, size)`: the request number for an escape with a `size`-byte block. The same
/// on FreeBSD and Linux below 8192 bytes; `None` above (use `IOCTL_XFER_CMD`).
pub const fn ioctl_nr(nr: u8, size: usize) -> Option<u32> {
    ioc::try_bsd(ioc::Dir::ReadWrite, NV_IOCTL_MAGIC, nr, size)
}

const fn nr(nr: u8, size: usize) -> u32 {
    ioc::bsd_iowr(NV_IOCTL_MAGIC, nr, size)
}

/// `nv_pci_info_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PciInfo {
    /// PCI domain.
    pub domain: u32,
    /// Bus.
    pub bus: u8,
    /// Slot (device).
    pub slot: u8,
    /// Function (FreeBSD's driver leaves it 0).
    pub function: u8,
    /// Padding.
    pub _pad0: u8,
    /// Vendor id (0x10de).
    pub vendor_id: u16,
    /// Device id.
    pub device_id: u16,
}

/// `nv_ioctl_card_info_t`: one entry of `NV_ESC_CARD_INFO`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardInfo {
    /// Non-zero for a present GPU.
    pub valid: u8,
    /// PCI location and ids.
    pub pci_info: PciInfo,
    /// RM gpu id.
    pub gpu_id: u32,
    /// IRQ.
    pub interrupt_line: u16,
    /// Register BAR.
    pub reg_address: u64,
    /// Register BAR size.
    pub reg_size: u64,
    /// Frame buffer BAR.
    pub fb_address: u64,
    /// Frame buffer BAR size.
    pub fb_size: u64,
    /// Minor number: N of `/dev/nvidiaN`.
    pub minor_number: u32,
    /// Device name.
    pub dev_name: [u8; 10],
}

/// `nv_ioctl_rm_api_version_t`: the version-string escape.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RmApiVersion {
    /// `NV_RM_API_VERSION_CMD_*`.
    pub cmd: u32,
    /// `NV_RM_API_VERSION_REPLY_*`.
    pub reply: u32,
    /// NUL-terminated version string (`"580.95.05"`).
    pub version_string: [u8; 64],
}

/// `NV_RM_API_VERSION_CMD_STRICT`.
pub const RM_API_VERSION_CMD_STRICT: u32 = 0;
/// `NV_RM_API_VERSION_CMD_RELAXED`.
pub const RM_API_VERSION_CMD_RELAXED: u32 = b'1' as u32;
/// `NV_RM_API_VERSION_CMD_QUERY`: the driver writes its version.
pub const RM_API_VERSION_CMD_QUERY: u32 = b'2' as u32;
/// `NV_RM_API_VERSION_REPLY_RECOGNIZED`.
pub const RM_API_VERSION_REPLY_RECOGNIZED: u32 = 1;

/// `nv_ioctl_xfer_t`: carries a block of 8192 bytes or more.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Xfer {
    /// The real escape.
    pub cmd: u32,
    /// Its size.
    pub size: u32,
    /// Pointer to the block, as a 64-bit integer.
    pub ptr: u64,
}

/// `NVOS00_PARAMETERS`: `NV_ESC_RM_FREE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nvos00 {
    /// Client.
    pub h_root: u32,
    /// Parent.
    pub h_object_parent: u32,
    /// Object to free.
    pub h_object_old: u32,
    /// RM status out.
    pub status: u32,
}

/// `NVOS21_PARAMETERS`: `NV_ESC_RM_ALLOC` (short form).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nvos21 {
    /// Client.
    pub h_root: u32,
    /// Parent.
    pub h_object_parent: u32,
    /// New handle (in, or out for a client).
    pub h_object_new: u32,
    /// Class.
    pub h_class: u32,
    /// Pointer to the class's allocation parameters.
    pub p_alloc_parms: u64,
    /// Their size.
    pub params_size: u32,
    /// RM status out.
    pub status: u32,
}

/// `NVOS64_PARAMETERS`: `NV_ESC_RM_ALLOC` (with access rights).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nvos64 {
    /// Client.
    pub h_root: u32,
    /// Parent.
    pub h_object_parent: u32,
    /// New handle.
    pub h_object_new: u32,
    /// Class.
    pub h_class: u32,
    /// Pointer to allocation parameters.
    pub p_alloc_parms: u64,
    /// Pointer to requested rights.
    pub p_rights_requested: u64,
    /// Size of allocation parameters.
    pub params_size: u32,
    /// Flags.
    pub flags: u32,
    /// RM status out.
    pub status: u32,
    /// Padding.
    pub _pad: u32,
}

/// `NVOS54_PARAMETERS`: `NV_ESC_RM_CONTROL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nvos54 {
    /// Client.
    pub h_client: u32,
    /// Object the control goes to.
    pub h_object: u32,
    /// Control command id.
    pub cmd: u32,
    /// Flags.
    pub flags: u32,
    /// Pointer to the parameters.
    pub params: u64,
    /// Their size; must equal the command's struct size exactly.
    pub params_size: u32,
    /// RM status out.
    pub status: u32,
}

/// `NV0080_ALLOC_PARAMETERS`: allocating `NV01_DEVICE_0`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nv0080Alloc {
    /// Device instance.
    pub device_id: u32,
    /// Client share.
    pub h_client_share: u32,
    /// Target client.
    pub h_target_client: u32,
    /// Target device.
    pub h_target_device: u32,
    /// Flags.
    pub flags: u32,
    /// Padding.
    pub _pad: u32,
    /// VA space size.
    pub va_space_size: u64,
    /// Internal VA start.
    pub va_start_internal: u64,
    /// Internal VA limit.
    pub va_limit_internal: u64,
    /// VA mode.
    pub va_mode: u32,
    /// Padding.
    pub _pad2: u32,
}

/// Request numbers of the escapes we use.
pub mod ioctl {
    use super::*;
    use std::mem::size_of;
    /// `CARD_INFO` with `NV_MAX_DEVICES` entries (FreeBSD demands all 32).
    pub const CARD_INFO: u32 = nr(esc::CARD_INFO, size_of::<CardInfo>() * NV_MAX_DEVICES);
    /// `CHECK_VERSION_STR`.
    pub const CHECK_VERSION_STR: u32 = nr(esc::CHECK_VERSION_STR, size_of::<RmApiVersion>());
    /// `IOCTL_XFER_CMD`.
    pub const IOCTL_XFER_CMD: u32 = nr(esc::IOCTL_XFER_CMD, size_of::<Xfer>());
    /// `RM_FREE`.
    pub const RM_FREE: u32 = nr(esc::RM_FREE, size_of::<Nvos00>());
    /// `RM_CONTROL`.
    pub const RM_CONTROL: u32 = nr(esc::RM_CONTROL, size_of::<Nvos54>());
    /// `RM_ALLOC` with NVOS21.
    pub const RM_ALLOC21: u32 = nr(esc::RM_ALLOC, size_of::<Nvos21>());
    /// `RM_ALLOC` with NVOS64.
    pub const RM_ALLOC64: u32 = nr(esc::RM_ALLOC, size_of::<Nvos64>());
}

/// Classes.
pub mod class {
    /// `NV01_ROOT_CLIENT`.
    pub const NV01_ROOT_CLIENT: u32 = 0x41;
    /// `NV01_DEVICE_0`.
    pub const NV01_DEVICE_0: u32 = 0x80;
    /// `NV20_SUBDEVICE_0`.
    pub const NV20_SUBDEVICE_0: u32 = 0x2080;
}

/// RM control ids: `(class << 16) | (interface << 8) | message`.
pub mod ctrl {
    /// `NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION` (on the client).
    pub const SYSTEM_GET_BUILD_VERSION: u32 = 0x0101;
    /// `NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS`.
    pub const GPU_GET_ATTACHED_IDS: u32 = 0x0201;
    /// `NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2`.
    pub const GPU_GET_ID_INFO_V2: u32 = 0x0205;
    /// `NV2080_CTRL_CMD_GPU_GET_NAME_STRING` (on the subdevice).
    pub const GPU_GET_NAME_STRING: u32 = 0x2080_0110;
    /// `NV2080_CTRL_CMD_GPU_GET_GID_INFO`.
    pub const GPU_GET_GID_INFO: u32 = 0x2080_014A;
    /// `NV2080_CTRL_CMD_FB_GET_INFO_V2`.
    pub const FB_GET_INFO_V2: u32 = 0x2080_1303;
    /// Builds an id from its parts.
    pub const fn id(class: u32, interface: u8, message: u8) -> u32 {
        (class << 16) | ((interface as u32) << 8) | message as u32
    }
}

/// An RM status (`NV_STATUS`), with the names of the codes a client meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NvStatus(pub u32);

impl NvStatus {
    /// `NV_OK`.
    pub const OK: NvStatus = NvStatus(0);
    /// `NV_ERR_NOT_SUPPORTED`: what the uvm shim answers.
    pub const NOT_SUPPORTED: NvStatus = NvStatus(0x56);
    /// `NV_ERR_INVALID_PARAM_STRUCT`: `paramsSize` does not match the control's struct.
    pub const INVALID_PARAM_STRUCT: NvStatus = NvStatus(0x3A);

    const NAMES: &'static [(u32, &'static str)] = &[
        (0x00, "NV_OK"),
        (0x02, "NV_ERR_BUFFER_TOO_SMALL"),
        (0x0F, "NV_ERR_GPU_IS_LOST"),
        (0x17, "NV_ERR_IN_USE"),
        (0x1B, "NV_ERR_INSUFFICIENT_PERMISSIONS"),
        (0x1F, "NV_ERR_INVALID_ARGUMENT"),
        (0x22, "NV_ERR_INVALID_CLASS"),
        (0x23, "NV_ERR_INVALID_CLIENT"),
        (0x24, "NV_ERR_INVALID_COMMAND"),
        (0x33, "NV_ERR_INVALID_OBJECT_HANDLE"),
        (0x3A, "NV_ERR_INVALID_PARAM_STRUCT"),
        (0x3B, "NV_ERR_INVALID_PARAMETER"),
        (0x40, "NV_ERR_INVALID_STATE"),
        (0x51, "NV_ERR_NO_MEMORY"),
        (0x56, "NV_ERR_NOT_SUPPORTED"),
        (0x57, "NV_ERR_OBJECT_NOT_FOUND"),
        (0x59, "NV_ERR_OPERATING_SYSTEM"),
        (0x6A, "NV_ERR_LIB_RM_VERSION_MISMATCH"),
        (0xFFFF, "NV_ERR_GENERIC"),
    ];

    /// The symbolic name, if known.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self.0)
            .map(|(_, n)| *n)
    }
}

impl std::fmt::Display for NvStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "NV_STATUS {:#x}", self.0),
        }
    }
}

/// Reads the version string out of a `CHECK_VERSION_STR` reply.
pub fn version_from_reply(r: &RmApiVersion) -> Option<String> {
    if r.reply != RM_API_VERSION_REPLY_RECOGNIZED {
        return None;
    }
    let end = r
        .version_string
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(r.version_string.len());
    let s = std::str::from_utf8(&r.version_string[..end]).ok()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_numbers() {
        assert_eq!(ioctl::CARD_INFO, 0xC900_46C8);
        assert_eq!(ioctl::CHECK_VERSION_STR, 0xC048_46D2);
        assert_eq!(ioctl::IOCTL_XFER_CMD, 0xC010_46D3);
        assert_eq!(ioctl::RM_FREE, 0xC010_4629);
        assert_eq!(ioctl::RM_CONTROL, 0xC020_462A);
        assert_eq!(ioctl::RM_ALLOC21, 0xC020_462B);
        assert_eq!(ioctl::RM_ALLOC64, 0xC030_462B);
        assert_eq!(ctrl::id(0x2080, 0x01, 0x10), ctrl::GPU_GET_NAME_STRING);
        assert_eq!(ioctl_nr(esc::RM_CONTROL, 8192), None);
        // Linux encodes _IOWR identically: one number for both systems.
        assert_eq!(
            ioctl::RM_CONTROL,
            sysabi::ioc::linux_iowr(b'F', esc::RM_CONTROL, 32)
        );
    }

    #[test]
    fn status_names() {
        assert_eq!(NvStatus(0x56).to_string(), "NV_ERR_NOT_SUPPORTED");
        assert_eq!(NvStatus(0x1234).to_string(), "NV_STATUS 0x1234");
    }

    #[test]
    fn version_reply() {
        let mut r = RmApiVersion {
            cmd: RM_API_VERSION_CMD_QUERY,
            reply: 1,
            version_string: [0; 64],
        };
        r.version_string[..9].copy_from_slice(b"580.95.05");
        assert_eq!(version_from_reply(&r).as_deref(), Some("580.95.05"));
        r.reply = 0;
        assert_eq!(version_from_reply(&r), None);
    }
}

/// Little helpers to read native-endian integers from a reply without trusting its length.
pub mod bytes {
    /// `u16` at `off`, `None` past the end.
    pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
        b.get(off..off + 2)
            .map(|x| u16::from_ne_bytes([x[0], x[1]]))
    }
    /// `u32` at `off`.
    pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
        b.get(off..off + 4)
            .map(|x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
    }
    /// `u64` at `off`.
    pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
        b.get(off..off + 8)
            .and_then(|x| x.try_into().ok())
            .map(u64::from_ne_bytes)
    }
    /// Writes a `u32` at `off` (the buffer is ours and sized by the caller).
    pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
        if let Some(x) = b.get_mut(off..off + 4) {
            x.copy_from_slice(&v.to_ne_bytes());
        }
    }
    /// Text up to the first NUL, lossy.
    pub fn c_text(b: &[u8]) -> String {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).trim().to_string()
    }
}

/// Size of one `nv_ioctl_card_info_t`.
pub const CARD_INFO_SIZE: usize = std::mem::size_of::<CardInfo>();

/// Decodes the `CARD_INFO` reply: one entry per valid GPU. Never panics on short or garbage input.
pub fn decode_card_info(buf: &[u8]) -> Vec<CardInfo> {
    use bytes::*;
    buf.chunks_exact(CARD_INFO_SIZE)
        .filter(|c| c[0] != 0)
        .map(|c| {
            let mut dev_name = [0u8; 10];
            dev_name.copy_from_slice(&c[60..70]);
            CardInfo {
                valid: c[0],
                pci_info: PciInfo {
                    domain: u32_at(c, 4).unwrap_or(0),
                    bus: c[8],
                    slot: c[9],
                    function: c[10],
                    _pad0: 0,
                    vendor_id: u16_at(c, 12).unwrap_or(0),
                    device_id: u16_at(c, 14).unwrap_or(0),
                },
                gpu_id: u32_at(c, 16).unwrap_or(0),
                interrupt_line: u16_at(c, 20).unwrap_or(0),
                reg_address: u64_at(c, 24).unwrap_or(0),
                reg_size: u64_at(c, 32).unwrap_or(0),
                fb_address: u64_at(c, 40).unwrap_or(0),
                fb_size: u64_at(c, 48).unwrap_or(0),
                minor_number: u32_at(c, 56).unwrap_or(0),
                dev_name,
            }
        })
        .collect()
}

/// Encodes card-info entries the way the driver lays them out (used by simulated drivers).
pub fn encode_card_info(cards: &[CardInfo], buf: &mut [u8]) {
    for (c, out) in cards.iter().zip(buf.chunks_exact_mut(CARD_INFO_SIZE)) {
        out.fill(0);
        out[0] = c.valid;
        out[4..8].copy_from_slice(&c.pci_info.domain.to_ne_bytes());
        out[8] = c.pci_info.bus;
        out[9] = c.pci_info.slot;
        out[10] = c.pci_info.function;
        out[12..14].copy_from_slice(&c.pci_info.vendor_id.to_ne_bytes());
        out[14..16].copy_from_slice(&c.pci_info.device_id.to_ne_bytes());
        out[16..20].copy_from_slice(&c.gpu_id.to_ne_bytes());
        out[20..22].copy_from_slice(&c.interrupt_line.to_ne_bytes());
        out[48..56].copy_from_slice(&c.fb_size.to_ne_bytes());
        out[56..60].copy_from_slice(&c.minor_number.to_ne_bytes());
        out[60..70].copy_from_slice(&c.dev_name);
    }
}

/// Size of the version-string block.
pub const RM_API_VERSION_SIZE: usize = std::mem::size_of::<RmApiVersion>();

/// The `CHECK_VERSION_STR` block for `cmd` and an optional version string.
pub fn encode_version(cmd: u32, version: &str) -> [u8; RM_API_VERSION_SIZE] {
    let mut b = [0u8; RM_API_VERSION_SIZE];
    b[0..4].copy_from_slice(&cmd.to_ne_bytes());
    let v = version.as_bytes();
    let n = v.len().min(63);
    b[8..8 + n].copy_from_slice(&v[..n]);
    b
}

/// The version from a `CHECK_VERSION_STR` query reply, `None` unless the driver recognised it.
pub fn decode_version(b: &[u8]) -> Option<String> {
    if bytes::u32_at(b, 4)? != RM_API_VERSION_REPLY_RECOGNIZED {
        return None;
    }
    let s = bytes::c_text(b.get(8..72)?);
    (!s.is_empty() && s.bytes().all(|c| c.is_ascii_graphic())).then_some(s)
}

/// `NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS` (32 bytes): `gpuId` in; instances out.
pub const ID_INFO_V2_SIZE: usize = 32;
/// `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS` (132 bytes).
pub const NAME_STRING_SIZE: usize = 132;
/// `NV2080_CTRL_GPU_GET_GID_INFO_PARAMS` (268 bytes).
pub const GID_INFO_SIZE: usize = 268;
/// `NV2080_ALLOC_PARAMETERS` (4 bytes).
pub const SUBDEVICE_ALLOC_SIZE: usize = 4;
/// `NV2080_CTRL_FB_INFO_MAX_LIST_SIZE` values seen across driver releases, most recent first;
/// the V2 block is `4 + 8 × n` bytes and the driver rejects any other size.
pub const FB_INFO_MAX_LIST_SIZES: &[usize] = &[
    0x80, 0x39, 0x36, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x38, 0x37,
];

/// FB info indices (`NV2080_CTRL_FB_INFO_INDEX_*`), values in KiB.
pub mod fb_index {
    /// `RAM_SIZE`.
    pub const RAM_SIZE: u32 = 0x7;
    /// `TOTAL_RAM_SIZE`.
    pub const TOTAL_RAM_SIZE: u32 = 0x8;
    /// `HEAP_SIZE`.
    pub const HEAP_SIZE: u32 = 0x9;
    /// `HEAP_FREE`.
    pub const HEAP_FREE: u32 = 0x16;
    /// `USABLE_RAM_SIZE`.
    pub const USABLE_RAM_SIZE: u32 = 0x20;
}

/// A `FB_GET_INFO_V2` block of `max` entries asking for `indices`.
pub fn encode_fb_info(max: usize, indices: &[u32]) -> Vec<u8> {
    let mut b = vec![0u8; 4 + 8 * max];
    let n = indices.len().min(max);
    bytes::put_u32(&mut b, 0, n as u32);
    for (i, idx) in indices.iter().take(n).enumerate() {
        bytes::put_u32(&mut b, 4 + 8 * i, *idx);
    }
    b
}

/// `(index, data)` pairs of a `FB_GET_INFO_V2` reply; never panics on garbage.
pub fn decode_fb_info(b: &[u8]) -> Vec<(u32, u32)> {
    let n = bytes::u32_at(b, 0).unwrap_or(0) as usize;
    (0..n.min(b.len().saturating_sub(4) / 8))
        .filter_map(|i| Some((bytes::u32_at(b, 4 + 8 * i)?, bytes::u32_at(b, 8 + 8 * i)?)))
        .collect()
}

/// The name from a `GET_NAME_STRING` reply (ASCII form).
pub fn decode_name(b: &[u8]) -> Option<String> {
    let s = bytes::c_text(b.get(4..68)?);
    (!s.is_empty()).then_some(s)
}

/// The UUID text (`GPU-xxxxxxxx-xxxx-…`) from a `GET_GID_INFO` reply in ASCII format.
pub fn decode_gid(b: &[u8]) -> Option<String> {
    let len = bytes::u32_at(b, 8)? as usize;
    let data = b.get(12..12 + len.min(256))?;
    let s = bytes::c_text(data);
    (s.starts_with("GPU-")
        && s.len() > 4
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b'-' || c.is_ascii_uppercase()))
    .then_some(s)
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn card_info_round_trip() {
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
            fb_size: 1 << 30,
            ..CardInfo::default()
        };
        let mut buf = vec![0u8; CARD_INFO_SIZE * NV_MAX_DEVICES];
        encode_card_info(&[card], &mut buf);
        assert_eq!(decode_card_info(&buf), vec![card]);
    }

    #[test]
    fn fb_info_round_trip() {
        let mut b = encode_fb_info(0x39, &[fb_index::TOTAL_RAM_SIZE, fb_index::HEAP_FREE]);
        assert_eq!(b.len(), 460);
        bytes::put_u32(&mut b, 8, 1000);
        bytes::put_u32(&mut b, 16, 500);
        assert_eq!(decode_fb_info(&b), vec![(0x8, 1000), (0x16, 500)]);
    }

    #[test]
    fn name_and_gid() {
        let mut n = [0u8; NAME_STRING_SIZE];
        n[4..20].copy_from_slice(b"NVIDIA H100 80GB");
        assert_eq!(decode_name(&n).as_deref(), Some("NVIDIA H100 80GB"));
        let mut g = [0u8; GID_INFO_SIZE];
        let u = b"GPU-12345678-abcd-ef01-2345-6789abcdef01";
        g[8..12].copy_from_slice(&(u.len() as u32).to_ne_bytes());
        g[12..12 + u.len()].copy_from_slice(u);
        assert_eq!(
            decode_gid(&g).as_deref(),
            Some("GPU-12345678-abcd-ef01-2345-6789abcdef01")
        );
        g[12] = b'X';
        assert_eq!(decode_gid(&g), None);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let _ = decode_card_info(&b);
            let _ = decode_version(&b);
            let _ = decode_fb_info(&b);
            let _ = decode_name(&b);
            let _ = decode_gid(&b);
        }
        #[test]
        fn fb_count_is_bounded_by_the_buffer(n: u32, tail in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut b = n.to_ne_bytes().to_vec();
            b.extend(tail);
            prop_assert!(decode_fb_info(&b).len() <= (b.len() - 4) / 8);
        }
    }
}

/// The version number in FreeBSD's `hw.nvidia.version` sysctl
/// (`"NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build  (builder@host)  Tue …"`):
/// the first word that looks like `N.N` or `N.N.N`.
pub fn parse_sysctl_version(s: &str) -> Option<String> {
    s.split_whitespace()
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            (2..=3).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(String::from)
}

#[cfg(test)]
mod sysctl_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn freebsd_version_line() {
        let s = "NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build  (root@14amd64)  Tue Oct 21 2025";
        assert_eq!(parse_sysctl_version(s).as_deref(), Some("580.95.05"));
        assert_eq!(
            parse_sysctl_version("NVIDIA UNIX x86_64 Kernel Module  390.157").as_deref(),
            Some("390.157")
        );
        assert_eq!(parse_sysctl_version("no version here 1.2.3.4 x86_64"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = parse_sysctl_version(&s);
        }
    }
}
