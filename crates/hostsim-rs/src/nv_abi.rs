//! The simulated NVIDIA driver's own reading of the driver's user ABI: escape numbers, the
//! layout of every block the simulation accepts, class and control ids, RM status codes.
//!
//! Nothing here comes from nvgpu-rs (whose codec is what the simulation checks). Each layout is
//! the field list of NVIDIA's header, typed in here, and laid out by [`c_layout`] with the C
//! rules both ABIs the driver supports use (amd64 and arm64: every field at a multiple of its
//! alignment, the struct padded to its largest alignment; `NV_ALIGN_BYTES(8)` /
//! `NV_DECLARE_ALIGNED(…, 8)` fields aligned to 8).
//!
//! Sources (NVIDIA open-gpu-kernel-modules, the same definitions ship in the FreeBSD driver):
//! - `kernel-open/common/inc/nv-ioctl-numbers.h`: `NV_IOCTL_BASE` 200, `NV_ESC_CARD_INFO`
//!   (+0), `NV_ESC_CHECK_VERSION_STR` (+10).
//! - `kernel-open/common/inc/nv-ioctl.h`: `nv_pci_info_t`, `nv_ioctl_card_info_t`,
//!   `nv_ioctl_rm_api_version_t`, `NV_RM_API_VERSION_CMD_*` and `_REPLY_*`.
//! - `src/common/sdk/nvidia/inc/class/cl0080.h` / `cl2080.h`: `NV0080_ALLOC_PARAMETERS`,
//!   `NV2080_ALLOC_PARAMETERS`; `cl0000.h`, `cl0080.h`, `cl2080.h` for the class ids.
//! - `src/common/sdk/nvidia/inc/ctrl/ctrl0000/ctrl0000gpu.h`:
//!   `NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS` (`0x205`).
//! - `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080gpu.h`:
//!   `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS` (`0x20800110`, `NV2080_GPU_MAX_NAME_STRING_LENGTH`
//!   0x40, a union of 64 `NvU8` and 64 `NvU16`), `NV2080_CTRL_GPU_GET_GID_INFO_PARAMS`
//!   (`0x2080014a`, `NV2080_GPU_MAX_GID_LENGTH` 0x100).
//! - `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080fb.h`: `NV2080_CTRL_FB_GET_INFO_V2_PARAMS`
//!   (`0x20801303`, a count and `NV2080_CTRL_FB_INFO { index; data; }` entries) and the
//!   `NV2080_CTRL_FB_INFO_INDEX_*` numbers.
//! - `src/common/sdk/nvidia/inc/nvstatuscodes.h`: the `NV_ERR_*` values.
//!
//! A control id is `(class << 16) | (interface << 8) | message` (the `finn:` comments in those
//! headers evaluate each one that way).

/// `NV_IOCTL_BASE` and the escapes the simulation answers (`nv-ioctl-numbers.h`).
pub(crate) mod esc {
    const NV_IOCTL_BASE: u8 = 200;
    /// `NV_ESC_CARD_INFO`.
    pub(crate) const CARD_INFO: u8 = NV_IOCTL_BASE;
    /// `NV_ESC_CHECK_VERSION_STR`.
    pub(crate) const CHECK_VERSION_STR: u8 = NV_IOCTL_BASE + 10;
}

/// `NV_MAX_DEVICES` (`nv.h`): entries in a `NV_ESC_CARD_INFO` reply.
pub(crate) const MAX_DEVICES: usize = 32;
/// `NV_RM_API_VERSION_STRING_LENGTH`.
const RM_API_VERSION_STRING_LENGTH: usize = 64;
/// `NV_RM_API_VERSION_CMD_QUERY` (`'2'`): the driver writes its version.
pub(crate) const VERSION_CMD_QUERY: u32 = b'2' as u32;
/// `NV_RM_API_VERSION_REPLY_RECOGNIZED`.
pub(crate) const VERSION_REPLY_RECOGNIZED: u32 = 1;
/// `NV_PCI_VENDOR_ID_NVIDIA`.
pub(crate) const PCI_VENDOR_NVIDIA: u16 = 0x10de;

/// Class ids.
pub(crate) mod class {
    /// `NV01_ROOT_CLIENT` (`cl0041.h`).
    pub(crate) const ROOT_CLIENT: u32 = 0x41;
    /// `NV01_ROOT` (`cl0000.h`); the driver treats it as a client too.
    pub(crate) const ROOT: u32 = 0x0;
    /// `NV01_ROOT_NON_PRIV` (`cl0001.h`).
    pub(crate) const ROOT_NON_PRIV: u32 = 0x1;
    /// `NV01_DEVICE_0` (`cl0080.h`).
    pub(crate) const DEVICE_0: u32 = 0x80;
    /// `NV20_SUBDEVICE_0` (`cl2080.h`).
    pub(crate) const SUBDEVICE_0: u32 = 0x2080;
}

