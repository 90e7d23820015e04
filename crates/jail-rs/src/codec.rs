//! The exact name/value list `jail_set(2)` expects, built from a [`JailSpec`] (pure).
//!
//! Each parameter becomes two iovecs: the name (NUL-terminated, length including the NUL) and
//! the value, encoded as libjail encodes the parameter's kernel type: 4-byte native-endian ints,
//! NUL-terminated strings, booleans as a name with no value (the `no` name for false), address
//! lists as packed network-order arrays. An `errmsg` pair is always appended by the caller's
//! `sys` layer.

use crate::error::{Error, Op, Result};
use crate::types::{check_value, JailFlags, JailSpec, ParamType, ParamValue};
use sysabi::ErrorKind;

/// One name/value pair as the kernel reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IovPair {
    /// NUL-terminated name.
    pub name: Vec<u8>,
    /// Value bytes; `None` is `iov_base = NULL, iov_len = 0` (booleans).
    pub value: Option<Vec<u8>>,
}

impl IovPair {
    fn new(name: &str, value: Option<Vec<u8>>) -> IovPair {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        IovPair { name: n, value }
    }
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Encodes one parameter, checking its value against the kernel type first.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] for unknown parameters, wrong types, out-of-range values,
/// over-long strings and interior NULs.
pub fn encode_param(name: &str, v: &ParamValue) -> Result<IovPair> {
    let def =
        check_value(name, v).map_err(|m| Error::new(Op::Validate, ErrorKind::InvalidInput, m))?;
    Ok(match (def.ty, v) {
        (ParamType::Bool, ParamValue::Bool(b)) => {
            let is_no_form = def.name != name;
            // Only the name's presence counts: send the `no` form to clear.
            let on = *b != is_no_form;
            IovPair::new(
                &if on {
                    def.name.to_string()
                } else {
                    no_name(def.name)
                },
                None,
            )
        }
        (ParamType::Int | ParamType::UInt, ParamValue::Int(i)) => {
            IovPair::new(name, Some((*i as i32).to_ne_bytes().to_vec()))
        }
        (ParamType::ULong, ParamValue::Int(i)) => {
            IovPair::new(name, Some((*i as u64).to_ne_bytes().to_vec()))
        }
        (ParamType::String(_), ParamValue::Str(s)) => IovPair::new(name, Some(cstr(s))),
        (ParamType::JailSys, ParamValue::Sys(s)) => {
            IovPair::new(name, Some((*s as i32).to_ne_bytes().to_vec()))
        }
        (ParamType::Ip4List, ParamValue::Ip4(a)) => {
            IovPair::new(name, Some(a.iter().flat_map(|ip| ip.octets()).collect()))
        }
        (ParamType::Ip6List, ParamValue::Ip6(a)) => {
            IovPair::new(name, Some(a.iter().flat_map(|ip| ip.octets()).collect()))
        }
        _ => unreachable!("check_value matched type and value"),
    })
}

/// `persist` → `nopersist`, `allow.mount.devfs` → `allow.mount.nodevfs`.
pub fn no_name(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((h, l)) => format!("{h}.no{l}"),
        None => format!("no{name}"),
    }
}

/// Encodes a whole spec for `jail_set(2)` with `JAIL_CREATE`: `name`, `path`, then the
/// parameters in order. Validates everything first; nothing is encoded on error.
///
/// # Errors
/// As [`JailSpec::validate`], and [`ErrorKind::InvalidInput`] when the jail could never be
/// created: without `persist` and without `JAIL_ATTACH` the kernel says "new jail must persist
/// or attach".
pub fn encode_create(spec: &JailSpec, flags: JailFlags) -> Result<Vec<IovPair>> {
    spec.validate()?;
    let persist = matches!(spec.get("persist"), Some(ParamValue::Bool(true)));
    if !persist && !flags.contains(JailFlags::ATTACH) {
        return Err(Error::new(
            Op::Create,
            ErrorKind::InvalidInput,
            "new jail must persist or attach (set persist, or create with JAIL_ATTACH)",
        )
        .subject(&spec.name));
    }
    let mut out = vec![
        IovPair::new("name", Some(cstr(spec.name.as_str()))),
        IovPair::new("path", Some(cstr(&spec.path))),
    ];
    for (n, v) in &spec.params {
        out.push(encode_param(n, v).map_err(|e| e.subject(&spec.name))?);
    }
    Ok(out)
}

