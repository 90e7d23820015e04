//! The simulated kernel's own table of jail parameters, typed as FreeBSD 14 declares them, and
//! the value checks `kern_jail_set` makes. Nothing here comes from jail-rs (whose table and
//! encoder are what the simulation checks).
//!
//! Sources: `sys/kern/kern_jail.c` (`SYSCTL_JAIL_PARAM*` list: `jid`, `name`, `path`,
//! `securelevel`, `osreldate`, `osrelease`, `enforce_statfs`, `devfs_ruleset`, `persist`,
//! `vnet`, `children.max`, `host.*`, `ip4`/`ip6` and their `addr`/`saddrsel`, the static
//! `allow.*` flags, `allow.mount`, and `allow.mount.<fs>` added by `prison_add_vfs` for every
//! jail-aware file system while it is registered); `sys/compat/linux/linux_mib.c` (`linux`,
//! `linux.osname`, `linux.osrelease`, `linux.oss_version`, while `linux_common` is loaded);
//! `sys/kern/sysv_{msg,sem,shm}.c` (`sysvmsg`, `sysvsem`, `sysvshm`, built into GENERIC).
//! `CTLFLAG_RDTUN` parameters are set at creation only; `CTLFLAG_RD` ones cannot be set.

use crate::kld_sim::module_loaded;
use crate::State;
use jail::{JailSys, ParamValue};
use sysabi::Errno;

/// A parameter's kernel type (the sysctl format string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `"I"`.
    Int,
    /// `"LU"`.
    Ulong,
    /// `"B"`: also settable as `no<name>`.
    Bool,
    /// `"A"` with the buffer size (NUL included).
    Str(usize),
    /// `"E,jailsys"`: `disable`, `new`, `inherit`.
    Sys,
    /// `"S,in_addr,a"`.
    Ip4,
    /// `"S,in6_addr,a"`.
    Ip6,
}

/// When a parameter may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `CTLFLAG_RW`.
    Rw,
    /// `CTLFLAG_RDTUN`: at creation only.
    CreateOnly,
    /// `CTLFLAG_RD`: never.
    ReadOnly,
}

/// What must be loaded for a parameter to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Module(&'static str),
}

const MAXHOSTNAMELEN: usize = 256;
const MAXPATHLEN: usize = 1024;
const HOSTUUIDLEN: usize = 64;
const OSRELEASELEN: usize = 32;
pub(crate) const LINUX_MAX_UTSNAME: usize = 65;

use Access::{CreateOnly, ReadOnly, Rw};
use Kind::{Bool, Int, Ip4, Ip6, Str, Sys, Ulong};
use Needs::{Module, Nothing};

/// FreeBSD 14's jail parameters (see the module documentation for the sources).
const PARAMS: &[(&str, Kind, Access, Needs)] = &[
    ("jid", Int, CreateOnly, Nothing),
    ("parent", Int, ReadOnly, Nothing),
    ("name", Str(MAXHOSTNAMELEN), Rw, Nothing),
    ("path", Str(MAXPATHLEN), CreateOnly, Nothing),
    ("securelevel", Int, Rw, Nothing),
    ("osreldate", Int, CreateOnly, Nothing),
    ("osrelease", Str(OSRELEASELEN), CreateOnly, Nothing),
    ("enforce_statfs", Int, Rw, Nothing),
    ("devfs_ruleset", Int, Rw, Nothing),
    ("persist", Bool, Rw, Nothing),
    ("vnet", Sys, CreateOnly, Nothing),
    ("dying", Bool, ReadOnly, Nothing),
    ("children.cur", Int, ReadOnly, Nothing),
    ("children.max", Int, Rw, Nothing),
    ("host", Sys, Rw, Nothing),
    ("host.hostname", Str(MAXHOSTNAMELEN), Rw, Nothing),
    ("host.domainname", Str(MAXHOSTNAMELEN), Rw, Nothing),
    ("host.hostuuid", Str(HOSTUUIDLEN), Rw, Nothing),
    ("host.hostid", Ulong, Rw, Nothing),
    ("cpuset.id", Int, ReadOnly, Nothing),
    ("ip4", Sys, CreateOnly, Nothing),
    ("ip4.addr", Ip4, Rw, Nothing),
    ("ip4.saddrsel", Bool, Rw, Nothing),
    ("ip6", Sys, CreateOnly, Nothing),
    ("ip6.addr", Ip6, Rw, Nothing),
    ("ip6.saddrsel", Bool, Rw, Nothing),
    ("allow.set_hostname", Bool, Rw, Nothing),
    ("allow.sysvipc", Bool, Rw, Nothing),
    ("allow.raw_sockets", Bool, Rw, Nothing),
    ("allow.chflags", Bool, Rw, Nothing),
    ("allow.quotas", Bool, Rw, Nothing),
    ("allow.socket_af", Bool, Rw, Nothing),
    ("allow.mlock", Bool, Rw, Nothing),
    ("allow.reserved_ports", Bool, Rw, Nothing),
    ("allow.read_msgbuf", Bool, Rw, Nothing),
    ("allow.unprivileged_proc_debug", Bool, Rw, Nothing),
    ("allow.mount", Bool, Rw, Nothing),
    // prison_add_vfs: one per registered jail-aware (VFCF_JAIL) file system.
    ("allow.mount.devfs", Bool, Rw, Module("devfs")),
    ("allow.mount.fdescfs", Bool, Rw, Module("fdescfs")),
    ("allow.mount.nullfs", Bool, Rw, Module("nullfs")),
    ("allow.mount.procfs", Bool, Rw, Module("procfs")),
    ("allow.mount.linprocfs", Bool, Rw, Module("linprocfs")),
    ("allow.mount.linsysfs", Bool, Rw, Module("linsysfs")),
    ("allow.mount.tmpfs", Bool, Rw, Module("tmpfs")),
    ("allow.mount.zfs", Bool, Rw, Module("zfs")),
    ("sysvmsg", Sys, Rw, Nothing),
    ("sysvsem", Sys, Rw, Nothing),
    ("sysvshm", Sys, Rw, Nothing),
    ("linux", Sys, Rw, Module("linux_common")),
    (
        "linux.osname",
        Str(LINUX_MAX_UTSNAME),
        Rw,
        Module("linux_common"),
    ),
    (
        "linux.osrelease",
        Str(LINUX_MAX_UTSNAME),
        Rw,
        Module("linux_common"),
    ),
    ("linux.oss_version", Int, Rw, Module("linux_common")),
];

