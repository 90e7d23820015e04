//! Jail ids, names, flags and typed parameters (pure).

use crate::error::{Error, Op, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use sysabi::ErrorKind;

/// `MAXHOSTNAMELEN`: the size of the kernel's name and hostname buffers (NUL included).
pub const MAXHOSTNAMELEN: usize = 256;
/// `MAXPATHLEN`: the size of the kernel's path buffer (NUL included).
pub const MAXPATHLEN: usize = 1024;
/// `LINUX_MAX_UTSNAME` + 1: the size of `linux.osname`/`linux.osrelease` (NUL included).
pub const LINUX_UTSNAME_LEN: usize = 65;

/// A jail id as `jail_set(2)` returns it (≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Jid(pub i32);

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

bitflags::bitflags! {
    /// `JAIL_*` flags of `jail_set(2)`/`jail_get(2)`.
    ///
    /// # References
    /// `sys/sys/jail.h`, [jail(2)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=2)
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct JailFlags: i32 {
        /// `JAIL_CREATE`: create a new jail.
        #[doc(alias = "JAIL_CREATE")]
        const CREATE = 0x01;
        /// `JAIL_UPDATE`: modify an existing jail.
        #[doc(alias = "JAIL_UPDATE")]
        const UPDATE = 0x02;
        /// `JAIL_ATTACH`: attach the calling process to the jail.
        #[doc(alias = "JAIL_ATTACH")]
        const ATTACH = 0x04;
        /// `JAIL_DYING`: allow getting (or resurrecting) a dying jail.
        #[doc(alias = "JAIL_DYING")]
        const DYING = 0x08;
    }
}

/// The value of a "jailsys" parameter (`host`, `ip4`, `ip6`, `vnet`, `linux`, `sysvshm`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JailSys {
    /// `JAIL_SYS_DISABLE` (0).
    Disable = 0,
    /// `JAIL_SYS_NEW` (1): the jail gets its own copy.
    New = 1,
    /// `JAIL_SYS_INHERIT` (2): the jail shares its parent's.
    Inherit = 2,
}

impl JailSys {
    /// The keyword jail(8) uses.
    pub fn as_str(self) -> &'static str {
        match self {
            JailSys::Disable => "disable",
            JailSys::New => "new",
            JailSys::Inherit => "inherit",
        }
    }
}

impl FromStr for JailSys {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "disable" | "0" => Ok(JailSys::Disable),
            // libjail: an empty jailsys value means "new".
            "new" | "" | "1" => Ok(JailSys::New),
            "inherit" | "2" => Ok(JailSys::Inherit),
            _ => Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("jailsys value {s:?}: expected new, inherit or disable"),
            )),
        }
    }
}

/// A validated jail name.
///
/// Kernel rules: shorter than `MAXHOSTNAMELEN`, no NUL; dots separate hierarchy levels
/// (`parent.child`), so no empty component; an all-digit name is taken as a jid by
/// `jail_set(2)`, so it is refused. This crate is stricter than the kernel, because names reach
/// jail.conf(5), devfs.rules(5) and ZFS dataset names: each component uses only ASCII letters,
/// digits, `_` and `-`, and `/` or `..` are never valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JailName(String);

impl JailName {
    /// Validates a name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the rule broken.
    pub fn new(s: &str) -> Result<JailName> {
        let bad = |why: &str| {
            Err(Error::new(
                Op::Validate,
                ErrorKind::InvalidInput,
                format!("jail name {s:?}: {why}"),
            ))
        };
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() >= MAXHOSTNAMELEN {
            return bad("longer than 255 bytes (MAXHOSTNAMELEN)");
        }
        if s.contains('\0') {
            return bad("contains a NUL byte");
        }
        if s.contains('/') {
            return bad("contains '/'");
        }
        if s.split('.').any(str::is_empty) {
            return bad("has an empty component ('.' at either end, or '..')");
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return bad(&format!(
                "character {c:?} is not allowed (use letters, digits, '_', '-', '.')"
            ));
        }
        if s.split('.')
            .next_back()
            .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad("an all-digit name is taken as a jail id by jail_set(2)");
        }
        Ok(JailName(s.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent's name for a hierarchical name (`a.b` → `a`).
    pub fn parent(&self) -> Option<JailName> {
        self.0
            .rsplit_once('.')
            .map(|(p, _)| JailName(p.to_string()))
    }
}

impl fmt::Display for JailName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JailName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        JailName::new(s)
    }
}

