//! Jails, after kern_jail.c and jail(2).
//!
//! Rules modelled: jids come from `lastprid + 1` upward, skipping ids in use, so a removed
//! jid is not handed out again until the counter wraps (at 999999, `JAIL_MAX`); names are
//! unique (`EEXIST`); a new jail must persist (`EINVAL` "new jail must persist or attach":
//! attaching is not simulated); `path` must exist (`ENOENT`) and be a directory (`ENOTDIR`, no
//! errmsg: the kernel returns namei's error without setting one — from memory); parameters are
//! typed as the kernel types them, unknown ones fail with `EINVAL` "unknown parameter: NAME";
//! `linux.*` exist only while `linux_common` is loaded, `allow.mount.<fs>` only while that file
//! system is registered, `sysv*` always (built into GENERIC); `ip4`/`ip6`/`vnet`/`path` cannot
//! change on update (`EINVAL` "… cannot be changed after creation"); an update of a missing
//! jid is `ENOENT` "jail N not found"; `jail_remove(2)` of an unknown jid is `EINVAL`; removing
//! a jail drops its `zfs jail` attachments. Hierarchical names need the parent to exist.

use crate::{Args, SimHost, State};
use jail::{from_errno, JailInfo, JailName, JailOps, JailSpec, Jid, Op, ParamValue, Result};
use std::collections::BTreeMap;
use sysabi::Errno;

/// `JAIL_MAX`.
const JAIL_MAX: i32 = 999_999;

/// A jail in the simulated kernel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimJail {
    /// Name, as the kernel keeps it (a jail made by another tool may have a name `JailName`
    /// refuses; an unnamed one is named by its jid).
    pub name: String,
    /// Root.
    pub path: String,
    /// Parameters as set (bool no-forms normalised).
    #[serde(with = "params_serde")]
    pub params: BTreeMap<String, ParamValue>,
}

/// jail-rs's `ParamValue` serialises untagged and does not deserialise; a saved simulated host
/// keeps each value with its kind.
mod params_serde {
    use jail::{JailSys, ParamValue};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[derive(Serialize, Deserialize)]
    enum Tagged {
        Int(i64),
        Bool(bool),
        Str(String),
        Sys(JailSys),
        Ip4(Vec<Ipv4Addr>),
        Ip6(Vec<Ipv6Addr>),
    }

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, ParamValue>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let t: BTreeMap<&String, Tagged> = m
            .iter()
            .map(|(k, v)| {
                let t = match v {
                    ParamValue::Int(i) => Tagged::Int(*i),
                    ParamValue::Bool(b) => Tagged::Bool(*b),
                    ParamValue::Str(x) => Tagged::Str(x.clone()),
                    ParamValue::Sys(x) => Tagged::Sys(*x),
                    ParamValue::Ip4(x) => Tagged::Ip4(x.clone()),
                    ParamValue::Ip6(x) => Tagged::Ip6(x.clone()),
                };
                (k, t)
            })
            .collect();
        t.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, ParamValue>, D::Error> {
        let t = BTreeMap::<String, Tagged>::deserialize(d)?;
        Ok(t.into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Tagged::Int(i) => ParamValue::Int(i),
                    Tagged::Bool(b) => ParamValue::Bool(b),
                    Tagged::Str(x) => ParamValue::Str(x),
                    Tagged::Sys(x) => ParamValue::Sys(x),
                    Tagged::Ip4(x) => ParamValue::Ip4(x),
                    Tagged::Ip6(x) => ParamValue::Ip6(x),
                };
                (k, v)
            })
            .collect())
    }
}

/// Checks and normalises every parameter with the simulated kernel's own table
/// ([`crate::jail_params`]).
fn check_params(
    s: &State,
    params: &[(String, ParamValue)],
    creating: bool,
) -> std::result::Result<BTreeMap<String, ParamValue>, (Errno, String)> {
    params
        .iter()
        .map(|(n, v)| crate::jail_params::check(s, n, v, creating))
        .collect()
}

