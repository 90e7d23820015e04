//! The numbers this crate hard-codes, for the ABI conformance harness.

use crate::mount::{MountFlags, MFSNAMELEN, MNAMELEN};
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// `ELFOSABI_LINUX`, the value for `kern.elf64.fallback_brand` that runs unbranded Linux ELF files.
pub const ELFOSABI_LINUX: u64 = 3;

/// `MNT_*` flags, mount name lengths, ELF brand.
pub fn abi_facts() -> Vec<AbiSet> {
    vec![AbiSet::new(
        "linuxulator",
        CTarget::FreeBsd,
        &["sys/param.h", "sys/mount.h", "sys/elf_common.h"],
    )
    .facts([
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