/// The table entry for `name` and whether it was the `no` form of a boolean (`nopersist`,
/// `allow.nomount`), if the parameter exists on this simulated kernel now.
fn lookup(s: &State, name: &str) -> Option<(&'static str, Kind, Access, bool)> {
    let exists = |n: &&(&str, Kind, Access, Needs)| available(s, n.3);
    if let Some(p) = PARAMS.iter().filter(exists).find(|p| p.0 == name) {
        return Some((p.0, p.1, p.2, false));
    }
    // The no-form: "no" before the last component (vfs_getopt in kern_jail_set tries both).
    let (prefix, last) = name.rsplit_once('.').map_or(("", name), |(a, b)| (a, b));
    let base_last = last.strip_prefix("no")?;
    let base = if prefix.is_empty() {
        base_last.to_string()
    } else {
        format!("{prefix}.{base_last}")
    };
    PARAMS
        .iter()
        .filter(exists)
        .find(|p| p.0 == base && p.1 == Bool)
        .map(|p| (p.0, p.1, p.2, true))
}

/// The kind of the parameter `name` as it exists now (modules loaded), for
/// `security.jail.param.*`.
pub(crate) fn kind_of(s: &State, name: &str) -> Option<Kind> {
    PARAMS
        .iter()
        .find(|p| p.0 == name && available(s, p.3))
        .map(|p| p.1)
}

/// Whether some parameter that exists now lies below `prefix` (`linux` → `linux.osname`).
pub(crate) fn has_children(s: &State, prefix: &str) -> bool {
    PARAMS
        .iter()
        .any(|p| p.0.starts_with(&format!("{prefix}.")) && available(s, p.3))
}

fn available(s: &State, n: Needs) -> bool {
    match n {
        Nothing => true,
        Module(m) => module_loaded(s, m),
    }
}

/// `linux_map_osrel` (sys/compat/linux/linux_mib.c): `a.b.c` with `a ≥ 1`, then the end or
/// `-` and at least one character.
pub(crate) fn linux_osrelease_ok(s: &str) -> bool {
    let (nums, suffix) = match s.find('-') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].parse::<u32>().is_ok_and(|a| a >= 1)
        && suffix.is_none_or(|x| !x.is_empty())
}

