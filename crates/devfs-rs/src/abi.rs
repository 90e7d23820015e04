//! The numbers this crate hard-codes, for the ABI conformance harness.

use crate::codec::{self, ioctl, RawRule};
use crate::types::{DevType, RuleId, RulesetId, MAX_PATTERN_LEN};
use std::mem::offset_of;
use sysabi::abi::{AbiFact, AbiSet, CTarget};

/// `struct devfs_rule` field by field, every `DEVFSIO_*` number, and the rule constants.
pub fn abi_facts() -> Vec<AbiSet> {
    let s = "struct devfs_rule";
    let off = |f: &str, v: usize| AbiFact::offset(s, f, v);
    vec![AbiSet::new(
        "devfs",
        CTarget::FreeBsd,
        &[
            "sys/param.h",
            "sys/types.h",
            "sys/ioccom.h",
            "sys/conf.h",
            "fs/devfs/devfs.h",
        ],
    )
    .facts([
        AbiFact::size::<RawRule>(s),
        AbiFact::align::<RawRule>(s),
        off("dr_magic", offset_of!(RawRule, magic)),
        off("dr_id", offset_of!(RawRule, id)),
        off("dr_icond", offset_of!(RawRule, icond)),
        off("dr_dswflags", offset_of!(RawRule, dswflags)),
        off("dr_pathptrn", offset_of!(RawRule, pathptrn)),
        off("dr_iacts", offset_of!(RawRule, iacts)),
        off("dr_bacts", offset_of!(RawRule, bacts)),
        off("dr_uid", offset_of!(RawRule, uid)),
        off("dr_gid", offset_of!(RawRule, gid)),
        off("dr_mode", offset_of!(RawRule, mode)),
        off("dr_incset", offset_of!(RawRule, incset)),
        AbiFact::value("sizeof(((struct devfs_rule *)0)->dr_mode)", 2),
        AbiFact::value("DEVFS_MAGIC", u64::from(codec::DEVFS_MAGIC)),
        AbiFact::value("DEVFS_MAXPTRNLEN", MAX_PATTERN_LEN as u64),
        AbiFact::value("DRC_DSWFLAGS", codec::DRC_DSWFLAGS as u64),
        AbiFact::value("DRC_PATHPTRN", codec::DRC_PATHPTRN as u64),
        AbiFact::value("DRA_BACTS", codec::DRA_BACTS as u64),
        AbiFact::value("DRA_UID", codec::DRA_UID as u64),
        AbiFact::value("DRA_GID", codec::DRA_GID as u64),
        AbiFact::value("DRA_MODE", codec::DRA_MODE as u64),
        AbiFact::value("DRA_INCSET", codec::DRA_INCSET as u64),
        AbiFact::value("DRB_HIDE", codec::DRB_HIDE as u64),
        AbiFact::value("DRB_UNHIDE", codec::DRB_UNHIDE as u64),
        AbiFact::value("D_TAPE", DevType::Tape.flag() as u64),
        AbiFact::value("D_DISK", DevType::Disk.flag() as u64),
        AbiFact::value("D_TTY", DevType::Tty.flag() as u64),
        AbiFact::value("D_MEM", DevType::Mem.flag() as u64),
        AbiFact::value("DEVFSIO_RADD", u64::from(ioctl::DEVFSIO_RADD)),
        AbiFact::value("DEVFSIO_RDEL", u64::from(ioctl::DEVFSIO_RDEL)),
        AbiFact::value("DEVFSIO_RAPPLY", u64::from(ioctl::DEVFSIO_RAPPLY)),
        AbiFact::value("DEVFSIO_RAPPLYID", u64::from(ioctl::DEVFSIO_RAPPLYID)),
        AbiFact::value("DEVFSIO_RGETNEXT", u64::from(ioctl::DEVFSIO_RGETNEXT)),
        AbiFact::value("DEVFSIO_SUSE", u64::from(ioctl::DEVFSIO_SUSE)),
        AbiFact::value("DEVFSIO_SAPPLY", u64::from(ioctl::DEVFSIO_SAPPLY)),
        AbiFact::value("DEVFSIO_SGETNEXT", u64::from(ioctl::DEVFSIO_SGETNEXT)),
        AbiFact::named(
            "mkrid(3, 100)",
            "mkrid(3, 100)",
            u64::from(
                RuleId {
                    ruleset: RulesetId(3),
                    rule: 100,
                }
                .to_raw(),
            ),
        ),
        AbiFact::value("sizeof(devfs_rid)", 4),
        AbiFact::value("sizeof(devfs_rsnum)", 2),
    ])]
}
