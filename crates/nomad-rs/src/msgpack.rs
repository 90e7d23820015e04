//! MessagePack as go-cty writes a plugin's configuration (`SetConfigRequest.msgpack_config`):
//! a bounded reader and the matching writer.
//!
//! go-cty (`cty/msgpack`) encodes objects and maps as maps, lists, sets and tuples as arrays,
//! null as nil, integers in their shortest form, exact floats as float64, other numbers as their
//! decimal text in a string, and unknown values as extension type 0. The reader refuses input
//! larger than [`MAX_INPUT`], nesting deeper than [`MAX_DEPTH`], and lengths longer than the
//! bytes left, so a hostile message costs no more memory than its own size.

use std::fmt;

/// The largest message read (a plugin block is a few hundred bytes).
pub const MAX_INPUT: usize = 1 << 20;
/// The deepest nesting of arrays and maps read.
pub const MAX_DEPTH: usize = 32;

/// A MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// nil (cty's null).
    Nil,
    /// A boolean.
    Bool(bool),
    /// Any integer form (`-2^63 ..= 2^64-1`).
    Int(i128),
    /// float32 or float64.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Binary data.
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in the order written.
    Map(Vec<(Value, Value)>),
    /// An extension (type, data); go-cty writes an unknown value as type 0.
    Ext(i8, Vec<u8>),
}