/// Control ids.
pub(crate) mod ctrl {
    const fn id(class: u32, interface: u32, message: u32) -> u32 {
        (class << 16) | (interface << 8) | message
    }
    /// `NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2`: root class, GPU interface 0x02, message 0x05.
    pub(crate) const GPU_GET_ID_INFO_V2: u32 = id(0x0000, 0x02, 0x05);
    /// `NV2080_CTRL_CMD_GPU_GET_NAME_STRING`: GPU interface 0x01, message 0x10.
    pub(crate) const GPU_GET_NAME_STRING: u32 = id(0x2080, 0x01, 0x10);
    /// `NV2080_CTRL_CMD_GPU_GET_GID_INFO`: GPU interface 0x01, message 0x4a.
    pub(crate) const GPU_GET_GID_INFO: u32 = id(0x2080, 0x01, 0x4a);
    /// `NV2080_CTRL_CMD_FB_GET_INFO_V2`: FB interface 0x13, message 0x03.
    pub(crate) const FB_GET_INFO_V2: u32 = id(0x2080, 0x13, 0x03);
}

/// `NV2080_CTRL_FB_INFO_INDEX_*` the simulation answers with a value.
pub(crate) mod fb_index {
    /// `RAM_SIZE`.
    pub(crate) const RAM_SIZE: u32 = 0x07;
    /// `TOTAL_RAM_SIZE`.
    pub(crate) const TOTAL_RAM_SIZE: u32 = 0x08;
    /// `HEAP_SIZE`.
    pub(crate) const HEAP_SIZE: u32 = 0x09;
    /// `HEAP_FREE`.
    pub(crate) const HEAP_FREE: u32 = 0x16;
    /// `USABLE_RAM_SIZE`.
    pub(crate) const USABLE_RAM_SIZE: u32 = 0x20;
}

/// `NV_ERR_*` (`nvstatuscodes.h`).
pub(crate) mod status {
    /// `NV_OK`.
    pub(crate) const OK: u32 = 0x00;
    /// `NV_ERR_INSERT_DUPLICATE_NAME`.
    pub(crate) const INSERT_DUPLICATE_NAME: u32 = 0x19;
    /// `NV_ERR_INVALID_ARGUMENT`.
    pub(crate) const INVALID_ARGUMENT: u32 = 0x1F;
    /// `NV_ERR_INVALID_CLASS`.
    pub(crate) const INVALID_CLASS: u32 = 0x22;
    /// `NV_ERR_INVALID_CLIENT`.
    pub(crate) const INVALID_CLIENT: u32 = 0x23;
    /// `NV_ERR_INVALID_COMMAND`.
    pub(crate) const INVALID_COMMAND: u32 = 0x24;
    /// `NV_ERR_INVALID_OBJECT_HANDLE`.
    pub(crate) const INVALID_OBJECT_HANDLE: u32 = 0x33;
    /// `NV_ERR_INVALID_OBJECT_PARENT`.
    pub(crate) const INVALID_OBJECT_PARENT: u32 = 0x36;
    /// `NV_ERR_INVALID_PARAM_STRUCT`.
    pub(crate) const INVALID_PARAM_STRUCT: u32 = 0x3A;
}

/// One field of a C struct: name, size, alignment.
type Field = (&'static str, usize, usize);

const U8: (usize, usize) = (1, 1);
const U16: (usize, usize) = (2, 2);
const U32: (usize, usize) = (4, 4);
/// `NvU64 … NV_ALIGN_BYTES(8)`.
const U64: (usize, usize) = (8, 8);

const fn f(name: &'static str, (size, align): (usize, usize)) -> Field {
    (name, size, align)
}

const fn array(name: &'static str, (size, align): (usize, usize), n: usize) -> Field {
    (name, size * n, align)
}

/// A struct laid out by the C rules: each field's offset, and the padded size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    fields: Vec<(&'static str, usize)>,
    /// `sizeof`.
    pub(crate) size: usize,
    /// `_Alignof`.
    pub(crate) align: usize,
}

impl Layout {
    /// The offset of `name`; panics on a name the table lacks (a bug in this file).
    pub(crate) fn off(&self, name: &str) -> usize {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| *o)
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    /// This struct as a field of another.
    fn nested(&self, name: &'static str) -> Field {
        (name, self.size, self.align)
    }
}

