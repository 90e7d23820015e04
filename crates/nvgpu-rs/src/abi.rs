//! The numbers this crate hard-codes, checked against C declarations we wrote from NVIDIA's
//! published layouts (these structs are in no FreeBSD header).

use crate::codec::*;
use std::mem::offset_of;
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// Our C transcription of the published layouts (types only, from abi-facts §5.4).
const C_DECLS: &str = r#"
#include <stdint.h>
#include <sys/ioccom.h>
typedef uint8_t NvU8; typedef uint16_t NvU16; typedef uint32_t NvU32; typedef uint64_t NvU64;
typedef uint32_t NvHandle; typedef NvU64 NvP64 __attribute__((aligned(8)));
typedef struct { NvU32 domain; NvU8 bus; NvU8 slot; NvU8 function; NvU16 vendor_id; NvU16 device_id; } nv_pci_info_t;
typedef struct { NvU8 valid; nv_pci_info_t pci_info; NvU32 gpu_id; NvU16 interrupt_line;
  NvU64 reg_address __attribute__((aligned(8))); NvU64 reg_size __attribute__((aligned(8)));
  NvU64 fb_address __attribute__((aligned(8))); NvU64 fb_size __attribute__((aligned(8)));
  NvU32 minor_number; NvU8 dev_name[10]; } nv_ioctl_card_info_t;
typedef struct { NvU32 cmd; NvU32 reply; char versionString[64]; } nv_ioctl_rm_api_version_t;
typedef struct { NvU32 cmd; NvU32 size; NvP64 ptr; } nv_ioctl_xfer_t;
typedef struct { NvHandle hRoot; NvHandle hObjectParent; NvHandle hObjectOld; NvU32 status; } NVOS00_PARAMETERS;
typedef struct { NvHandle hRoot; NvHandle hObjectParent; NvHandle hObjectNew; NvU32 hClass;
  NvP64 pAllocParms; NvU32 paramsSize; NvU32 status; } NVOS21_PARAMETERS;
typedef struct { NvHandle hRoot; NvHandle hObjectParent; NvHandle hObjectNew; NvU32 hClass;
  NvP64 pAllocParms; NvP64 pRightsRequested; NvU32 paramsSize; NvU32 flags; NvU32 status; } NVOS64_PARAMETERS;
typedef struct { NvHandle hClient; NvHandle hObject; NvU32 cmd; NvU32 flags; NvP64 params;
  NvU32 paramsSize; NvU32 status; } NVOS54_PARAMETERS;
typedef struct { NvU32 deviceId; NvHandle hClientShare; NvHandle hTargetClient; NvHandle hTargetDevice;
  NvU32 flags; NvU64 vaSpaceSize __attribute__((aligned(8))); NvU64 vaStartInternal __attribute__((aligned(8)));
  NvU64 vaLimitInternal __attribute__((aligned(8))); NvU32 vaMode; } NV0080_ALLOC_PARAMETERS;
#define NV_IOCTL_MAGIC 'F'
#define NV_IOCTL_BASE 200
#define NV_ESC_CARD_INFO (NV_IOCTL_BASE + 0)
#define NV_ESC_CHECK_VERSION_STR (NV_IOCTL_BASE + 10)
#define NV_ESC_IOCTL_XFER_CMD (NV_IOCTL_BASE + 11)
#define NV_ESC_RM_FREE 0x29
#define NV_ESC_RM_CONTROL 0x2A
#define NV_ESC_RM_ALLOC 0x2B
"#;