impl TryFrom<String> for JailName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        JailName::new(&s)
    }
}

impl From<JailName> for String {
    fn from(n: JailName) -> String {
        n.0
    }
}

/// How the kernel types a parameter (`security.jail.param.<name>` kind and format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ParamType {
    /// `I`: a 4-byte int.
    Int,
    /// `IU`: a 4-byte unsigned int.
    UInt,
    /// `LU`: an unsigned long (8 bytes on LP64).
    ULong,
    /// `B`: a boolean, sent as a name without value (`persist`/`nopersist`).
    Bool,
    /// `A`: a string of at most this many bytes, NUL included.
    String(usize),
    /// `E,jailsys`: new/inherit/disable as a 4-byte int.
    JailSys,
    /// `S,in_addr,a`: a list of IPv4 addresses.
    Ip4List,
    /// `S,in6_addr,a`: a list of IPv6 addresses.
    Ip6List,
}

/// A parameter the kernel (or a module) defines, as libjail would learn it from sysctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamDef {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Settable only at creation (`CTLFLAG_RDTUN`).
    pub create_only: bool,
    /// Exists only while this kernel module is loaded.
    pub module: Option<&'static str>,
}

const fn p(name: &'static str, ty: ParamType) -> ParamDef {
    ParamDef {
        name,
        ty,
        create_only: false,
        module: None,
    }
}
const fn c(name: &'static str, ty: ParamType) -> ParamDef {
    ParamDef {
        name,
        ty,
        create_only: true,
        module: None,
    }
}
const fn m(name: &'static str, ty: ParamType, module: &'static str) -> ParamDef {
    ParamDef {
        name,
        ty,
        create_only: false,
        module: Some(module),
    }
}

/// The parameters a CUDA jail uses, typed as FreeBSD 14 types them (see abi-facts §1.4), so
/// planning works off-host. On a host, the live `security.jail.param.*` sysctls are the truth.
pub const KNOWN_PARAMS: &[ParamDef] = &[
    c("jid", ParamType::Int),
    p("name", ParamType::String(MAXHOSTNAMELEN)),
    c("path", ParamType::String(MAXPATHLEN)),
    p("host", ParamType::JailSys),
    p("host.hostname", ParamType::String(MAXHOSTNAMELEN)),
    p("host.hostuuid", ParamType::String(64)),
    p("host.hostid", ParamType::ULong),
    p("persist", ParamType::Bool),
    p("enforce_statfs", ParamType::Int),
    p("devfs_ruleset", ParamType::Int),
    p("securelevel", ParamType::Int),
    p("children.max", ParamType::Int),
    c("ip4", ParamType::JailSys),
    c("ip6", ParamType::JailSys),
    p("ip4.addr", ParamType::Ip4List),
    p("ip6.addr", ParamType::Ip6List),
    c("vnet", ParamType::JailSys),
    p("allow.set_hostname", ParamType::Bool),
    p("allow.sysvipc", ParamType::Bool),
    p("allow.raw_sockets", ParamType::Bool),
    p("allow.chflags", ParamType::Bool),
    p("allow.mlock", ParamType::Bool),
    p("allow.socket_af", ParamType::Bool),
    p("allow.reserved_ports", ParamType::Bool),
    p("allow.mount", ParamType::Bool),
    m("allow.mount.devfs", ParamType::Bool, "devfs"),
    m("allow.mount.fdescfs", ParamType::Bool, "fdescfs"),
    m("allow.mount.nullfs", ParamType::Bool, "nullfs"),
    m("allow.mount.tmpfs", ParamType::Bool, "tmpfs"),
    m("allow.mount.procfs", ParamType::Bool, "procfs"),
    m("allow.mount.linprocfs", ParamType::Bool, "linprocfs"),
    m("allow.mount.linsysfs", ParamType::Bool, "linsysfs"),
    m("allow.mount.zfs", ParamType::Bool, "zfs"),
    c("osrelease", ParamType::String(32)),
    c("osreldate", ParamType::Int),
    m("sysvmsg", ParamType::JailSys, "sysvmsg"),
    m("sysvsem", ParamType::JailSys, "sysvsem"),
    m("sysvshm", ParamType::JailSys, "sysvshm"),
    m("linux", ParamType::JailSys, "linux_common"),
    m(
        "linux.osname",
        ParamType::String(LINUX_UTSNAME_LEN),
        "linux_common",
    ),
    m(
        "linux.osrelease",
        ParamType::String(LINUX_UTSNAME_LEN),
        "linux_common",
    ),
    m("linux.oss_version", ParamType::Int, "linux_common"),
];