/// Lays `fields` out as a C compiler does on amd64/arm64.
pub(crate) fn c_layout(fields: &[Field]) -> Layout {
    let mut at = 0usize;
    let mut align = 1usize;
    let mut out = Vec::with_capacity(fields.len());
    for &(name, size, a) in fields {
        at = at.next_multiple_of(a);
        out.push((name, at));
        at += size;
        align = align.max(a);
    }
    Layout {
        fields: out,
        size: at.next_multiple_of(align),
        align,
    }
}

/// `nv_pci_info_t`.
pub(crate) fn pci_info() -> Layout {
    c_layout(&[
        f("domain", U32),
        f("bus", U8),
        f("slot", U8),
        f("function", U8),
        f("vendor_id", U16),
        f("device_id", U16),
    ])
}

/// `nv_ioctl_card_info_t`.
pub(crate) fn card_info() -> Layout {
    c_layout(&[
        f("valid", U8),
        pci_info().nested("pci_info"),
        f("gpu_id", U32),
        f("interrupt_line", U16),
        f("reg_address", U64),
        f("reg_size", U64),
        f("fb_address", U64),
        f("fb_size", U64),
        f("minor_number", U32),
        array("dev_name", U8, 10),
    ])
}

/// `nv_ioctl_rm_api_version_t`.
pub(crate) fn rm_api_version() -> Layout {
    c_layout(&[
        f("cmd", U32),
        f("reply", U32),
        array("versionString", U8, RM_API_VERSION_STRING_LENGTH),
    ])
}

/// `NV0080_ALLOC_PARAMETERS`.
pub(crate) fn nv0080_alloc() -> Layout {
    c_layout(&[
        f("deviceId", U32),
        f("hClientShare", U32),
        f("hTargetClient", U32),
        f("hTargetDevice", U32),
        f("flags", U32),
        f("vaSpaceSize", U64),
        f("vaStartInternal", U64),
        f("vaLimitInternal", U64),
        f("vaMode", U32),
    ])
}

/// `NV2080_ALLOC_PARAMETERS`.
pub(crate) fn nv2080_alloc() -> Layout {
    c_layout(&[f("subDeviceId", U32)])
}

/// `NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS`.
pub(crate) fn id_info_v2() -> Layout {
    c_layout(&[
        f("gpuId", U32),
        f("gpuFlags", U32),
        f("deviceInstance", U32),
        f("subDeviceInstance", U32),
        f("sliStatus", U32),
        f("boardId", U32),
        f("gpuInstance", U32),
        f("numaId", U32),
    ])
}

/// `NV2080_GPU_MAX_NAME_STRING_LENGTH`.
pub(crate) const MAX_NAME_STRING_LENGTH: usize = 0x40;

/// `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS`: the union is as large as its `NvU16` array.
pub(crate) fn name_string() -> Layout {
    let union = c_layout(&[array("unicode", U16, MAX_NAME_STRING_LENGTH)]);
    c_layout(&[f("gpuNameStringFlags", U32), union.nested("gpuNameString")])
}

/// `NV2080_GPU_MAX_GID_LENGTH`.
pub(crate) const MAX_GID_LENGTH: usize = 0x100;

/// `NV2080_CTRL_GPU_GET_GID_INFO_PARAMS`.
pub(crate) fn gid_info() -> Layout {
    c_layout(&[
        f("index", U32),
        f("flags", U32),
        f("length", U32),
        array("data", U8, MAX_GID_LENGTH),
    ])
}

/// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` for a driver whose `NV2080_CTRL_FB_INFO_MAX_LIST_SIZE`
/// is `max`.
pub(crate) fn fb_info_v2(max: usize) -> Layout {
    let entry = c_layout(&[f("index", U32), f("data", U32)]);
    c_layout(&[
        f("fbInfoListSize", U32),
        ("fbInfoList", entry.size * max, entry.align),
    ])
}

/// Field access in the machine's byte order for blocks the simulation checked the size of.
pub(crate) fn get_u32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

/// Writes `v` at `off` (ignored past the end).
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_ne_bytes());
    }
}

/// Writes `v` at `off` (ignored past the end).
pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_ne_bytes());
    }
}