/// The NVIDIA structs field by field and the request numbers, on FreeBSD and Linux.
pub fn abi_facts() -> Vec<AbiSet> {
    let mut facts = vec![
        AbiFact::size::<PciInfo>("nv_pci_info_t"),
        AbiFact::offset("nv_pci_info_t", "bus", offset_of!(PciInfo, bus)),
        AbiFact::offset("nv_pci_info_t", "function", offset_of!(PciInfo, function)),
        AbiFact::offset("nv_pci_info_t", "vendor_id", offset_of!(PciInfo, vendor_id)),
        AbiFact::offset("nv_pci_info_t", "device_id", offset_of!(PciInfo, device_id)),
        AbiFact::size::<CardInfo>("nv_ioctl_card_info_t"),
        AbiFact::align::<CardInfo>("nv_ioctl_card_info_t"),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "pci_info",
            offset_of!(CardInfo, pci_info),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "gpu_id",
            offset_of!(CardInfo, gpu_id),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "interrupt_line",
            offset_of!(CardInfo, interrupt_line),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "reg_address",
            offset_of!(CardInfo, reg_address),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "fb_size",
            offset_of!(CardInfo, fb_size),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "minor_number",
            offset_of!(CardInfo, minor_number),
        ),
        AbiFact::offset(
            "nv_ioctl_card_info_t",
            "dev_name",
            offset_of!(CardInfo, dev_name),
        ),
        AbiFact::size::<RmApiVersion>("nv_ioctl_rm_api_version_t"),
        AbiFact::offset(
            "nv_ioctl_rm_api_version_t",
            "versionString",
            offset_of!(RmApiVersion, version_string),
        ),
        AbiFact::size::<Xfer>("nv_ioctl_xfer_t"),
        AbiFact::offset("nv_ioctl_xfer_t", "ptr", offset_of!(Xfer, ptr)),
        AbiFact::size::<Nvos00>("NVOS00_PARAMETERS"),
        AbiFact::offset("NVOS00_PARAMETERS", "status", offset_of!(Nvos00, status)),
        AbiFact::size::<Nvos21>("NVOS21_PARAMETERS"),
        AbiFact::offset(
            "NVOS21_PARAMETERS",
            "pAllocParms",
            offset_of!(Nvos21, p_alloc_parms),
        ),
        AbiFact::offset("NVOS21_PARAMETERS", "status", offset_of!(Nvos21, status)),
        AbiFact::size::<Nvos64>("NVOS64_PARAMETERS"),
        AbiFact::offset(
            "NVOS64_PARAMETERS",
            "paramsSize",
            offset_of!(Nvos64, params_size),
        ),
        AbiFact::offset("NVOS64_PARAMETERS", "status", offset_of!(Nvos64, status)),
        AbiFact::size::<Nvos54>("NVOS54_PARAMETERS"),
        AbiFact::offset("NVOS54_PARAMETERS", "params", offset_of!(Nvos54, params)),
        AbiFact::offset(
            "NVOS54_PARAMETERS",
            "paramsSize",
            offset_of!(Nvos54, params_size),
        ),
        AbiFact::offset("NVOS54_PARAMETERS", "status", offset_of!(Nvos54, status)),
        AbiFact::size::<Nv0080Alloc>("NV0080_ALLOC_PARAMETERS"),
        AbiFact::offset(
            "NV0080_ALLOC_PARAMETERS",
            "vaSpaceSize",
            offset_of!(Nv0080Alloc, va_space_size),
        ),
        AbiFact::offset(
            "NV0080_ALLOC_PARAMETERS",
            "vaMode",
            offset_of!(Nv0080Alloc, va_mode),
        ),
    ];
    let numbers = [
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_CARD_INFO, nv_ioctl_card_info_t[32])",
            ioctl::CARD_INFO,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_CHECK_VERSION_STR, nv_ioctl_rm_api_version_t)",
            ioctl::CHECK_VERSION_STR,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_IOCTL_XFER_CMD, nv_ioctl_xfer_t)",
            ioctl::IOCTL_XFER_CMD,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_RM_FREE, NVOS00_PARAMETERS)",
            ioctl::RM_FREE,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_RM_CONTROL, NVOS54_PARAMETERS)",
            ioctl::RM_CONTROL,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_RM_ALLOC, NVOS21_PARAMETERS)",
            ioctl::RM_ALLOC21,
        ),
        (
            "_IOWR(NV_IOCTL_MAGIC, NV_ESC_RM_ALLOC, NVOS64_PARAMETERS)",
            ioctl::RM_ALLOC64,
        ),
    ];
    facts.extend(
        numbers
            .iter()
            .map(|(c, v)| AbiFact::value(*c, u64::from(*v))),
    );
    let bsd = AbiSet::new("nvgpu", CTarget::FreeBsd, &["sys/types.h"])
        .decls(C_DECLS)
        .facts(facts.clone());
    // The same structs and numbers under Linux's _IOWR: one request number for both systems.
    let linux = AbiSet::new("nvgpu", CTarget::Linux, &["linux/ioctl.h"])
        .decls(&C_DECLS.replace("#include <sys/ioccom.h>", ""))
        .facts(facts);
    vec![bsd, linux]
}
