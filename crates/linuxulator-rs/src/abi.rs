//! The numbers this crate hard-codes, for the ABI conformance harness.

use crate::mount::{MountFlags, MFSNAMELEN, MNAMELEN};
use crate::sysctl::{SysctlKind, CTLTYPE};
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// `ELFOSABI_LINUX`, the value for `kern.elf64.fallback_brand` that runs unbranded Linux ELF files.
pub const ELFOSABI_LINUX: u64 = 3;

/// `MNT_*` flags, mount name lengths, ELF brand, the `CTLTYPE_*` numbers [`SysctlKind`] decodes.
pub fn abi_facts() -> Vec<AbiSet> {
    use SysctlKind as K;
    let kinds = [
        ("CTLTYPE_INT", K::Int),
        ("CTLTYPE_STRING", K::String),
        ("CTLTYPE_S64", K::S64),
        ("CTLTYPE_UINT", K::UInt),
        ("CTLTYPE_LONG", K::Long),
        ("CTLTYPE_ULONG", K::ULong),
        ("CTLTYPE_U64", K::U64),
        ("CTLTYPE_U8", K::U8),
        ("CTLTYPE_U16", K::U16),
        ("CTLTYPE_S8", K::S8),
        ("CTLTYPE_S16", K::S16),
        ("CTLTYPE_S32", K::S32),
        ("CTLTYPE_U32", K::U32),
    ];
    vec![AbiSet::new(
        "linuxulator",
        CTarget::FreeBsd,
        &[
            "sys/param.h",
            "sys/mount.h",
            "sys/elf_common.h",
            "sys/sysctl.h",
            "fcntl.h",
        ],
    )
    .facts(
        kinds
            .into_iter()
            .map(|(c, k)| AbiFact::value(c, u64::from(k.code()))),
    )
    .facts([
        AbiFact::value("CTLTYPE", u64::from(CTLTYPE)),
        AbiFact::value("MNT_RDONLY", u64::from(MountFlags::RDONLY.bits())),
        AbiFact::value("MNT_NOEXEC", u64::from(MountFlags::NOEXEC.bits())),
        AbiFact::value("MNT_NOSUID", u64::from(MountFlags::NOSUID.bits())),
        AbiFact::value("MNT_UPDATE", u64::from(MountFlags::UPDATE.bits())),
        AbiFact::value("MNT_FORCE", u64::from(MountFlags::FORCE.bits())),
        AbiFact::value("MNT_IGNORE", u64::from(MountFlags::IGNORE.bits())),
        AbiFact::value("MNAMELEN", MNAMELEN as u64),
        AbiFact::value("MFSNAMELEN", MFSNAMELEN as u64),
        AbiFact::value("ELFOSABI_LINUX", ELFOSABI_LINUX),
    ])]
}
