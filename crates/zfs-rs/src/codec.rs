//! The one ZFS ioctl we may issue ourselves: `ZFS_IOC_JAIL` (pure numbers).

use sysabi::ioc;

/// `ZFS_IOC_FIRST` on FreeBSD: 0. OpenZFS's `include/sys/fs/zfs.h` starts the `zfs_ioc`
/// enum at 0 under `#ifdef __FreeBSD__` (libzfs_core wraps each number in `_IOWR('Z', …)`).
pub const ZFS_IOC_FIRST_FREEBSD: u32 = 0;
/// `ZFS_IOC_FIRST` on Linux: `'Z' << 8` (the enum value is the request number itself there).
pub const ZFS_IOC_FIRST_LINUX: u32 = (b'Z' as u32) << 8;
/// How far the platform ioctls start after `ZFS_IOC_FIRST`.
pub const ZFS_IOC_PLATFORM_OFFSET: u32 = 0x80;
/// `ZFS_IOC_PLATFORM` on FreeBSD.
pub const ZFS_IOC_PLATFORM: u32 = ZFS_IOC_FIRST_FREEBSD + ZFS_IOC_PLATFORM_OFFSET;
/// `ZFS_IOC_JAIL` (OpenZFS on FreeBSD 13+): `0x85`. (Linux has `ZFS_IOC_USERNS_ATTACH` at the
/// same offset, `0x5a85`.)
pub const ZFS_IOC_JAIL: u32 = ZFS_IOC_PLATFORM + 5;
/// `ZFS_IOC_UNJAIL`.
pub const ZFS_IOC_UNJAIL: u32 = ZFS_IOC_PLATFORM + 6;
/// `ZFS_IOCVER_OZFS`: the version in [`ZfsIocParm`].
pub const ZFS_IOCVER_OZFS: u32 = 15;

/// `zfs_iocparm_t`: what FreeBSD's libzfs_core passes to `/dev/zfs`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZfsIocParm {
    /// `zfs_ioctl_version` = [`ZFS_IOCVER_OZFS`].
    pub version: u32,
    /// Pointer to a `zfs_cmd_t`.
    pub cmd: u64,
    /// `sizeof(zfs_cmd_t)` of the running OpenZFS.
    pub cmd_size: u64,
}

/// The request number FreeBSD's libzfs_core sends for a ZFS ioctl: `_IOWR('Z', ioc & 0xff, zfs_iocparm_t)`.
pub const fn freebsd_request(zfs_ioc: u32) -> u32 {
    ioc::bsd_iowr(
        b'Z',
        (zfs_ioc & 0xff) as u8,
        std::mem::size_of::<ZfsIocParm>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn jail_numbers() {
        assert_eq!(ZFS_IOC_JAIL, 0x85);
        assert_eq!(freebsd_request(ZFS_IOC_JAIL), 0xC018_5A85);
        assert_eq!(freebsd_request(ZFS_IOC_UNJAIL), 0xC018_5A86);
    }
}
