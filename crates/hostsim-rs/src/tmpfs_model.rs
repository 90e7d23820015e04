//! How FreeBSD's tmpfs reads its mount options: what a `size=` or `mode=` given to nmount(2)
//! really becomes. Nothing here comes from linuxulator-rs or cudajail.
//!
//! Source: FreeBSD 14 `sys/fs/tmpfs/tmpfs_vfsops.c` (`tmpfs_mount`, `tmpfs_opts`) and
//! `sys/kern/vfs_mount.c` (`vfs_getopt_size`, `vfs_scanopt`). The rules that matter to a caller:
//!
//! - A `size` the kernel cannot read is **not an error**: `vfs_getopt_size` fails, `tmpfs_mount`
//!   sets the limit to 0, and 0 means no limit. Read by `strtoq(…, 0)` (so `0512` is octal and
//!   `0x10` hex), then at most one suffix letter (`k`, `m`, `g`, `t`, either case; each a factor
//!   of 1024 on the one after it); anything else after the number, a negative number or an
//!   empty value fails. A limit is rounded up to whole pages.
//! - A `mode` is read by `vfs_scanopt(…, "%ho")`: `sscanf` octal, trailing text ignored; when no
//!   digit is read the root takes the mode of the directory it covers. The result is cut to
//!   `ALLPERMS` (07777).
//! - A devfs directory, such as the `shm` the Linux ABI makes in every devfs, has mode 0555
//!   (`devfs_vmkdir`, `sys/fs/devfs/devfs_devs.c`): a tmpfs on `/dev/shm` without a readable
//!   `mode` is not writable by anyone but root.

/// `PAGE_SIZE` on amd64 and arm64.
const PAGE_SIZE: i64 = 4096;
/// `ALLPERMS`.
const ALLPERMS: u32 = 0o7777;

/// What a tmpfs mount was really given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TmpfsRoot {
    /// The size limit in bytes, `None` when there is none (no `size`, `0`, or a value the
    /// kernel could not read).
    pub size_limit: Option<u64>,
    /// The root directory's mode.
    pub mode: u32,
}

impl TmpfsRoot {
    /// What FreeBSD's `tmpfs_mount` makes of `options` on a directory of mode `covered_mode`
    /// (mounted by root): the model the simulated `nmount` records.
    #[must_use]
    pub fn of(options: &[(String, Option<String>)], covered_mode: u32) -> TmpfsRoot {
        mount_root(options, covered_mode)
    }
}

/// `isspace` in the C locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtoq` and `sscanf`'s `%o` skip before the digits: C blanks, then one sign.
/// Returns where the digits start and whether the sign was `-`.
fn space_and_sign(s: &[u8]) -> (usize, bool) {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    match s.get(i) {
        Some(b'-') => (i + 1, true),
        Some(b'+') => (i + 1, false),
        _ => (i, false),
    }
}

