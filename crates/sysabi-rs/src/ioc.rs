//! ioctl request encoders for FreeBSD (`<sys/ioccom.h>`) and Linux (`<asm-generic/ioctl.h>`).
//!
//! The two systems pack the same four things (direction, group, number, parameter length) into a
//! 32-bit request, but differently:
//!
//! | | direction bits | length field |
//! |---|---|---|
//! | FreeBSD | `IOC_VOID` 0x2000_0000, `IOC_OUT` 0x4000_0000, `IOC_IN` 0x8000_0000 | 13 bits (bits 16..29), at most 8191 |
//! | Linux | `_IOC_WRITE` 1 << 30, `_IOC_READ` 2 << 30, none = 0 | 14 bits (bits 16..30), at most 16383 |
//!
//! FreeBSD's `IOC_IN` ("the caller writes in") and Linux's `_IOC_WRITE` sit on opposite bits, so
//! `_IOW`/`_IOR` come out mirrored, while `_IOWR` is bit-identical below 8192 bytes. That is why
//! NVIDIA, which only uses `_IOWR`, has one request number on both systems.
//!
//! The `const fn`s here panic (a compile error when used in a `const`) when a length does not fit;
//! the `try_` forms return `None` instead.
//!
//! # References
//! - [ioctl(2)](https://man.freebsd.org/cgi/man.cgi?query=ioctl&sektion=2), `sys/sys/ioccom.h`
//! - Linux `include/uapi/asm-generic/ioctl.h`

/// Direction of the data an ioctl moves, seen from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// No data (`_IO`).
    None,
    /// The kernel writes to the caller (`_IOR`).
    Read,
    /// The caller passes data to the kernel (`_IOW`).
    Write,
    /// Both (`_IOWR`).
    ReadWrite,
}

/// FreeBSD `IOCPARM_SHIFT`: number of bits of the parameter length.
pub const BSD_IOCPARM_SHIFT: u32 = 13;
/// FreeBSD `IOCPARM_MASK`.
pub const BSD_IOCPARM_MASK: u32 = (1 << BSD_IOCPARM_SHIFT) - 1;
/// FreeBSD `IOCPARM_MAX`: the largest encodable length plus one.
pub const BSD_IOCPARM_MAX: u32 = 1 << BSD_IOCPARM_SHIFT;
/// FreeBSD `IOC_VOID`: no parameters.
pub const BSD_IOC_VOID: u32 = 0x2000_0000;
/// FreeBSD `IOC_OUT`: copy parameters out to the caller.
pub const BSD_IOC_OUT: u32 = 0x4000_0000;
/// FreeBSD `IOC_IN`: copy parameters in from the caller.
pub const BSD_IOC_IN: u32 = 0x8000_0000;
/// FreeBSD `IOC_INOUT`.
pub const BSD_IOC_INOUT: u32 = BSD_IOC_IN | BSD_IOC_OUT;
/// FreeBSD `IOC_DIRMASK`.
pub const BSD_IOC_DIRMASK: u32 = BSD_IOC_VOID | BSD_IOC_OUT | BSD_IOC_IN;

/// Linux `_IOC_SIZEBITS`.
pub const LINUX_IOC_SIZEBITS: u32 = 14;
/// Linux `_IOC_WRITE` (already shifted into place).
pub const LINUX_IOC_WRITE: u32 = 1 << 30;
/// Linux `_IOC_READ` (already shifted into place).
pub const LINUX_IOC_READ: u32 = 2 << 30;
/// The largest length a Linux request can carry.
pub const LINUX_IOC_SIZE_MAX: u32 = (1 << LINUX_IOC_SIZEBITS) - 1;

const fn bsd_dir(dir: Dir) -> u32 {
    match dir {
        Dir::None => BSD_IOC_VOID,
        Dir::Read => BSD_IOC_OUT,
        Dir::Write => BSD_IOC_IN,
        Dir::ReadWrite => BSD_IOC_INOUT,
    }
}

const fn linux_dir(dir: Dir) -> u32 {
    match dir {
        Dir::None => 0,
        Dir::Read => LINUX_IOC_READ,
        Dir::Write => LINUX_IOC_WRITE,
        Dir::ReadWrite => LINUX_IOC_READ | LINUX_IOC_WRITE,
    }
}

