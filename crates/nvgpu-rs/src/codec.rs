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
