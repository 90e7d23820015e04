//! sysctl values: the kernel's types (`CTLTYPE_*`) and their text form (pure).

use crate::error::{Error, Op, Result};
use sysabi::ErrorKind;

/// A sysctl's type, from the kind word `sysctl {0, 4, mib}` (`CTL_SYSCTL_OIDFMT`) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SysctlKind {
    /// `CTLTYPE_INT` (2).
    Int,
    /// `CTLTYPE_STRING` (3).
    String,
    /// `CTLTYPE_S64` (4).
    S64,
    /// `CTLTYPE_UINT` (6).
    UInt,
    /// `CTLTYPE_LONG` (7), 8 bytes on LP64.
    Long,
    /// `CTLTYPE_ULONG` (8).
    ULong,
    /// `CTLTYPE_U64` (9).
    U64,
    /// `CTLTYPE_U8` (0xa).
    U8,
    /// `CTLTYPE_U16` (0xb).
    U16,
    /// `CTLTYPE_S8` (0xc).
    S8,
    /// `CTLTYPE_S16` (0xd).
    S16,
    /// `CTLTYPE_S32` (0xe).
    S32,
    /// `CTLTYPE_U32` (0xf).
    U32,
    /// Nodes, structs and opaque values: not handled as text.
    Other(u32),
}

/// `CTLTYPE`: the type bits of the kind word.
pub const CTLTYPE: u32 = 0xf;

impl SysctlKind {
    /// From the kind word's low four bits.
    pub fn from_kind(kind: u32) -> SysctlKind {
        match kind & CTLTYPE {
            2 => SysctlKind::Int,
            3 => SysctlKind::String,
            4 => SysctlKind::S64,
            6 => SysctlKind::UInt,
            7 => SysctlKind::Long,
            8 => SysctlKind::ULong,
            9 => SysctlKind::U64,
            0xa => SysctlKind::U8,
            0xb => SysctlKind::U16,
            0xc => SysctlKind::S8,
            0xd => SysctlKind::S16,
            0xe => SysctlKind::S32,
            0xf => SysctlKind::U32,
            o => SysctlKind::Other(o),
        }
    }

    /// The `CTLTYPE_*` number of this kind (the inverse of [`SysctlKind::from_kind`]).
    pub fn code(self) -> u32 {
        match self {
            SysctlKind::Int => 2,
            SysctlKind::String => 3,
            SysctlKind::S64 => 4,
            SysctlKind::UInt => 6,
            SysctlKind::Long => 7,
            SysctlKind::ULong => 8,
            SysctlKind::U64 => 9,
            SysctlKind::U8 => 0xa,
            SysctlKind::U16 => 0xb,
            SysctlKind::S8 => 0xc,
            SysctlKind::S16 => 0xd,
            SysctlKind::S32 => 0xe,
            SysctlKind::U32 => 0xf,
            SysctlKind::Other(o) => o,
        }
    }

    fn width(self) -> Option<(usize, bool)> {
        Some(match self {
            SysctlKind::Int | SysctlKind::S32 => (4, true),
            SysctlKind::UInt | SysctlKind::U32 => (4, false),
            SysctlKind::S64 | SysctlKind::Long => (8, true),
            SysctlKind::U64 | SysctlKind::ULong => (8, false),
            SysctlKind::U8 => (1, false),
            SysctlKind::S8 => (1, true),
            SysctlKind::U16 => (2, false),
            SysctlKind::S16 => (2, true),
            SysctlKind::String | SysctlKind::Other(_) => return None,
        })
    }
}

fn bad(name: &str, m: String) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, m).subject(name)
}