impl SimHost {
    fn jail_err(
        &self,
        op: Op,
        e: Errno,
        subject: impl std::fmt::Display,
        msg: Option<String>,
    ) -> jail::Error {
        self.failed(e);
        let err = from_errno(op, e, subject);
        match msg {
            Some(m) => err.kernel_msg(m),
            None => err,
        }
    }
}

impl JailOps for SimHost {
    fn create(&self, spec: &JailSpec) -> Result<Jid> {
        if let Some(e) = self.enter(Args::JailCreate { spec: spec.clone() }) {
            return Err(from_errno(Op::Create, e, &spec.name));
        }
        let mut s = self.st();
        let name = spec.name.as_str();
        if s.jails.values().any(|j| j.name == spec.name.as_str()) {
            return Err(self.jail_err(
                Op::Create,
                Errno::EEXIST,
                name,
                Some(format!("jail \"{name}\" already exists")),
            ));
        }
        if let Some(parent) = spec.name.parent() {
            if !s.jails.values().any(|j| j.name == parent.as_str()) {
                return Err(self.jail_err(
                    Op::Create,
                    Errno::ENOENT,
                    name,
                    Some(format!("jail \"{parent}\" not found")),
                ));
            }
        }
        if !matches!(spec.get("persist"), Some(ParamValue::Bool(true))) {
            return Err(self.jail_err(
                Op::Create,
                Errno::EINVAL,
                name,
                Some("new jail must persist or attach".into()),
            ));
        }
        let params = match check_params(&s, &spec.params, true) {
            Ok(p) => p,
            Err((e, m)) => return Err(self.jail_err(Op::Create, e, name, Some(m))),
        };
        match s.resolve(&spec.path) {
            Err(e) => return Err(self.jail_err(Op::Create, e, name, None)),
            Ok((_, crate::Node::Dir)) => {}
            Ok(_) => return Err(self.jail_err(Op::Create, Errno::ENOTDIR, name, None)),
        }
        let mut jid = s.last_jid;
        loop {
            jid = if jid >= JAIL_MAX { 1 } else { jid + 1 };
            if !s.jails.contains_key(&jid) {
                break;
            }
            if jid == s.last_jid {
                return Err(self.jail_err(
                    Op::Create,
                    Errno::EAGAIN,
                    name,
                    Some("no available jail IDs".into()),
                ));
            }
        }
        s.last_jid = jid;
        s.jails.insert(
            jid,
            SimJail {
                name: spec.name.as_str().to_string(),
                path: spec.path.clone(),
                params,
            },
        );
        Ok(Jid(jid))
    }

    fn update(&self, jid: Jid, params: &[(String, ParamValue)]) -> Result<()> {
        if let Some(e) = self.enter(Args::JailUpdate {
            jid,
            params: params.iter().map(|(n, _)| n.clone()).collect(),
        }) {
            return Err(from_errno(Op::Update, e, jid));
        }
        let mut s = self.st();
        if !s.jails.contains_key(&jid.0) {
            return Err(self.jail_err(
                Op::Update,
                Errno::ENOENT,
                jid,
                Some(format!("jail {jid} not found")),
            ));
        }
        let checked = match check_params(&s, params, false) {
            Ok(p) => p,
            Err((e, m)) => return Err(self.jail_err(Op::Update, e, jid, Some(m))),
        };
        if let Some(j) = s.jails.get_mut(&jid.0) {
            j.params.extend(checked);
        }
        Ok(())
    }

    fn get(&self, name: &JailName) -> Result<Option<JailInfo>> {
        if let Some(e) = self.enter(Args::JailGet {
            name: name.as_str().to_string(),
            dying: false,
        }) {
            return Err(from_errno(Op::Get, e, name));
        }
        let s = self.st();
        Ok(s.jails
            .iter()
            .find(|(_, j)| j.name == name.as_str())
            .map(|(id, j)| info(*id, j)))
    }

