//! The numbers this crate hard-codes, checked against our C declaration of `zfs_iocparm_t`
//! (not a FreeBSD base header) and `_IOWR` from `<sys/ioccom.h>`. The enum values themselves
//! are checked against OpenZFS's own `sys/fs/zfs.h` by `tests/openzfs_header.rs`.

use crate::codec::*;
use std::mem::offset_of;
use sysabi::abi::{AbiFact, AbiSet, CTarget};

const C_DECLS: &str = r#"
#include <stdint.h>
typedef struct { uint32_t zfs_ioctl_version; uint64_t zfs_cmd; uint64_t zfs_cmd_size; } zfs_iocparm_t;
#define ZFS_IOC_FIRST 0 /* FreeBSD: include/sys/fs/zfs.h, #ifdef __FreeBSD__ */
#define ZFS_IOC_PLATFORM (ZFS_IOC_FIRST + 0x80)
#define ZFS_IOC_JAIL (ZFS_IOC_PLATFORM + 5)
#define ZFS_IOC_UNJAIL (ZFS_IOC_PLATFORM + 6)
"#;

/// `zfs_iocparm_t` and the jail request numbers.
pub fn abi_facts() -> Vec<AbiSet> {
    vec![AbiSet::new(
        "zfs",
        CTarget::FreeBsd,
        &["sys/types.h", "sys/ioccom.h", "sys/param.h"],
    )
    .decls(C_DECLS)
    .facts([
        AbiFact::size::<ZfsIocParm>("zfs_iocparm_t"),
        AbiFact::offset("zfs_iocparm_t", "zfs_cmd", offset_of!(ZfsIocParm, cmd)),
        AbiFact::offset(
            "zfs_iocparm_t",
            "zfs_cmd_size",
            offset_of!(ZfsIocParm, cmd_size),
        ),
        AbiFact::value("ZFS_IOC_JAIL", u64::from(ZFS_IOC_JAIL)),
        AbiFact::value("ZFS_IOC_UNJAIL", u64::from(ZFS_IOC_UNJAIL)),
        AbiFact::value(
            "_IOWR('Z', ZFS_IOC_JAIL & 0xff, zfs_iocparm_t)",
            u64::from(freebsd_request(ZFS_IOC_JAIL)),
        ),
        AbiFact::value(
            "_IOWR('Z', ZFS_IOC_UNJAIL & 0xff, zfs_iocparm_t)",
            u64::from(freebsd_request(ZFS_IOC_UNJAIL)),
        ),
    ])]
}
