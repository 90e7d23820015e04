//! ABI facts: numbers the Rust side hard-codes, paired with the C expression that must equal them.
//!
//! Each crate exposes `pub fn abi_facts() -> Vec<AbiSet>` listing, in one place, every struct
//! size, field offset, alignment, constant and ioctl number it relies on, as Rust computes them
//! (`size_of`, `offset_of!`, the encoders in [`crate::ioc`]). `cargo xtask ci` turns each set into
//! a C file that includes FreeBSD's own headers (as shipped with zig), compiles it with
//! `zig cc -target x86_64-freebsd` and `aarch64-freebsd`, reads every value back from the object
//! file and fails naming the fact, the Rust number and the C number on any difference.
//!
//! Structs that FreeBSD's headers do not have (NVIDIA's, ZFS's ioctl wrapper) are declared in C in
//! [`AbiSet::c_decls`], written by us from the published layouts.

use crate::Errno;

/// Which C environment a set is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CTarget {
    /// FreeBSD's headers (amd64 and arm64 both checked).
    FreeBsd,
    /// Linux's headers (amd64 and arm64), for the Linux side of NVIDIA's ioctls and errnos.
    Linux,
}

/// One number the Rust side relies on and the C expression it must equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiFact {
    /// What is checked, e.g. `sizeof(struct devfs_rule)` or `DEVFSIO_RADD`.
    pub name: String,
    /// A C constant expression giving the true value.
    pub c_expr: String,
    /// The value as the Rust code computes it (signed values sign-extended to 64 bits).
    pub rust: u64,
}

impl AbiFact {
    /// A named constant: `c_expr` is usually the C macro of the same name.
    pub fn value(c_expr: impl Into<String>, rust: u64) -> AbiFact {
        let c_expr = c_expr.into();
        AbiFact {
            name: c_expr.clone(),
            c_expr,
            rust,
        }
    }

    /// A signed constant.
    pub fn signed(c_expr: impl Into<String>, rust: i64) -> AbiFact {
        AbiFact::value(c_expr, rust as u64)
    }

    /// A value whose name differs from its C expression.
    pub fn named(name: impl Into<String>, c_expr: impl Into<String>, rust: u64) -> AbiFact {
        AbiFact {
            name: name.into(),
            c_expr: c_expr.into(),
            rust,
        }
    }

    /// `sizeof(c_type)` against the Rust type `T`.
    pub fn size<T>(c_type: &str) -> AbiFact {
        AbiFact::value(format!("sizeof({c_type})"), std::mem::size_of::<T>() as u64)
    }

    /// `_Alignof(c_type)` against the Rust type `T`.
    pub fn align<T>(c_type: &str) -> AbiFact {
        AbiFact::value(
            format!("_Alignof({c_type})"),
            std::mem::align_of::<T>() as u64,
        )
    }

    /// `offsetof(c_type, c_field)` against a Rust `offset_of!`.
    pub fn offset(c_type: &str, c_field: &str, rust: usize) -> AbiFact {
        AbiFact::value(format!("offsetof({c_type}, {c_field})"), rust as u64)
    }
}

/// The facts of one crate for one C environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiSet {
    /// The crate (or module) the facts belong to, for messages.
    pub owner: &'static str,
    /// Where to check them.
    pub target: CTarget,
    /// Headers to include, in order (e.g. `sys/types.h`, `fs/devfs/devfs.h`).
    pub includes: Vec<&'static str>,
    /// C declarations we write ourselves for structs the system headers lack.
    pub c_decls: String,
    /// The facts.
    pub facts: Vec<AbiFact>,
}

impl AbiSet {
    /// A set with no own declarations.
    pub fn new(owner: &'static str, target: CTarget, includes: &[&'static str]) -> AbiSet {
        AbiSet {
            owner,
            target,
            includes: includes.to_vec(),
            c_decls: String::new(),
            facts: Vec::new(),
        }
    }

    /// Adds our own C declarations.
    pub fn decls(mut self, c: &str) -> AbiSet {
        self.c_decls.push_str(c);
        self.c_decls.push('\n');
        self
    }

    /// Adds facts.
    pub fn facts(mut self, f: impl IntoIterator<Item = AbiFact>) -> AbiSet {
        self.facts.extend(f);
        self
    }
}