/// FreeBSD `_IOC(inout, group, num, len)`, or `None` when `len` does not fit in 13 bits.
pub const fn try_bsd(dir: Dir, group: u8, num: u8, len: usize) -> Option<u32> {
    if len >= BSD_IOCPARM_MAX as usize {
        return None;
    }
    Some(bsd_dir(dir) | ((len as u32) << 16) | ((group as u32) << 8) | num as u32)
}

/// FreeBSD `_IOC(inout, group, num, len)`.
///
/// # Panics
/// When `len` is 8192 or more (FreeBSD's `IOCPARM_MAX`); in a `const` this is a compile error.
pub const fn bsd(dir: Dir, group: u8, num: u8, len: usize) -> u32 {
    match try_bsd(dir, group, num, len) {
        Some(v) => v,
        None => panic!("ioctl parameter too large for FreeBSD's 13-bit length"),
    }
}

/// FreeBSD `_IO(g, n)`.
pub const fn bsd_io(group: u8, num: u8) -> u32 {
    bsd(Dir::None, group, num, 0)
}
/// FreeBSD `_IOR(g, n, t)` with `len = sizeof(t)`.
pub const fn bsd_ior(group: u8, num: u8, len: usize) -> u32 {
    bsd(Dir::Read, group, num, len)
}
/// FreeBSD `_IOW(g, n, t)` with `len = sizeof(t)`.
pub const fn bsd_iow(group: u8, num: u8, len: usize) -> u32 {
    bsd(Dir::Write, group, num, len)
}
/// FreeBSD `_IOWR(g, n, t)` with `len = sizeof(t)`.
pub const fn bsd_iowr(group: u8, num: u8, len: usize) -> u32 {
    bsd(Dir::ReadWrite, group, num, len)
}

/// Linux `_IOC(dir, type, nr, size)`, or `None` when `size` does not fit in 14 bits.
pub const fn try_linux(dir: Dir, group: u8, num: u8, len: usize) -> Option<u32> {
    if len > LINUX_IOC_SIZE_MAX as usize {
        return None;
    }
    Some(linux_dir(dir) | ((len as u32) << 16) | ((group as u32) << 8) | num as u32)
}

/// Linux `_IOC(dir, type, nr, size)`.
///
/// # Panics
/// When `len` is over 16383; in a `const` this is a compile error.
pub const fn linux(dir: Dir, group: u8, num: u8, len: usize) -> u32 {
    match try_linux(dir, group, num, len) {
        Some(v) => v,
        None => panic!("ioctl parameter too large for Linux's 14-bit size"),
    }
}

/// Linux `_IOWR(type, nr, t)` with `len = sizeof(t)`.
pub const fn linux_iowr(group: u8, num: u8, len: usize) -> u32 {
    linux(Dir::ReadWrite, group, num, len)
}

/// The four fields of a request, as [`decode_bsd`] or [`decode_linux`] read them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request {
    /// Direction.
    pub dir: Dir,
    /// Group (`type` on Linux), e.g. `b'D'` for devfs, `b'F'` for NVIDIA.
    pub group: u8,
    /// Command number within the group.
    pub num: u8,
    /// Parameter length in bytes.
    pub len: usize,
}

/// Splits a FreeBSD request into its fields; `None` for a direction FreeBSD never encodes
/// (no bits, or `IOC_VOID` together with `IOC_IN`/`IOC_OUT`).
pub const fn decode_bsd(cmd: u32) -> Option<Request> {
    let dir = match cmd & BSD_IOC_DIRMASK {
        BSD_IOC_VOID => Dir::None,
        BSD_IOC_OUT => Dir::Read,
        BSD_IOC_IN => Dir::Write,
        BSD_IOC_INOUT => Dir::ReadWrite,
        _ => return None,
    };
    Some(Request {
        dir,
        group: ((cmd >> 8) & 0xff) as u8,
        num: (cmd & 0xff) as u8,
        len: ((cmd >> 16) & BSD_IOCPARM_MASK) as usize,
    })
}

/// Splits a Linux request into its fields.
pub const fn decode_linux(cmd: u32) -> Request {
    let dir = match cmd >> 30 {
        0 => Dir::None,
        1 => Dir::Write,
        2 => Dir::Read,
        _ => Dir::ReadWrite,
    };
    Request {
        dir,
        group: ((cmd >> 8) & 0xff) as u8,
        num: (cmd & 0xff) as u8,
        len: ((cmd >> 16) & LINUX_IOC_SIZE_MAX) as usize,
    }
}