    /// `JAIL_DYING`: a removed jail is found (with `dying`) for `jail_linger` lookups after its
    /// removal, then it is gone (`prison_deref` freed it).
    fn get_dying(&self, name: &JailName) -> Result<Option<JailInfo>> {
        if let Some(e) = self.enter(Args::JailGet {
            name: name.as_str().to_string(),
            dying: true,
        }) {
            return Err(from_errno(Op::Get, e, name));
        }
        let mut s = self.st();
        if let Some((id, j)) = s.jails.iter().find(|(_, j)| j.name == name.as_str()) {
            return Ok(Some(info(*id, j)));
        }
        let Some(id) = s
            .dying_jails
            .iter()
            .find(|(_, (j, _))| j.name == name.as_str())
            .map(|(id, _)| *id)
        else {
            return Ok(None);
        };
        let (j, left) = s.dying_jails.get_mut(&id).expect("found above");
        let mut out = info(id, j);
        out.dying = true;
        *left = left.saturating_sub(1);
        if *left == 0 {
            s.dying_jails.remove(&id);
        }
        Ok(Some(out))
    }

    fn list(&self) -> Result<Vec<JailInfo>> {
        if let Some(e) = self.enter(Args::JailList) {
            return Err(from_errno(Op::List, e, "lastjid"));
        }
        Ok(self.st().jails.iter().map(|(id, j)| info(*id, j)).collect())
    }

    fn remove(&self, jid: Jid) -> Result<()> {
        if let Some(e) = self.enter(Args::JailRemove { jid }) {
            return Err(from_errno(Op::Remove, e, jid));
        }
        let mut s = self.st();
        let Some(j) = s.jails.get(&jid.0).cloned() else {
            return Err(self.jail_err(Op::Remove, Errno::EINVAL, jid, None));
        };
        let prefix = format!("{}.", j.name);
        if s.jails
            .values()
            .any(|c| c.name.as_str().starts_with(&prefix))
        {
            // The kernel removes children with their parent; we refuse instead (guess: callers
            // in this workspace never create child jails).
            return Err(self.jail_err(
                Op::Remove,
                Errno::EBUSY,
                jid,
                Some("jail has child jails".into()),
            ));
        }
        // sys_jail_remove kills the processes; the prison stays dying until the last
        // reference goes (kern_jail.c: prison_remove → prison_deref).
        if let Some(j) = s.jails.remove(&jid.0) {
            if s.jail_linger > 0 {
                let linger = s.jail_linger;
                s.dying_jails.insert(jid.0, (j, linger));
            }
        }
        for d in s.datasets.values_mut() {
            d.jailed_to.retain(|j| *j != jid.0);
        }
        Ok(())
    }
}