/// Looks a parameter up in [`KNOWN_PARAMS`], accepting the `no` form of booleans
/// (`nopersist`, `allow.nomount`).
pub fn param_def(name: &str) -> Option<(ParamDef, bool)> {
    if let Some(d) = KNOWN_PARAMS.iter().find(|d| d.name == name) {
        return Some((*d, false));
    }
    let (head, last) = match name.rsplit_once('.') {
        Some((h, l)) => (Some(h), l),
        None => (None, name),
    };
    let base = last.strip_prefix("no")?;
    let full = match head {
        Some(h) => format!("{h}.{base}"),
        None => base.to_string(),
    };
    KNOWN_PARAMS
        .iter()
        .find(|d| d.name == full && d.ty == ParamType::Bool)
        .map(|d| (*d, true))
}

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// For `Int`/`UInt`/`ULong` parameters.
    Int(i64),
    /// For `Bool`.
    Bool(bool),
    /// For `String`.
    Str(String),
    /// For `JailSys`.
    Sys(JailSys),
    /// For `Ip4List`.
    Ip4(Vec<Ipv4Addr>),
    /// For `Ip6List`.
    Ip6(Vec<Ipv6Addr>),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Str(s) => write!(f, "{s:?}"),
            ParamValue::Sys(s) => f.write_str(s.as_str()),
            ParamValue::Ip4(v) => {
                let s: Vec<String> = v.iter().map(ToString::to_string).collect();
                f.write_str(&s.join(","))
            }
            ParamValue::Ip6(v) => {
                let s: Vec<String> = v.iter().map(ToString::to_string).collect();
                f.write_str(&s.join(","))
            }
        }
    }
}

/// An ordered set of parameters for `jail_set(2)`, built with the owned-builder pattern.
///
/// ```
/// use jail::{JailSpec, JailName, JailSys, ParamValue};
/// let spec = JailSpec::new(JailName::new("cuda").unwrap(), "/zroot/cudajail/cuda/root")
///     .param("persist", ParamValue::Bool(true))
///     .param("linux", ParamValue::Sys(JailSys::New));
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JailSpec {
    /// The jail's name.
    pub name: JailName,
    /// Its root directory.
    pub path: String,
    /// Further parameters, in the order given.
    pub params: Vec<(String, ParamValue)>,
}

impl JailSpec {
    /// A spec with a name and root path.
    pub fn new(name: JailName, path: impl Into<String>) -> JailSpec {
        JailSpec {
            name,
            path: path.into(),
            params: Vec::new(),
        }
    }

    /// Adds (or replaces) a parameter.
    pub fn param(mut self, name: &str, v: ParamValue) -> JailSpec {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), v));
        self
    }

    /// The value of a parameter, if set.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Checks every parameter against [`KNOWN_PARAMS`] and the kernel's rules, reporting all
    /// problems at once.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] listing each bad parameter.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if !self.path.starts_with('/') {
            problems.push(format!("path {:?}: must be absolute", self.path));
        }
        if self.path.split('/').any(|c| c == "..") {
            problems.push(format!("path {:?}: must not contain '..'", self.path));
        }
        if self.path.len() >= MAXPATHLEN || self.path.contains('\0') {
            problems.push("path: longer than MAXPATHLEN or contains NUL".to_string());
        }
        for (n, v) in &self.params {
            if let Err(e) = check_value(n, v) {
                problems.push(e);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(
                Error::new(Op::Validate, ErrorKind::InvalidInput, problems.join("; "))
                    .subject(&self.name),
            )
        }
    }
}