/// The NUL-terminated text at the start of `b`.
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Copies `text` into `dst` with a terminating NUL, cut to fit.
pub(crate) fn put_c_str(dst: &mut [u8], text: &[u8]) {
    let n = text.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&text[..n]);
    dst[n..].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes the headers' own users state (`static_assert`s in NVIDIA's and others' code,
    /// and the sizes measured on 580.159.04 when nvgpu first ran): the C rules above must give
    /// them from the field lists.
    #[test]
    fn layouts_follow_the_c_rules() {
        assert_eq!((pci_info().size, pci_info().off("vendor_id")), (12, 8));
        let c = card_info();
        assert_eq!(c.size, 72);
        assert_eq!(c.off("pci_info"), 4);
        assert_eq!(c.off("gpu_id"), 16);
        assert_eq!(c.off("reg_address"), 24, "NV_ALIGN_BYTES(8) after a u16");
        assert_eq!(c.off("minor_number"), 56);
        assert_eq!(rm_api_version().size, 72);
        assert_eq!(nv0080_alloc().size, 56, "padded to 8 after vaMode");
        assert_eq!(nv0080_alloc().off("vaSpaceSize"), 24);
        assert_eq!(nv2080_alloc().size, 4);
        assert_eq!(id_info_v2().size, 32);
        assert_eq!(name_string().size, 132);
        assert_eq!(gid_info().size, 268);
        assert_eq!(fb_info_v2(0x80).size, 4 + 8 * 0x80);
    }

    #[test]
    fn control_ids_are_class_interface_message() {
        assert_eq!(ctrl::GPU_GET_ID_INFO_V2, 0x205);
        assert_eq!(ctrl::GPU_GET_NAME_STRING, 0x2080_0110);
        assert_eq!(ctrl::GPU_GET_GID_INFO, 0x2080_014a);
        assert_eq!(ctrl::FB_GET_INFO_V2, 0x2080_1303);
        assert_eq!((esc::CARD_INFO, esc::CHECK_VERSION_STR), (200, 210));
    }

    /// Two transcriptions of the same headers, made apart: hostsim's here, nvgpu's codec. They
    /// must agree; if they do not, one of them misread NVIDIA's header (and nvgpu's was
    /// checked against the real driver).
    #[test]
    fn this_reading_agrees_with_nvgpus() {
        use nvgpu::codec as n;
        assert_eq!(card_info().size, n::CARD_INFO_SIZE);
        assert_eq!(rm_api_version().size, n::RM_API_VERSION_SIZE);
        assert_eq!(nv0080_alloc().size, std::mem::size_of::<n::Nv0080Alloc>());
        assert_eq!(nv2080_alloc().size, n::SUBDEVICE_ALLOC_SIZE);
        assert_eq!(id_info_v2().size, n::ID_INFO_V2_SIZE);
        assert_eq!(name_string().size, n::NAME_STRING_SIZE);
        assert_eq!(gid_info().size, n::GID_INFO_SIZE);
        assert_eq!(MAX_DEVICES, n::NV_MAX_DEVICES);
        assert_eq!(esc::CARD_INFO, n::esc::CARD_INFO);
        assert_eq!(esc::CHECK_VERSION_STR, n::esc::CHECK_VERSION_STR);
        assert_eq!(class::ROOT_CLIENT, n::class::NV01_ROOT_CLIENT);
        assert_eq!(class::DEVICE_0, n::class::NV01_DEVICE_0);
        assert_eq!(class::SUBDEVICE_0, n::class::NV20_SUBDEVICE_0);
        assert_eq!(ctrl::GPU_GET_ID_INFO_V2, n::ctrl::GPU_GET_ID_INFO_V2);
        assert_eq!(ctrl::GPU_GET_NAME_STRING, n::ctrl::GPU_GET_NAME_STRING);
        assert_eq!(ctrl::GPU_GET_GID_INFO, n::ctrl::GPU_GET_GID_INFO);
        assert_eq!(ctrl::FB_GET_INFO_V2, n::ctrl::FB_GET_INFO_V2);
        assert_eq!(VERSION_CMD_QUERY, n::RM_API_VERSION_CMD_QUERY);
        assert_eq!(
            status::INVALID_PARAM_STRUCT,
            n::NvStatus::INVALID_PARAM_STRUCT.0
        );
        for (max, nv) in [(0x36, 0x36), (0x39, 0x39), (0x80, 0x80)] {
            assert!(n::FB_INFO_MAX_LIST_SIZES.contains(&nv));
            assert_eq!(fb_info_v2(max).size, 4 + 8 * nv);
        }
        let c = card_info();
        let one = n::CardInfo {
            valid: 1,
            gpu_id: 0x0102_0304,
            minor_number: 7,
            pci_info: n::PciInfo {
                bus: 0x65,
                vendor_id: 0x10de,
                device_id: 0x2330,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut b = vec![0u8; c.size];
        n::encode_card_info(&[one], &mut b);
        assert_eq!(get_u32(&b, c.off("gpu_id")), 0x0102_0304);
        assert_eq!(get_u32(&b, c.off("minor_number")), 7);
        let p = c.off("pci_info");
        assert_eq!(b[p + pci_info().off("bus")], 0x65);
        assert_eq!(
            u16::from_le_bytes([
                b[p + pci_info().off("device_id")],
                b[p + pci_info().off("device_id") + 1]
            ]),
            0x2330
        );
    }
}