/// Checks one parameter as `kern_jail_set` would; returns it normalised (a `no` form becomes
/// the parameter with the value inverted).
///
/// # Errors
/// `(errno, errmsg)` as the kernel reports them.
pub(crate) fn check(
    s: &State,
    name: &str,
    v: &ParamValue,
    creating: bool,
) -> Result<(String, ParamValue), (Errno, String)> {
    let unknown = || (Errno::ENOENT, format!("unknown parameter: {name}"));
    let Some((base, kind, access, no)) = lookup(s, name) else {
        return Err(unknown());
    };
    let bad = |why: &str| (Errno::EINVAL, format!("{name}: {why}"));
    match access {
        ReadOnly => return Err(bad("cannot be set")),
        CreateOnly if !creating => {
            return Err((
                Errno::EINVAL,
                format!("{base} cannot be changed after creation"),
            ))
        }
        _ => {}
    }
    let value = match (kind, v) {
        (Int, ParamValue::Int(i)) if i32::try_from(*i).is_ok() => v.clone(),
        (Ulong, ParamValue::Int(i)) if *i >= 0 => v.clone(),
        (Bool, ParamValue::Bool(b)) => ParamValue::Bool(*b != no),
        (Str(len), ParamValue::Str(t)) if t.len() < len && !t.contains('\0') => v.clone(),
        (Str(len), ParamValue::Str(_)) => {
            return Err((
                Errno::ENAMETOOLONG,
                format!("{name} is too long (max {})", len - 1),
            ))
        }
        (Sys, ParamValue::Sys(JailSys::Disable | JailSys::New | JailSys::Inherit)) => v.clone(),
        (Ip4, ParamValue::Ip4(_)) | (Ip6, ParamValue::Ip6(_)) => v.clone(),
        _ => return Err(bad("wrong type of value")),
    };
    // The range checks kern_jail_set makes on the values it reads.
    match (base, &value) {
        ("enforce_statfs", ParamValue::Int(e)) if !(0..=2).contains(e) => {
            return Err(bad("must be 0, 1 or 2"))
        }
        ("devfs_ruleset", ParamValue::Int(r)) if !(0..=65535).contains(r) => {
            return Err(bad("out of range"))
        }
        ("children.max", ParamValue::Int(c)) if *c < 0 => return Err(bad("out of range")),
        ("linux.osrelease", ParamValue::Str(t)) if !linux_osrelease_ok(t) => {
            return Err((
                Errno::EINVAL,
                format!("linux.osrelease {t:?} is not a.b.c[-suffix]"),
            ))
        }
        _ => {}
    }
    Ok((base.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimHost;

    /// Each rule here fails if removed: the table, the module dependence, the no-forms, the
    /// create-only and read-only parameters, the value ranges and linux_map_osrel.
    #[test]
    fn the_kernels_own_parameter_rules() {
        let h = SimHost::freebsd14_with_gpus(0);
        h.with_state(|s| {
            let c = |n: &str, v: ParamValue| check(s, n, &v, true);
            assert_eq!(
                c("persist", ParamValue::Bool(true)).unwrap().1,
                ParamValue::Bool(true)
            );
            assert_eq!(
                c("nopersist", ParamValue::Bool(true)).unwrap(),
                ("persist".into(), ParamValue::Bool(false))
            );
            assert_eq!(
                c("allow.nomount", ParamValue::Bool(true)).unwrap(),
                ("allow.mount".into(), ParamValue::Bool(false))
            );
            assert_eq!(
                c("no.such", ParamValue::Int(1)).unwrap_err().1,
                "unknown parameter: no.such"
            );
            assert!(
                c("noenforce_statfs", ParamValue::Bool(true)).is_err(),
                "no-form of an int"
            );
            // linux.* only with linux_common loaded.
            assert!(c("linux.osrelease", ParamValue::Str("6.8.0".into())).is_err());
            assert!(c("enforce_statfs", ParamValue::Int(3)).is_err());
            assert!(
                c("enforce_statfs", ParamValue::Str("1".into())).is_err(),
                "typed"
            );
            assert!(c("devfs_ruleset", ParamValue::Int(70000)).is_err());
            assert!(c("dying", ParamValue::Bool(true)).is_err(), "read-only");
            assert!(
                check(s, "path", &ParamValue::Str("/x".into()), false).is_err(),
                "create-only"
            );
            assert!(c("host.hostname", ParamValue::Str("x".repeat(256))).is_err());
            assert!(c("host.hostname", ParamValue::Str("x".repeat(255))).is_ok());
        });
        kld::ensure_loaded(&h, &["linux64"]).unwrap();
        h.with_state(|s| {
            let c = |t: &str| check(s, "linux.osrelease", &ParamValue::Str(t.into()), true);
            assert!(c("6.8.0").is_ok());
            assert!(c("6.8.0-45-generic").is_ok());
            for bad in ["6.8", "6.8.0-", "0.1.2", "6.x.0", "6.8.0.1"] {
                assert!(c(bad).is_err(), "{bad}");
            }
            assert!(c(&format!("6.8.0-{}", "x".repeat(58))).is_ok());
            assert!(
                c(&format!("6.8.0-{}", "x".repeat(59))).is_err(),
                "66 bytes with the NUL"
            );
        });
    }
}