/// Reads the kernel's `errmsg` buffer: the text up to the first NUL, `None` when empty.
pub fn errmsg(buf: &[u8]) -> Option<String> {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{JailName, JailSys};
    use std::net::Ipv4Addr;

    fn spec() -> JailSpec {
        JailSpec::new(JailName::new("cuda").unwrap(), "/j/cuda")
    }

    #[test]
    fn encodes_like_libjail() {
        let s = spec()
            .param("persist", ParamValue::Bool(true))
            .param("allow.raw_sockets", ParamValue::Bool(false))
            .param("enforce_statfs", ParamValue::Int(1))
            .param("linux", ParamValue::Sys(JailSys::New))
            .param(
                "ip4.addr",
                ParamValue::Ip4(vec![Ipv4Addr::new(10, 0, 0, 1)]),
            );
        let v = encode_create(&s, JailFlags::CREATE).unwrap();
        assert_eq!(
            v[0],
            IovPair {
                name: b"name\0".to_vec(),
                value: Some(b"cuda\0".to_vec())
            }
        );
        assert_eq!(v[1].value.as_deref(), Some(&b"/j/cuda\0"[..]));
        assert_eq!(
            v[2],
            IovPair {
                name: b"persist\0".to_vec(),
                value: None
            }
        );
        assert_eq!(
            v[3],
            IovPair {
                name: b"allow.noraw_sockets\0".to_vec(),
                value: None
            }
        );
        assert_eq!(v[4].value.as_deref(), Some(&1i32.to_ne_bytes()[..]));
        assert_eq!(v[5].value.as_deref(), Some(&1i32.to_ne_bytes()[..]));
        assert_eq!(v[6].value.as_deref(), Some(&[10, 0, 0, 1][..]));
    }

    #[test]
    fn no_form_false_means_on() {
        let p = encode_param("nopersist", &ParamValue::Bool(false)).unwrap();
        assert_eq!(p.name, b"persist\0");
    }

    #[test]
    fn must_persist_or_attach() {
        let e = encode_create(&spec(), JailFlags::CREATE).unwrap_err();
        assert!(e.to_string().contains("must persist or attach"));
        assert!(encode_create(&spec(), JailFlags::CREATE | JailFlags::ATTACH).is_ok());
    }

    #[test]
    fn hostile_values_change_nothing() {
        for (n, v) in [
            ("host.hostname", ParamValue::Str("a\0b".into())),
            ("host.hostname", ParamValue::Str("x".repeat(256))),
            ("frob", ParamValue::Int(1)),
            ("enforce_statfs", ParamValue::Int(1 << 40)),
            ("persist", ParamValue::Int(0)),
        ] {
            assert_eq!(
                encode_param(n, &v).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{n}"
            );
        }
    }

    #[test]
    fn errmsg_buffer() {
        let mut b = [0u8; 16];
        b[..9].copy_from_slice(b"not found");
        assert_eq!(errmsg(&b).as_deref(), Some("not found"));
        assert_eq!(errmsg(&[0; 8]), None);
    }
}

/// Decodes a value `jail_get(2)` wrote back for a parameter of type `ty` (`bytes` is what the
/// kernel reported through `iov_len`).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when the length does not fit the type.
pub fn decode_param(name: &str, ty: crate::types::ParamType, bytes: &[u8]) -> Result<ParamValue> {
    use crate::types::{JailSys, ParamType};
    let bad = || {
        Error::new(
            Op::Get,
            ErrorKind::InvalidInput,
            format!("{name}: {} bytes do not fit {ty:?}", bytes.len()),
        )
    };
    let int = || {
        bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_ne_bytes)
            .ok_or_else(bad)
    };
    Ok(match ty {
        ParamType::Int => ParamValue::Int(i64::from(int()?)),
        ParamType::UInt => ParamValue::Int(i64::from(int()? as u32)),
        ParamType::ULong => ParamValue::Int(
            bytes
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_ne_bytes)
                .ok_or_else(bad)? as i64,
        ),
        ParamType::Bool => ParamValue::Bool(int()? != 0),
        ParamType::String(_) => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            ParamValue::Str(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
        ParamType::JailSys => ParamValue::Sys(match int()? {
            0 => JailSys::Disable,
            1 => JailSys::New,
            2 => JailSys::Inherit,
            _ => return Err(bad()),
        }),
        ParamType::Ip4List => {
            if bytes.len() % 4 != 0 {
                return Err(bad());
            }
            ParamValue::Ip4(
                bytes
                    .chunks_exact(4)
                    .map(|c| std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            )
        }
        ParamType::Ip6List => {
            if bytes.len() % 16 != 0 {
                return Err(bad());
            }
            ParamValue::Ip6(
                bytes
                    .chunks_exact(16)
                    .map(|c| std::net::Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or([0; 16])))
                    .collect(),
            )
        }
    })
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use crate::types::{param_def, JailSys, ParamType};
    use proptest::prelude::*;

    #[test]
    fn encode_then_decode() {
        for (n, v) in [
            ("enforce_statfs", ParamValue::Int(1)),
            ("host.hostname", ParamValue::Str("gpu".into())),
            ("linux", ParamValue::Sys(JailSys::New)),
            (
                "ip4.addr",
                ParamValue::Ip4(vec![
                    "10.0.0.1".parse().unwrap(),
                    "10.0.0.2".parse().unwrap(),
                ]),
            ),
            (
                "ip6.addr",
                ParamValue::Ip6(vec!["2001:db8::1".parse().unwrap()]),
            ),
            ("host.hostid", ParamValue::Int(7)),
        ] {
            let p = encode_param(n, &v).unwrap();
            let (def, _) = param_def(n).unwrap();
            assert_eq!(
                decode_param(n, def.ty, p.value.as_deref().unwrap()).unwrap(),
                v,
                "{n}"
            );
        }
        assert_eq!(
            decode_param("persist", ParamType::Bool, &1i32.to_ne_bytes()).unwrap(),
            ParamValue::Bool(true)
        );
        assert!(decode_param("x", ParamType::Int, &[1, 2]).is_err());
        assert!(decode_param("x", ParamType::JailSys, &9i32.to_ne_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn decoding_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            for d in crate::types::KNOWN_PARAMS {
                let _ = decode_param(d.name, d.ty, &b);
            }
        }
    }
}