/// `strtoq(s, &end, 0)`: the value (clamped at the `quad_t` limits as strtoq does) and the
/// number of bytes read; `None` when no digit was read (`end == s`).
fn strtoq0(s: &[u8]) -> Option<(i64, usize)> {
    let (mut i, neg) = space_and_sign(s);
    let mut base = 10u32;
    if s.get(i) == Some(&b'0') {
        let hex = matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if hex {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let start = i;
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        v = (v * i128::from(base) + i128::from(d)).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if neg { -v } else { v };
    Some((
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        i,
    ))
}

/// `vfs_getopt_size` on an option value (without its NUL): `None` where it returns `EINVAL`.
pub(crate) fn getopt_size(value: &str) -> Option<i64> {
    let b = value.as_bytes();
    if b.is_empty() || b.contains(&0) {
        return None;
    }
    let (mut iv, end) = strtoq0(b)?;
    let rest = &b[end..];
    if rest.len() > 1 || iv < 0 {
        return None;
    }
    let shifts = match rest.first() {
        None => 0,
        Some(b'k' | b'K') => 1,
        Some(b'm' | b'M') => 2,
        Some(b'g' | b'G') => 3,
        Some(b't' | b'T') => 4,
        Some(_) => return None,
    };
    for _ in 0..shifts {
        // C's signed overflow; two's complement in practice.
        iv = iv.wrapping_mul(1024);
    }
    Some(iv)
}

/// `vfs_scanopt(opts, "mode", "%ho", …) == 1`: the octal number `sscanf` reads, as an
/// unsigned short.
pub(crate) fn scan_mode(value: &str) -> Option<u16> {
    let b = value.as_bytes();
    let (mut i, neg) = space_and_sign(b);
    let start = i;
    let mut v: u64 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(8)) {
        v = v.wrapping_mul(8).wrapping_add(u64::from(d));
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if neg { v.wrapping_neg() } else { v };
    Some(v as u16)
}

/// The tmpfs root `tmpfs_mount` makes from `options` (first of each name wins, as
/// `vfs_getopt` finds it) on a directory of mode `covered_mode`, mounted by root.
pub(crate) fn mount_root(options: &[(String, Option<String>)], covered_mode: u32) -> TmpfsRoot {
    let get = |name: &str| {
        options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let size_max = get("size").and_then(|v| getopt_size(&v)).unwrap_or(0);
    let size_limit = if size_max <= 0 || size_max > i64::MAX - PAGE_SIZE {
        None
    } else {
        Some((size_max as u64).next_multiple_of(PAGE_SIZE as u64))
    };
    let mode = get("mode")
        .and_then(|v| scan_mode(&v))
        .map_or(covered_mode, u32::from);
    TmpfsRoot {
        size_limit,
        mode: mode & ALLPERMS,
    }
}

/// `devfs_vmkdir`'s mode for a devfs directory.
pub(crate) const DEVFS_DIR_MODE: u32 = 0o555;

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    #[test]
    fn sizes_as_vfs_getopt_size_reads_them() {
        let m = 1 << 20;
        for (v, want) in [
            ("1g", Some(1 << 30)),
            ("512m", Some(512 * m)),
            ("512M", Some(512 * m)),
            ("2t", Some(2 << 40)),
            ("4096", Some(4096)),
            ("0x10k", Some(16 * 1024)),
            ("0512m", Some(0o512 * m)),
            (" 8k", Some(8192)),
            ("+8k", Some(8192)),
            ("512mm", None),
            ("512mb", None),
            ("1.5g", None),
            ("m", None),
            ("", None),
            ("-1", None),
            ("1p", None),
            ("08", None),
            ("0xk", None),
        ] {
            assert_eq!(getopt_size(v), want, "{v:?}");
        }
    }

    #[test]
    fn modes_as_sscanf_reads_them() {
        for (v, want) in [
            ("1777", Some(0o1777)),
            ("01777", Some(0o1777)),
            ("755 ", Some(0o755)),
            ("17779", Some(0o1777)),
            ("0o1777", Some(0)),
            ("rwx", None),
            ("", None),
            ("9", None),
        ] {
            assert_eq!(scan_mode(v), want, "{v:?}");
        }
    }

    /// The rule that hides mistakes: a size the kernel cannot read is no limit, a mode it
    /// cannot read is the covered directory's.
    #[test]
    fn unreadable_values_are_silently_defaults() {
        let r = mount_root(&opts(&[("mode", "1777"), ("size", "1g")]), DEVFS_DIR_MODE);
        assert_eq!(
            r,
            TmpfsRoot {
                size_limit: Some(1 << 30),
                mode: 0o1777
            }
        );
        let r = mount_root(
            &opts(&[("mode", "a+rwxt"), ("size", "1gb")]),
            DEVFS_DIR_MODE,
        );
        assert_eq!(
            r,
            TmpfsRoot {
                size_limit: None,
                mode: 0o555
            }
        );
        assert_eq!(mount_root(&opts(&[("size", "0")]), 0o755).size_limit, None);
        assert_eq!(
            mount_root(&opts(&[("size", "1")]), 0o755).size_limit,
            Some(4096)
        );
        assert_eq!(mount_root(&opts(&[("mode", "41777")]), 0o755).mode, 0o1777);
    }
}