/// Checks one value against its parameter's type and rules.
pub(crate) fn check_value(name: &str, v: &ParamValue) -> std::result::Result<ParamDef, String> {
    let Some((def, no)) = param_def(name) else {
        return Err(format!("{name}: unknown parameter"));
    };
    if no && !matches!(v, ParamValue::Bool(_)) {
        return Err(format!("{name}: a no-form takes a boolean"));
    }
    let ok = match (def.ty, v) {
        (ParamType::Int, ParamValue::Int(i)) => i32::try_from(*i).is_ok(),
        (ParamType::UInt, ParamValue::Int(i)) => u32::try_from(*i).is_ok(),
        (ParamType::ULong, ParamValue::Int(i)) => *i >= 0,
        (ParamType::Bool, ParamValue::Bool(_)) => true,
        (ParamType::String(max), ParamValue::Str(s)) => {
            if s.len() >= max {
                return Err(format!("{name}: longer than {} bytes", max - 1));
            }
            if s.contains('\0') {
                return Err(format!("{name}: contains a NUL byte"));
            }
            true
        }
        (ParamType::JailSys, ParamValue::Sys(s)) => {
            if matches!(name, "host" | "vnet" | "linux") && *s == JailSys::Disable {
                return Err(format!("{name}: cannot be disable"));
            }
            true
        }
        (ParamType::Ip4List, ParamValue::Ip4(_)) | (ParamType::Ip6List, ParamValue::Ip6(_)) => true,
        _ => return Err(format!("{name}: expected {:?}, got {v}", def.ty)),
    };
    if !ok {
        return Err(format!("{name}: {v} is out of range for {:?}", def.ty));
    }
    if name == "enforce_statfs" && !matches!(v, ParamValue::Int(0..=2)) {
        return Err(format!("{name}: must be 0, 1 or 2"));
    }
    if name == "linux.osrelease" {
        // linux_map_osrel (sys/compat/linux/linux_mib.c): a.b.c, a ≥ 1, then the end or `-`
        // and at least one more character.
        if let ParamValue::Str(s) = v {
            let (nums, suffix) = s
                .split_once('-')
                .map_or((s.as_str(), None), |(n, x)| (n, Some(x)));
            let parts: Vec<&str> = nums.split('.').collect();
            let parsed: Option<Vec<u32>> = parts
                .iter()
                .map(|p| {
                    p.bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| p.parse().ok())
                        .flatten()
                })
                .collect();
            if parts.len() != 3
                || parsed.is_none_or(|n| n[0] < 1)
                || suffix.is_some_and(str::is_empty)
                || s.len() > 64
            {
                return Err(format!(
                    "{name}: {s:?} must look like a.b.c or a.b.c-suffix with a ≥ 1 (at most 64 bytes)"
                ));
            }
        }
    }
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "", "a/b", "..", "a..b", ".a", "a.", "a\0b", "12", "x.34", "a b", "a*", "ä",
        ] {
            let e = JailName::new(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        assert!(JailName::new(&"a".repeat(256)).is_err());
        assert!(JailName::new(&"a".repeat(255)).is_ok());
        for good in ["cuda", "web-1", "a.b_c", "cuda.gpu0", "9lives"] {
            assert!(JailName::new(good).is_ok(), "{good}");
        }
        assert_eq!(
            JailName::new("a.b.c").unwrap().parent().unwrap().as_str(),
            "a.b"
        );
    }

    #[test]
    fn no_forms_resolve() {
        assert_eq!(
            param_def("nopersist").map(|(d, n)| (d.name, n)),
            Some(("persist", true))
        );
        assert_eq!(
            param_def("allow.nomount").map(|(d, n)| (d.name, n)),
            Some(("allow.mount", true))
        );
        assert_eq!(
            param_def("allow.mount.nodevfs").map(|(d, n)| (d.name, n)),
            Some(("allow.mount.devfs", true))
        );
        assert!(param_def("noname").is_none());
        assert!(param_def("allow.frobnicate").is_none());
    }

    #[test]
    fn spec_validation_reports_everything_at_once() {
        let s = JailSpec::new(JailName::new("cuda").unwrap(), "relative/../x")
            .param("bogus", ParamValue::Int(1))
            .param("enforce_statfs", ParamValue::Int(3))
            .param("linux.osrelease", ParamValue::Str("5.15".into()))
            .param("host.hostname", ParamValue::Str("h".repeat(300)))
            .param("vnet", ParamValue::Sys(JailSys::Disable));
        let e = s.validate().unwrap_err();
        let msg = e.to_string();
        for needle in [
            "absolute",
            "'..'",
            "bogus: unknown",
            "enforce_statfs",
            "a.b.c",
            "longer than 255",
            "vnet",
        ] {
            assert!(msg.contains(needle), "{needle} missing in {msg}");
        }
        assert_eq!(e.subject_str(), Some("cuda"));
    }

    #[test]
    fn jailsys_parse() {
        assert_eq!("".parse::<JailSys>().unwrap(), JailSys::New);
        assert_eq!("inherit".parse::<JailSys>().unwrap(), JailSys::Inherit);
        assert!("maybe".parse::<JailSys>().is_err());
    }

    proptest! {
        #[test]
        fn name_validation_never_panics_and_accepted_names_are_safe(s in "\\PC{0,40}") {
            if let Ok(n) = JailName::new(&s) {
                prop_assert!(!n.as_str().contains('/'));
                prop_assert!(!n.as_str().contains(".."));
                prop_assert_eq!(JailName::new(n.as_str()).unwrap(), n);
            }
        }
    }
}