/// Re-encodes a Linux request the way FreeBSD would number it (what the Linuxulator and
/// `nvidia_linux.c` do for Linux processes); `None` when its length does not fit FreeBSD's 13 bits.
pub const fn linux_to_bsd(cmd: u32) -> Option<u32> {
    let r = decode_linux(cmd);
    try_bsd(r.dir, r.group, r.num, r.len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn devfs_numbers_from_the_reference() {
        // abi-facts.md §2.2; the ABI harness checks the same against <fs/devfs/devfs.h>.
        assert_eq!(bsd_iowr(b'D', 0, 236), 0xC0EC_4400);
        assert_eq!(bsd_iow(b'D', 1, 4), 0x8004_4401);
        assert_eq!(bsd_iow(b'D', 10, 2), 0x8002_440A);
        assert_eq!(bsd_iowr(b'D', 12, 2), 0xC002_440C);
    }

    #[test]
    fn iow_is_mirrored_and_iowr_identical() {
        assert_eq!(bsd_iow(b'D', 1, 4), 0x8004_4401);
        assert_eq!(linux(Dir::Write, b'D', 1, 4), 0x4004_4401);
        assert_eq!(bsd_ior(b'D', 1, 4), 0x4004_4401);
        assert_eq!(linux(Dir::Read, b'D', 1, 4), 0x8004_4401);
        assert_eq!(bsd_iowr(b'F', 0xD2, 72), linux_iowr(b'F', 0xD2, 72));
        assert_eq!(bsd_iowr(b'F', 0xC8, 72 * 32), 0xC900_46C8);
        assert_eq!(bsd_io(b'x', 1), 0x2000_7801);
        assert_eq!(linux(Dir::None, b'x', 1, 0), 0x7801);
    }

    #[test]
    fn length_limits() {
        assert_eq!(
            try_bsd(Dir::ReadWrite, b'F', 1, 8191).map(|c| c >> 16 & 0x1fff),
            Some(8191)
        );
        assert_eq!(try_bsd(Dir::ReadWrite, b'F', 1, 8192), None);
        assert!(try_linux(Dir::ReadWrite, b'F', 1, 16383).is_some());
        assert_eq!(try_linux(Dir::ReadWrite, b'F', 1, 16384), None);
        // 8192..16383 fits Linux but not FreeBSD: the Linuxulator cannot pass it through.
        assert_eq!(linux_to_bsd(linux_iowr(b'F', 1, 9000)), None);
    }

    #[test]
    fn decode_rejects_impossible_bsd_directions() {
        assert_eq!(decode_bsd(0x0000_4401), None);
        assert_eq!(decode_bsd(BSD_IOC_VOID | BSD_IOC_IN | 0x4401), None);
    }

    fn dir() -> impl Strategy<Value = Dir> {
        prop_oneof![
            Just(Dir::None),
            Just(Dir::Read),
            Just(Dir::Write),
            Just(Dir::ReadWrite)
        ]
    }

    proptest! {
        #[test]
        fn bsd_round_trip(d in dir(), g: u8, n: u8, len in 0usize..8192) {
            let cmd = bsd(d, g, n, len);
            prop_assert_eq!(decode_bsd(cmd), Some(Request { dir: d, group: g, num: n, len }));
        }

        #[test]
        fn linux_round_trip_and_reencode(d in dir(), g: u8, n: u8, len in 0usize..16384) {
            let cmd = linux(d, g, n, len);
            prop_assert_eq!(decode_linux(cmd), Request { dir: d, group: g, num: n, len });
            let re = linux_to_bsd(cmd);
            if len < 8192 {
                prop_assert_eq!(re, Some(bsd(d, g, n, len)));
                if d == Dir::ReadWrite { prop_assert_eq!(re, Some(cmd)); }
            } else {
                prop_assert_eq!(re, None);
            }
        }

        #[test]
        fn decode_never_panics(cmd: u32) {
            let _ = decode_bsd(cmd);
            let _ = decode_linux(cmd);
            let _ = linux_to_bsd(cmd);
        }
    }
}