/// This crate's own facts: the ioctl encoders against `_IO*` from both systems' headers, and
/// every [`Errno`] against both systems' `errno.h`.
pub fn abi_facts() -> Vec<AbiSet> {
    use crate::ioc;
    let bsd = AbiSet::new(
        "sysabi",
        CTarget::FreeBsd,
        &["sys/types.h", "sys/ioccom.h", "errno.h"],
    )
    .facts([
        AbiFact::value("IOCPARM_SHIFT", u64::from(ioc::BSD_IOCPARM_SHIFT)),
        AbiFact::value("IOCPARM_MASK", u64::from(ioc::BSD_IOCPARM_MASK)),
        AbiFact::value("IOCPARM_MAX", u64::from(ioc::BSD_IOCPARM_MAX)),
        AbiFact::value("IOC_VOID", u64::from(ioc::BSD_IOC_VOID)),
        AbiFact::value("IOC_OUT", u64::from(ioc::BSD_IOC_OUT)),
        AbiFact::value("IOC_IN", u64::from(ioc::BSD_IOC_IN)),
        AbiFact::value("IOC_INOUT", u64::from(ioc::BSD_IOC_INOUT)),
        AbiFact::value("_IO('x', 7)", u64::from(ioc::bsd_io(b'x', 7))),
        AbiFact::value("_IOR('D', 1, int)", u64::from(ioc::bsd_ior(b'D', 1, 4))),
        AbiFact::value("_IOW('D', 1, int)", u64::from(ioc::bsd_iow(b'D', 1, 4))),
        AbiFact::value(
            "_IOWR('F', 200, char[2304])",
            u64::from(ioc::bsd_iowr(b'F', 200, 2304)),
        ),
        AbiFact::value(
            "_IOWR('z', 255, char[8191])",
            u64::from(ioc::bsd_iowr(b'z', 255, 8191)),
        ),
    ])
    .facts(
        Errno::TABLE
            .iter()
            .map(|(n, v, _)| AbiFact::signed(*n, i64::from(*v))),
    );
    let linux = AbiSet::new("sysabi", CTarget::Linux, &["linux/ioctl.h", "errno.h"])
        .facts([
            AbiFact::value("_IOC_SIZEBITS", u64::from(ioc::LINUX_IOC_SIZEBITS)),
            AbiFact::value(
                "_IO('x', 7)",
                u64::from(ioc::linux(ioc::Dir::None, b'x', 7, 0)),
            ),
            AbiFact::value(
                "_IOR('D', 1, int)",
                u64::from(ioc::linux(ioc::Dir::Read, b'D', 1, 4)),
            ),
            AbiFact::value(
                "_IOW('D', 1, int)",
                u64::from(ioc::linux(ioc::Dir::Write, b'D', 1, 4)),
            ),
            AbiFact::value(
                "_IOWR('F', 200, char[2304])",
                u64::from(ioc::linux_iowr(b'F', 200, 2304)),
            ),
            AbiFact::value(
                "_IOWR('z', 255, char[16383])",
                u64::from(ioc::linux_iowr(b'z', 255, 16383)),
            ),
        ])
        .facts(
            Errno::TABLE
                .iter()
                .filter_map(|(n, _, l)| l.map(|l| AbiFact::signed(*n, i64::from(l)))),
        );
    vec![bsd, linux]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    struct S {
        a: u32,
        b: u16,
    }

    #[test]
    fn fact_builders() {
        let s = AbiFact::size::<S>("struct s");
        assert_eq!((s.c_expr.as_str(), s.rust), ("sizeof(struct s)", 8));
        let o = AbiFact::offset("struct s", "b", std::mem::offset_of!(S, b));
        assert_eq!((o.c_expr.as_str(), o.rust), ("offsetof(struct s, b)", 4));
        assert_eq!(AbiFact::signed("X", -1).rust, u64::MAX);
    }

    #[test]
    fn own_sets_have_unique_names() {
        for set in abi_facts() {
            let mut names: Vec<_> = set.facts.iter().map(|f| &f.name).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(n, names.len(), "{}", set.owner);
        }
    }
}