fn info(jid: i32, j: &SimJail) -> JailInfo {
    JailInfo {
        jid: Jid(jid),
        name: j.name.clone(),
        path: j.path.clone(),
        dying: false,
        params: j
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{SimHost, Verb};
    use jail::{ErrorKind, JailName, JailOps, JailSpec, JailSys, Jid, ParamValue};
    use kld::KldOps;

    fn spec(name: &str, path: &str) -> JailSpec {
        JailSpec::new(JailName::new(name).unwrap(), path).param("persist", ParamValue::Bool(true))
    }

    fn host() -> SimHost {
        let h = SimHost::freebsd14_with_gpus(0);
        h.with_state(|s| {
            s.mkdir_p("/j/a").unwrap();
            s.mkdir_p("/j/b").unwrap();
            s.write_file("/j/file", b"x").unwrap();
        });
        h
    }

    #[test]
    fn jids_count_up_and_are_not_reused_at_once() {
        let h = host();
        let a = h.create(&spec("a", "/j/a")).unwrap();
        let b = h.create(&spec("b", "/j/b")).unwrap();
        assert_eq!((a, b), (Jid(1), Jid(2)));
        h.remove(a).unwrap();
        assert_eq!(h.create(&spec("c", "/j/a")).unwrap(), Jid(3));
    }

    #[test]
    fn jid_counter_wraps_and_skips_ids_in_use() {
        let h = host();
        h.with_state(|s| s.last_jid = 999_998);
        assert_eq!(h.create(&spec("a", "/j/a")).unwrap(), Jid(999_999));
        assert_eq!(h.create(&spec("b", "/j/a")).unwrap(), Jid(1));
    }

    #[test]
    fn kernel_refusals() {
        let h = host();
        h.create(&spec("a", "/j/a")).unwrap();
        let before = h.snapshot();
        let dup = h.create(&spec("a", "/j/b")).unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::AlreadyExists);
        assert_eq!(dup.kernel_message(), Some("jail \"a\" already exists"));
        let file = h.create(&spec("f", "/j/file")).unwrap_err();
        assert_eq!(file.errno(), Some(jail::Errno::ENOTDIR));
        assert_eq!(
            h.create(&spec("m", "/j/missing")).unwrap_err().errno(),
            Some(jail::Errno::ENOENT)
        );
        let np = h
            .create(&JailSpec::new(JailName::new("np").unwrap(), "/j/b"))
            .unwrap_err();
        assert_eq!(np.kernel_message(), Some("new jail must persist or attach"));
        let child = h.create(&spec("nope.kid", "/j/b")).unwrap_err();
        assert_eq!(child.kind(), ErrorKind::NotFound);
        assert_eq!(h.remove(Jid(77)).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(
            h.remove(Jid(77)).unwrap_err().errno(),
            Some(jail::Errno::EINVAL)
        );
        assert_eq!(h.snapshot(), before, "refused calls change nothing");
    }

    #[test]
    fn linux_params_exist_only_with_the_module() {
        let h = host();
        let s = spec("l", "/j/a").param("linux", ParamValue::Sys(JailSys::New));
        let e = h.create(&s).unwrap_err();
        assert_eq!(e.kernel_message(), Some("unknown parameter: linux"));
        let s2 = spec("m", "/j/a").param("allow.mount.linprocfs", ParamValue::Bool(true));
        assert!(h.create(&s2).is_err());
        h.load("linux64").unwrap();
        assert!(h.create(&s).is_ok());
        h.load("linprocfs").unwrap();
        assert!(h.create(&s2).is_ok());
    }

    #[test]
    fn update_rules() {
        let h = host();
        let a = h.create(&spec("a", "/j/a")).unwrap();
        h.update(a, &[("enforce_statfs".into(), ParamValue::Int(1))])
            .unwrap();
        let e = h
            .update(a, &[("ip4".into(), ParamValue::Sys(JailSys::New))])
            .unwrap_err();
        assert!(e.kernel_message().unwrap().contains("cannot be changed"));
        assert_eq!(
            h.update(Jid(9), &[]).unwrap_err().kernel_message(),
            Some("jail 9 not found")
        );
        let got = h.get(&JailName::new("a").unwrap()).unwrap().unwrap();
        assert!(got
            .params
            .contains(&("enforce_statfs".into(), ParamValue::Int(1))));
        h.update(a, &[("allow.noraw_sockets".into(), ParamValue::Bool(true))])
            .unwrap();
        let got = h.get(&JailName::new("a").unwrap()).unwrap().unwrap();
        assert!(
            got.params
                .contains(&("allow.raw_sockets".into(), ParamValue::Bool(false))),
            "no-form normalised"
        );
    }

    #[test]
    fn injected_failure_changes_nothing() {
        let h = host();
        let before = h.snapshot();
        h.fail_at(Verb::JailCreate, 1, jail::Errno::EPERM);
        assert_eq!(
            h.create(&spec("a", "/j/a")).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(h.snapshot(), before);
    }
}