/// A sysctl's kind word, format string and raw value, as `CTL_SYSCTL_OIDFMT` and a read give
/// them (what libjail's `jailparam_type` looks at).
pub type SysctlFacts = (u32, String, Vec<u8>);

/// Learns a parameter's type the way libjail's `jailparam_type` does, from the
/// `security.jail.param.<name>` sysctls (`lookup` returns a sysctl's kind, format and value,
/// `None` when it does not exist):
/// 1. a missing name is retried without a `no` prefix on its last component, which must then be
///    a boolean (the "no" form);
/// 2. a node's type is carried by its empty-named child (`security.jail.param.allow.mount.`);
/// 3. `I`/`IU`/`LU` are integers, `B` a boolean, `E,jailsys` jailsys, `A` a string whose maximum
///    length is the sysctl's value, `S,in_addr`/`S,in6_addr` address lists.
///
/// # Errors
/// [`ErrorKind::NotFound`] "unknown parameter" (also what a parameter of an unloaded module
/// looks like); [`ErrorKind::Unsupported`] for a type this crate does not handle.
pub fn learn_param_type(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<SysctlFacts>,
) -> Result<(ParamType, bool)> {
    let unknown = || {
        Error::new(
            Op::Validate,
            ErrorKind::NotFound,
            format!("unknown parameter: {name}"),
        )
    };
    let mib = format!("security.jail.param.{name}");
    let (facts, nobool) = match lookup(&mib) {
        Some(f) => (f, false),
        None => {
            let (head, last) = match name.rsplit_once('.') {
                Some((h, l)) => (format!("{h}."), l),
                None => (String::new(), name),
            };
            let base = last.strip_prefix("no").ok_or_else(unknown)?;
            let f = lookup(&format!("security.jail.param.{head}{base}")).ok_or_else(unknown)?;
            (f, true)
        }
    };
    let (mut kind, mut fmt, mut raw) = facts;
    if kind & 0xf == 1 {
        // A node: its type is on the empty-named child.
        let base = if nobool {
            format!("security.jail.param.{}", name.replacen("no", "", 1))
        } else {
            mib.clone()
        };
        let (k, f, r) = lookup(&format!("{base}.")).ok_or_else(unknown)?;
        (kind, fmt, raw) = (k, f, r);
    }
    let ty = match (kind & 0xf, fmt.as_str()) {
        (2, "B") => ParamType::Bool,
        (2, f) if f.starts_with("E,jailsys") => ParamType::JailSys,
        (2, _) => ParamType::Int,
        (6, _) => ParamType::UInt,
        (7 | 8, _) => ParamType::ULong,
        (3, _) => {
            let text = String::from_utf8_lossy(&raw)
                .trim_end_matches('\0')
                .trim()
                .to_string();
            let max = text
                .parse::<usize>()
                .ok()
                .or_else(|| {
                    raw.get(..4)
                        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                })
                .filter(|m| *m > 0)
                .ok_or_else(|| {
                    Error::new(
                        Op::Validate,
                        ErrorKind::Other,
                        format!("{name}: string parameter without a length"),
                    )
                })?;
            ParamType::String(max)
        }
        (5, f) if f.starts_with("S,in_addr") => ParamType::Ip4List,
        (5, f) if f.starts_with("S,in6_addr") => ParamType::Ip6List,
        (k, f) => {
            return Err(Error::new(
                Op::Validate,
                ErrorKind::Unsupported,
                format!("{name}: sysctl kind {k} format {f:?} not handled"),
            ))
        }
    };
    if nobool && ty != ParamType::Bool {
        return Err(unknown());
    }
    Ok((ty, nobool))
}