/// Why a message cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "msgpack at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Reads one value that must fill `input` exactly.
///
/// # Errors
/// Input over [`MAX_INPUT`], truncated, nested deeper than [`MAX_DEPTH`], a length beyond the
/// input, invalid UTF-8 in a string, a reserved byte (0xc1), or bytes after the value.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    if input.len() > MAX_INPUT {
        return Err(DecodeError {
            offset: 0,
            what: "message larger than 1 MiB",
        });
    }
    let mut r = Reader { b: input, at: 0 };
    let v = r.value(0)?;
    if r.at != input.len() {
        return Err(r.err("bytes after the value"));
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.at,
            what,
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.b.len() - self.at < n {
            return Err(self.err("truncated"));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    }

    /// A count of items each at least one byte long: never more than the bytes left.
    fn count(&mut self, n: u64, per_item: usize) -> Result<usize, DecodeError> {
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(per_item as u64) > left {
            return Err(self.err("length beyond the end of the message"));
        }
        usize::try_from(n).map_err(|_| self.err("length beyond the end of the message"))
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, DecodeError> {
        let n = self.count(n, 1)?;
        Ok(self.take(n)?.to_vec())
    }

    fn string(&mut self, n: u64) -> Result<Value, DecodeError> {
        let start = self.at;
        let b = self.bytes(n)?;
        String::from_utf8(b)
            .map(Value::Str)
            .map_err(|_| DecodeError {
                offset: start,
                what: "string is not UTF-8",
            })
    }

    fn array(&mut self, n: u64, depth: usize) -> Result<Value, DecodeError> {
        let n = self.count(n, 1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(v))
    }

    fn map(&mut self, n: u64, depth: usize) -> Result<Value, DecodeError> {
        let n = self.count(n, 2)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.value(depth + 1)?;
            v.push((k, self.value(depth + 1)?));
        }
        Ok(Value::Map(v))
    }

    fn ext(&mut self, n: u64) -> Result<Value, DecodeError> {
        let t = self.take(1)?[0] as i8;
        Ok(Value::Ext(t, self.bytes(n)?))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested deeper than 32 levels"));
        }
        let t = self.take(1)?[0];
        Ok(match t {
            0x00..=0x7f => Value::Int(i128::from(t)),
            0x80..=0x8f => self.map(u64::from(t & 0x0f), depth)?,
            0x90..=0x9f => self.array(u64::from(t & 0x0f), depth)?,
            0xa0..=0xbf => self.string(u64::from(t & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => {
                return Err(DecodeError {
                    offset: self.at - 1,
                    what: "reserved byte 0xc1",
                })
            }
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (t - 0xc4))?;
                Value::Bin(self.bytes(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (t - 0xc7))?;
                self.ext(n)?
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Value::Int(i128::from(self.be(1 << (t - 0xcc))?)),
            0xd0..=0xd3 => {
                let n = 1usize << (t - 0xd0);
                let u = self.be(n)?;
                let shift = 64 - 8 * n as u32;
                Value::Int(i128::from(((u << shift) as i64) >> shift))
            }
            0xd4..=0xd8 => self.ext(1 << (t - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.be(1 << (t - 0xd9))?;
                self.string(n)?
            }
            0xdc | 0xdd => {
                let n = self.be(if t == 0xdc { 2 } else { 4 })?;
                self.array(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.be(if t == 0xde { 2 } else { 4 })?;
                self.map(n, depth)?
            }
            0xe0..=0xff => Value::Int(i128::from(t as i8)),
        })
    }
}

/// Writes `v` in the shortest forms (as go-cty and msgpack's Go encoder do).
///
/// # Panics
/// Never for values [`decode`] produces; an `Int` outside `-2^63 ..= 2^64-1` is written clamped.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, v);
    out
}

fn len_header(out: &mut Vec<u8>, n: usize, fix: Option<(u8, usize)>, forms: [u8; 3]) {
    match fix {
        Some((base, max)) if n <= max => out.push(base | n as u8),
        _ if n <= 0xff && forms[0] != 0 => out.extend([forms[0], n as u8]),
        _ if n <= 0xffff => {
            out.push(forms[1]);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(forms[2]);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn write(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => {
            let i = (*i).clamp(i128::from(i64::MIN), i128::from(u64::MAX));
            if (0..=0x7f).contains(&i) {
                out.push(i as u8);
            } else if (-32..0).contains(&i) {
                out.push(i as i8 as u8);
            } else if i >= 0 {
                let u = i as u64;
                if u <= 0xff {
                    out.extend([0xcc, u as u8]);
                } else if u <= 0xffff {
                    out.push(0xcd);
                    out.extend((u as u16).to_be_bytes());
                } else if u <= 0xffff_ffff {
                    out.push(0xce);
                    out.extend((u as u32).to_be_bytes());
                } else {
                    out.push(0xcf);
                    out.extend(u.to_be_bytes());
                }
            } else {
                let s = i as i64;
                if s >= -0x80 {
                    out.extend([0xd0, s as i8 as u8]);
                } else if s >= -0x8000 {
                    out.push(0xd1);
                    out.extend((s as i16).to_be_bytes());
                } else if s >= -0x8000_0000 {
                    out.push(0xd2);
                    out.extend((s as i32).to_be_bytes());
                } else {
                    out.push(0xd3);
                    out.extend(s.to_be_bytes());
                }
            }
        }
        Value::Float(f) => {
            out.push(0xcb);
            out.extend(f.to_bits().to_be_bytes());
        }
        Value::Str(s) => {
            len_header(out, s.len(), Some((0xa0, 31)), [0xd9, 0xda, 0xdb]);
            out.extend(s.as_bytes());
        }
        Value::Bin(b) => {
            len_header(out, b.len(), None, [0xc4, 0xc5, 0xc6]);
            out.extend(b);
        }
        Value::Array(a) => {
            len_header(out, a.len(), Some((0x90, 15)), [0, 0xdc, 0xdd]);
            for x in a {
                write(out, x);
            }
        }
        Value::Map(m) => {
            len_header(out, m.len(), Some((0x80, 15)), [0, 0xde, 0xdf]);
            for (k, x) in m {
                write(out, k);
                write(out, x);
            }
        }
        Value::Ext(t, d) => {
            match d.len() {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                n => len_header(out, n, None, [0xc7, 0xc8, 0xc9]),
            }
            out.push(*t as u8);
            out.extend(d);
        }
    }
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under string key `key`, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Int(i.into())),
            any::<u64>().prop_map(|i| Value::Int(i.into())),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Value::Float),
            ".{0,40}".prop_map(Value::Str),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
            (any::<i8>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(t, d)| Value::Ext(t, d)),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner), 0..20).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&b);
        }

        #[test]
        fn write_then_read_is_the_same_value(v in value()) {
            prop_assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
    }

    #[test]
    fn go_cty_shapes_and_limits() {
        // {"enabled": true, "period": "1m", "ids": ["a"], "x": nil} as go-cty writes it.
        let b = [
            0x84, 0xa7, b'e', b'n', b'a', b'b', b'l', b'e', b'd', 0xc3, 0xa6, b'p', b'e', b'r',
            b'i', b'o', b'd', 0xa2, b'1', b'm', 0xa3, b'i', b'd', b's', 0x91, 0xa1, b'a', 0xa1,
            b'x', 0xc0,
        ];
        let v = decode(&b).unwrap();
        assert_eq!(v.get("enabled"), Some(&Value::Bool(true)));
        assert_eq!(v.get("period").and_then(Value::as_str), Some("1m"));
        assert_eq!(v.get("x"), Some(&Value::Nil));
        assert_eq!(encode(&v), b);
        // A length far beyond the input allocates nothing and says so.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).unwrap_err().what,
            "length beyond the end of the message"
        );
        // Too deep.
        let deep = vec![0x91; MAX_DEPTH + 2];
        assert!(decode(&deep).unwrap_err().what.contains("deeper"));
        assert!(decode(&[0xc1]).is_err());
        assert!(decode(&[0xc0, 0xc0]).unwrap_err().what.contains("after"));
        assert_eq!(decode(&[0xd0, 0xff]).unwrap(), Value::Int(-1));
        assert_eq!(
            decode(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
            Value::Int(u64::MAX.into())
        );
    }
}
