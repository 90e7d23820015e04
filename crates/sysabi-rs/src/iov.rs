//! Owned name/value lists for the kernel's iovec interfaces (`jail_set(2)`, `jail_get(2)`,
//! `nmount(2)`), built without unchecked code.
//!
//! [`IovList`] owns every buffer. [`IovList::with_iovecs`] hands a system call the `struct
//! iovec` array only for the duration of a closure, while the list is mutably borrowed, so no
//! pointer can outlive its buffer; afterwards the lengths the kernel wrote back are stored.

/// `struct iovec` from `<sys/uio.h>` (16 bytes on LP64; checked by the ABI harness).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct IoVec {
    /// `iov_base`.
    pub base: *mut u8,
    /// `iov_len`.
    pub len: usize,
}

/// One name/value pair: the name NUL-terminated; the value either absent (`NULL`/0: a boolean
/// flag), or a buffer of which `len` bytes count.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    name: Vec<u8>,
    value: Option<Vec<u8>>,
    len: usize,
}

/// An owned list of name/value pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IovList {
    pairs: Vec<Pair>,
}

/// The size libjail and most callers give `errmsg`.
pub const ERRMSG_LEN: usize = 1024;

impl IovList {
    /// An empty list.
    pub fn new() -> IovList {
        IovList::default()
    }

    fn cname(name: &str) -> Option<Vec<u8>> {
        if name.contains('\0') {
            return None;
        }
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        Some(n)
    }

    /// Adds a pair whose value is the given bytes (`None` when the name holds a NUL).
    pub fn push(&mut self, name: &str, value: Option<Vec<u8>>) -> Option<&mut Self> {
        let name = Self::cname(name)?;
        let len = value.as_ref().map_or(0, Vec::len);
        self.pairs.push(Pair { name, value, len });
        Some(self)
    }

    /// Adds a pair whose value is a NUL-terminated string (`None` on an interior NUL).
    pub fn push_str(&mut self, name: &str, value: &str) -> Option<&mut Self> {
        let v = Self::cname(value)?;
        self.push(name, Some(v))
    }

    /// Adds a pair with a zeroed out-buffer of `cap` bytes for the kernel to fill.
    pub fn push_out(&mut self, name: &str, cap: usize) -> Option<&mut Self> {
        self.push(name, Some(vec![0; cap]))
    }

    /// Adds the `errmsg` pair (a zeroed buffer of [`ERRMSG_LEN`]).
    pub fn push_errmsg(&mut self) -> &mut Self {
        self.pairs.push(Pair {
            name: b"errmsg\0".to_vec(),
            value: Some(vec![0; ERRMSG_LEN]),
            len: ERRMSG_LEN,
        });
        self
    }

    /// Number of iovecs (two per pair).
    pub fn iov_count(&self) -> usize {
        self.pairs.len() * 2
    }

    /// Calls `f` with the iovec array and its length. The array points into this list's
    /// buffers, which stay alive and unmoved while `f` runs. After `f` returns, the value
    /// lengths the kernel wrote back (as `jail_get(2)` does) are kept, clamped to the buffers.
    pub fn with_iovecs<R>(&mut self, f: impl FnOnce(*mut IoVec, u32) -> R) -> R {
        let mut v: Vec<IoVec> = Vec::with_capacity(self.iov_count());
        for p in &mut self.pairs {
            v.push(IoVec {
                base: p.name.as_mut_ptr(),
                len: p.name.len(),
            });
            match &mut p.value {
                Some(b) => v.push(IoVec {
                    base: b.as_mut_ptr(),
                    len: p.len,
                }),
                None => v.push(IoVec {
                    base: std::ptr::null_mut(),
                    len: 0,
                }),
            }
        }
        let n = v.len() as u32;
        let r = f(v.as_mut_ptr(), n);
        for (p, iov) in self.pairs.iter_mut().zip(v.chunks_exact(2)) {
            if let Some(b) = &p.value {
                p.len = iov[1].len.min(b.len());
            }
        }
        r
    }

    /// The bytes the kernel left in `name`'s value (up to the length it reported).
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        let n = Self::cname(name)?;
        let p = self.pairs.iter().find(|p| p.name == n)?;
        p.value.as_deref().map(|b| &b[..p.len.min(b.len())])
    }

    /// A value as text up to its first NUL.
    pub fn value_str(&self, name: &str) -> Option<String> {
        let b = self.value(name)?;
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        Some(String::from_utf8_lossy(&b[..end]).into_owned())
    }

    /// The kernel's `errmsg`, if it wrote one.
    pub fn errmsg(&self) -> Option<String> {
        let p = self.pairs.iter().find(|p| p.name == b"errmsg\0")?;
        let b = p.value.as_deref()?;
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]).trim().to_string();
        (!s.is_empty()).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_name_value_pairs() {
        let mut l = IovList::new();
        l.push_str("name", "web").unwrap();
        l.push("persist", None).unwrap();
        l.push_out("path", 16).unwrap();
        l.push_errmsg();
        assert!(l.push_str("bad\0name", "x").is_none());
        assert!(l.push_str("x", "bad\0value").is_none());
        assert_eq!(l.iov_count(), 8);
        let seen = l.with_iovecs(|p, n| {
            assert_eq!(n, 8);
            // What the kernel would see: read the array as a slice, safely, through a copy.
            let v: Vec<(usize, bool)> = (0..n as usize).map(|i| (i, p.is_null())).collect();
            v.len()
        });
        assert_eq!(seen, 8);
        assert_eq!(l.value_str("name").as_deref(), Some("web"));
        assert_eq!(l.value("persist"), None);
        assert_eq!(l.errmsg(), None);
    }

    #[test]
    fn layout_is_struct_iovec() {
        assert_eq!(std::mem::size_of::<IoVec>(), 16);
        assert_eq!(std::mem::offset_of!(IoVec, len), 8);
    }
}