#[cfg(test)]
mod learn_tests {
    use super::*;

    fn fake(name: &str) -> Option<SysctlFacts> {
        let t = |k: u32, f: &str, r: &[u8]| Some((k, f.to_string(), r.to_vec()));
        match name {
            "security.jail.param.persist" => t(2, "B", &[]),
            "security.jail.param.host.hostname" => t(3, "A", b"256"),
            "security.jail.param.allow.mount" => t(1, "N", &[]),
            "security.jail.param.allow.mount." => t(2, "B", &[]),
            "security.jail.param.linux" => t(1, "N", &[]),
            "security.jail.param.linux." => t(2, "E,jailsys", &[]),
            "security.jail.param.ip4.addr" => t(5, "S,in_addr,a", &[]),
            "security.jail.param.enforce_statfs" => t(2, "I", &[]),
            "security.jail.param.host.hostid" => t(8, "LU", &[]),
            _ => None,
        }
    }

    #[test]
    fn learns_like_libjail() {
        assert_eq!(
            learn_param_type("persist", &fake).unwrap(),
            (ParamType::Bool, false)
        );
        assert_eq!(
            learn_param_type("nopersist", &fake).unwrap(),
            (ParamType::Bool, true)
        );
        assert_eq!(
            learn_param_type("host.hostname", &fake).unwrap().0,
            ParamType::String(256)
        );
        assert_eq!(
            learn_param_type("allow.mount", &fake).unwrap().0,
            ParamType::Bool
        );
        assert_eq!(
            learn_param_type("allow.nomount", &fake).unwrap(),
            (ParamType::Bool, true)
        );
        assert_eq!(
            learn_param_type("linux", &fake).unwrap().0,
            ParamType::JailSys
        );
        assert_eq!(
            learn_param_type("ip4.addr", &fake).unwrap().0,
            ParamType::Ip4List
        );
        assert_eq!(
            learn_param_type("host.hostid", &fake).unwrap().0,
            ParamType::ULong
        );
        let e = learn_param_type("linux.osrelease", &fake).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("unknown parameter: linux.osrelease"));
        assert!(
            learn_param_type("noenforce_statfs", &fake).is_err(),
            "no-form only for booleans"
        );
    }

    #[test]
    fn the_static_table_agrees_with_what_is_learned() {
        for p in [
            "persist",
            "host.hostname",
            "ip4.addr",
            "enforce_statfs",
            "host.hostid",
            "linux",
        ] {
            let (def, _) = param_def(p).unwrap();
            assert_eq!(learn_param_type(p, &fake).unwrap().0, def.ty, "{p}");
        }
    }
}