/// The text form of a value as sysctl(8) prints it: integers in decimal, strings up to the NUL.
/// Arrays of integers (several values) are joined with spaces.
///
/// # Errors
/// [`ErrorKind::Unsupported`] for nodes and opaque values; [`ErrorKind::InvalidInput`] for a
/// length that is not a multiple of the type's width.
pub fn format_value(name: &str, kind: SysctlKind, raw: &[u8]) -> Result<String> {
    if kind == SysctlKind::String {
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        return Ok(String::from_utf8_lossy(&raw[..end]).into_owned());
    }
    let Some((w, signed)) = kind.width() else {
        return Err(Error::new(
            Op::SysctlGet,
            ErrorKind::Unsupported,
            format!("{kind:?} values have no text form"),
        )
        .subject(name));
    };
    if raw.len() % w != 0 || raw.is_empty() {
        return Err(bad(
            name,
            format!("{} bytes for a {w}-byte integer", raw.len()),
        ));
    }
    let vals: Vec<String> = raw
        .chunks_exact(w)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..w].copy_from_slice(c);
            let u = u64::from_le_bytes(b);
            if signed {
                let shift = 64 - 8 * w as u32;
                (((u << shift) as i64) >> shift).to_string()
            } else {
                u.to_string()
            }
        })
        .collect();
    Ok(vals.join(" "))
}

/// The bytes to write for `text` into a sysctl of `kind` (native byte order, little endian on
/// every FreeBSD target we support).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] for text that does not fit the type.
pub fn encode_value(name: &str, kind: SysctlKind, text: &str) -> Result<Vec<u8>> {
    if kind == SysctlKind::String {
        if text.contains('\0') {
            return Err(bad(name, "value contains a NUL byte".into()));
        }
        let mut v = text.as_bytes().to_vec();
        v.push(0);
        return Ok(v);
    }
    let Some((w, signed)) = kind.width() else {
        return Err(Error::new(
            Op::SysctlSet,
            ErrorKind::Unsupported,
            format!("{kind:?} values cannot be set as text"),
        )
        .subject(name));
    };
    let t = text.trim();
    let bits = 8 * w as u32;
    let v: u64 = if signed {
        let i: i64 = t
            .parse()
            .map_err(|_| bad(name, format!("{text:?} is not an integer")))?;
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << (bits - 1)) - 1;
        if (i as i128) < min || (i as i128) > max {
            return Err(bad(name, format!("{i} does not fit {bits} bits")));
        }
        i as u64
    } else {
        let u: u64 = t
            .parse()
            .map_err(|_| bad(name, format!("{text:?} is not an unsigned integer")))?;
        if bits < 64 && u >> bits != 0 {
            return Err(bad(name, format!("{u} does not fit {bits} bits")));
        }
        u
    };
    Ok(v.to_le_bytes()[..w].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_like_sysctl8() {
        assert_eq!(
            format_value("x", SysctlKind::Int, &(-1i32).to_le_bytes()).unwrap(),
            "-1"
        );
        assert_eq!(
            format_value("x", SysctlKind::String, b"Linux\0junk").unwrap(),
            "Linux"
        );
        assert_eq!(format_value("x", SysctlKind::U8, &[1, 2]).unwrap(), "1 2");
        assert!(format_value("x", SysctlKind::Int, &[1, 2, 3]).is_err());
        assert_eq!(
            format_value("x", SysctlKind::Other(1), &[])
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            encode_value("x", SysctlKind::Int, "3").unwrap(),
            3i32.to_le_bytes()
        );
        assert!(encode_value("x", SysctlKind::Int, "3000000000").is_err());
        assert!(encode_value("x", SysctlKind::UInt, "-1").is_err());
        assert!(encode_value("x", SysctlKind::Int, "three").is_err());
        assert_eq!(SysctlKind::from_kind(0x8000_0002), SysctlKind::Int);
        for c in 0..16 {
            assert_eq!(SysctlKind::from_kind(c).code(), c);
        }
    }

    fn kinds() -> impl Strategy<Value = SysctlKind> {
        (0u32..16).prop_map(SysctlKind::from_kind)
    }

    proptest! {
        #[test]
        fn never_panics(k in kinds(), raw in proptest::collection::vec(any::<u8>(), 0..20), t in "\\PC{0,24}") {
            let _ = format_value("x", k, &raw);
            let _ = encode_value("x", k, &t);
        }

        #[test]
        fn print_parse_round_trip(k in kinds(), raw in proptest::collection::vec(any::<u8>(), 1..9)) {
            if let Some((w, _)) = k.width() {
                let raw = &raw[..w.min(raw.len())];
                if raw.len() == w {
                    let text = format_value("x", k, raw).unwrap();
                    prop_assert_eq!(encode_value("x", k, &text).unwrap(), raw.to_vec());
                }
            }
        }
    }
}
