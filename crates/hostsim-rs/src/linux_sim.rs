//! Sysctls and mounts, after sysctl(3), nmount(2), unmount(2) and the file systems' mount code.
//!
//! Sysctls: a missing name is `ENOENT`; read-only names (`kern.osrelease`,
//! `security.jail.jailed`, `hw.nvidia.version`) are `EPERM` on write; `compat.linux.*` exist only
//! while `linux_common` is loaded (see the kld simulation).
//!
//! Mounts: the mount point is resolved beneath the jail root without following symlinks or `..`
//! (`ENOTCAPABLE`), must exist (`ENOENT`) and be a directory (`ENOTDIR`); the file system must be
//! compiled in or loaded (`ENODEV`); options a file system does not know fail with `EINVAL` and
//! errmsg `"mount option <x> is unknown"` (vfs_filteropt); devfs's `ruleset` must be a decimal
//! 0..65535 (`EINVAL` "invalid ruleset specification"); nullfs's source must be an existing
//! directory; tmpfs reads `size` and `mode` as the kernel does, silently taking its defaults
//! for values it cannot read (`crate::tmpfs_model`, recorded as [`SimMount::tmpfs`]). Mounts
//! stack on a mount point; unmounting a path with nothing mounted is `EINVAL`,
//! and one with mounts beneath it is `EBUSY`.

use crate::kld_sim::module_loaded;
use crate::{Args, SimHost};
use linuxulator::{
    from_errno, MountFlags, MountOps, MountSpec, MountedFs, Op, Result, SysctlDesc, SysctlOps,
};
use sysabi::Errno;

/// A mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimMount {
    /// Type.
    pub fstype: String,
    /// Source.
    pub from: String,
    /// devfs: the mount's current ruleset.
    pub ruleset: Option<u16>,
    /// Options as given.
    pub options: Vec<(String, Option<String>)>,
    /// Flags.
    pub flags: u32,
    /// tmpfs: the limit and root mode the kernel made of the options
    /// ([`crate::TmpfsRoot`]; a value it cannot read is silently its default).
    #[serde(default)]
    pub tmpfs: Option<crate::TmpfsRoot>,
}

impl SimMount {
    /// A mount with no options.
    pub fn new(fstype: &str, from: &str, ruleset: Option<u16>) -> SimMount {
        SimMount {
            fstype: fstype.into(),
            from: from.into(),
            ruleset,
            options: vec![],
            flags: 0,
            tmpfs: None,
        }
    }
}

const READ_ONLY: &[&str] = &[
    "kern.osrelease",
    "security.jail.jailed",
    "hw.nvidia.version",
];

fn known_options(fstype: &str) -> &'static [&'static str] {
    match fstype {
        "devfs" => &["ruleset"],
        // tmpfs_opts (FreeBSD 14, sys/fs/tmpfs/tmpfs_vfsops.c).
        "tmpfs" => &[
            "from",
            "easize",
            "size",
            "maxfilesize",
            "inodes",
            "uid",
            "gid",
            "mode",
            "export",
            "union",
            "nonc",
            "nomtime",
            "nosymfollow",
            "pgread",
        ],
        "fdescfs" => &["linrdlnk", "nodup"],
        "nullfs" => &["nocache", "cache"],
        _ => &[],
    }
}

impl SysctlOps for SimHost {
    fn get(&self, name: &str) -> Result<Option<String>> {
        if let Some(e) = self.enter(Args::SysctlGet {
            name: name.to_string(),
        }) {
            return Err(from_errno(Op::SysctlGet, e, name));
        }
        Ok(self.st().sysctls.get(name).cloned())
    }

    /// Plain sysctls are described as integers (`I`) when their value parses as one, else
    /// strings (`A`). `security.jail.param.*` is generated from the parameters that exist now
    /// (modules loaded), with nodes and their empty-named type children as the kernel has them.
    fn describe(&self, name: &str) -> Result<Option<SysctlDesc>> {
        if let Some(e) = self.enter(Args::SysctlGet {
            name: name.to_string(),
        }) {
            return Err(from_errno(Op::SysctlGet, e, name));
        }
        let s = self.st();
        if let Some(rest) = name.strip_prefix("security.jail.param.") {
            use crate::jail_params::Kind;
            let desc = |k: Kind| {
                let (kind, fmt, raw): (u32, &str, Vec<u8>) = match k {
                    Kind::Bool => (2, "B", vec![]),
                    Kind::Int => (2, "I", vec![]),
                    Kind::Ulong => (8, "LU", vec![]),
                    Kind::Str(n) => (3, "A", n.to_string().into_bytes()),
                    Kind::Sys => (2, "E,jailsys", vec![]),
                    Kind::Ip4 => (5, "S,in_addr,a", vec![]),
                    Kind::Ip6 => (5, "S,in6_addr,a", vec![]),
                };
                SysctlDesc {
                    kind,
                    fmt: fmt.into(),
                    raw,
                }
            };
            let node = SysctlDesc {
                kind: 1,
                fmt: "N".into(),
                raw: vec![],
            };
            let has_children = |p: &str| crate::jail_params::has_children(&s, p);
            let def = |p: &str| crate::jail_params::kind_of(&s, p);
            let r = if let Some(base) = rest.strip_suffix('.') {
                def(base).map(desc)
            } else if has_children(rest) {
                Some(node)
            } else {
                def(rest).map(desc)
            };
            return Ok(r);
        }
        Ok(s.sysctls.get(name).map(|v| match v.parse::<i64>() {
            Ok(i) => SysctlDesc {
                kind: 2,
                fmt: "I".into(),
                raw: (i as i32).to_ne_bytes().to_vec(),
            },
            Err(_) => {
                let mut raw = v.as_bytes().to_vec();
                raw.push(0);
                SysctlDesc {
                    kind: 3,
                    fmt: "A".into(),
                    raw,
                }
            }
        }))
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        if let Some(e) = self.enter(Args::SysctlSet {
            name: name.to_string(),
            value: value.to_string(),
        }) {
            return Err(from_errno(Op::SysctlSet, e, name));
        }
        let mut s = self.st();
        let Some(cur) = s.sysctls.get(name) else {
            self.failed(Errno::ENOENT);
            return Err(from_errno(Op::SysctlSet, Errno::ENOENT, name));
        };
        if READ_ONLY.contains(&name) {
            self.failed(Errno::EPERM);
            return Err(from_errno(Op::SysctlSet, Errno::EPERM, name).detail("read-only sysctl"));
        }
        if cur.parse::<i64>().is_ok() && value.parse::<i64>().is_err() {
            self.failed(Errno::EINVAL);
            return Err(from_errno(Op::SysctlSet, Errno::EINVAL, name).detail("integer sysctl"));
        }
        // linux_sysctl_osrelease → linux_set_osrelease → linux_map_osrel
        // (sys/compat/linux/linux_mib.c), into a LINUX_MAX_UTSNAME (65-byte) buffer.
        if name == "compat.linux.osrelease"
            && (value.len() >= crate::jail_params::LINUX_MAX_UTSNAME
                || !crate::jail_params::linux_osrelease_ok(value))
        {
            self.failed(Errno::EINVAL);
            return Err(from_errno(Op::SysctlSet, Errno::EINVAL, name)
                .detail(format!("{value:?} is not a.b.c[-suffix]")));
        }
        s.sysctls.insert(name.into(), value.into());
        Ok(())
    }
}

impl MountOps for SimHost {
    fn mount(&self, root: &str, spec: &MountSpec) -> Result<String> {
        let subject = format!("{root}/{}", spec.target);
        if let Some(e) = self.enter(Args::Mount {
            root: root.to_string(),
            spec: spec.clone(),
        }) {
            return Err(from_errno(Op::Mount, e, &subject));
        }
        let pairs = spec.nmount_pairs(&subject)?;
        let mut s = self.st();
        let fail = |e: Errno, msg: Option<String>| {
            self.failed(e);
            let err = from_errno(Op::Mount, e, &subject);
            Err(match msg {
                Some(m) => err.kernel_msg(m),
                None => err,
            })
        };
        // A mount point inside a devfs is looked up by devfs (hidden entries are ENOENT).
        let full = crate::fs::normalize(&subject);
        let found = match s.devfs_lookup(&full) {
            Some(r) => r.map(|n| (full, n)),
            None => s.resolve_beneath(root, &spec.target),
        };
        let (on, node) = match found {
            Ok(x) => x,
            Err(e) => return fail(e, None),
        };
        if node != crate::Node::Dir {
            return fail(Errno::ENOTDIR, None);
        }
        let fs_ok = match spec.fstype.as_str() {
            "devfs" | "tmpfs" | "nullfs" => module_loaded(&s, &spec.fstype),
            "fdescfs" | "linprocfs" | "linsysfs" | "procfs" | "zfs" => {
                module_loaded(&s, &spec.fstype)
            }
            _ => false,
        };
        if !fs_ok {
            return fail(Errno::ENODEV, None);
        }
        let known = known_options(&spec.fstype);
        for (k, _) in pairs.iter().skip(3) {
            if !known.contains(&k.as_str()) {
                return fail(
                    Errno::EINVAL,
                    Some(format!("mount option <{k}> is unknown")),
                );
            }
        }
        let mut ruleset = None;
        if spec.fstype == "devfs" {
            let r = spec
                .options
                .iter()
                .find(|(k, _)| k == "ruleset")
                .and_then(|(_, v)| v.clone());
            match r.map(|v| v.parse::<u16>()) {
                None => ruleset = Some(0),
                Some(Ok(n)) => ruleset = Some(n),
                Some(Err(_)) => {
                    return fail(Errno::EINVAL, Some("invalid ruleset specification".into()))
                }
            }
        }
        if spec.fstype == "nullfs" {
            match s.resolve(&spec.from) {
                Ok((_, crate::Node::Dir)) => {}
                Ok(_) => return fail(Errno::ENOTDIR, None),
                Err(e) => return fail(e, None),
            }
        }
        let tmpfs = (spec.fstype == "tmpfs").then(|| {
            let covered = if s.below_devfs(&on).is_some() {
                crate::tmpfs_model::DEVFS_DIR_MODE
            } else {
                s.perms.get(&on).map_or(0o755, |p| p.mode)
            };
            crate::tmpfs_model::mount_root(&spec.options, covered)
        });
        s.mounts.entry(on.clone()).or_default().push(SimMount {
            fstype: spec.fstype.clone(),
            from: spec.from.clone(),
            ruleset,
            options: spec.options.clone(),
            flags: spec.flags.bits(),
            tmpfs,
        });
        Ok(on)
    }

    fn unmount(&self, on: &str, _flags: MountFlags) -> Result<()> {
        if let Some(e) = self.enter(Args::Unmount {
            target: on.to_string(),
        }) {
            return Err(from_errno(Op::Unmount, e, on));
        }
        let mut s = self.st();
        let p = crate::fs::normalize(on);
        if s.mounts.get(&p).is_none_or(|v| v.is_empty()) {
            self.failed(Errno::EINVAL);
            return Err(from_errno(Op::Unmount, Errno::EINVAL, on).detail("not a mount point"));
        }
        // A dying jail's processes still hold vnodes below its root: its mounts are busy.
        if s.dying_jails
            .values()
            .any(|(j, _)| p == j.path || p.starts_with(&format!("{}/", j.path)))
        {
            self.failed(Errno::EBUSY);
            return Err(from_errno(Op::Unmount, Errno::EBUSY, on).detail("a dying jail holds it"));
        }
        let prefix = format!("{p}/");
        if s.mounts
            .iter()
            .any(|(k, v)| k.starts_with(&prefix) && !v.is_empty())
        {
            self.failed(Errno::EBUSY);
            return Err(from_errno(Op::Unmount, Errno::EBUSY, on));
        }
        if let Some(v) = s.mounts.get_mut(&p) {
            v.pop();
            if v.is_empty() {
                s.mounts.remove(&p);
            }
        }
        Ok(())
    }

    fn mounts(&self) -> Result<Vec<MountedFs>> {
        if let Some(e) = self.enter(Args::Mounts) {
            return Err(from_errno(Op::MountList, e, ""));
        }
        let s = self.st();
        Ok(s.mounts
            .iter()
            .flat_map(|(on, v)| {
                v.iter().map(move |m| MountedFs {
                    fstype: m.fstype.clone(),
                    from: m.from.clone(),
                    on: on.clone(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::SimHost;
    use kld::KldOps;
    use linuxulator::mount::Bind;
    use linuxulator::{linux_mount_set, ErrorKind, MountFlags, MountOps, SysctlOps};

    fn host() -> SimHost {
        let h = SimHost::freebsd14_with_gpus(1);
        h.with_state(|s| {
            for d in ["dev", "dev/shm", "dev/fd", "proc", "sys", "home"] {
                s.mkdir_p(&format!("/j/r/{d}")).unwrap();
            }
            s.mkdir_p("/home").unwrap();
        });
        h
    }

    #[test]
    fn the_linux_set_mounts_and_unmounts_in_reverse() {
        let h = host();
        let set = linux_mount_set(
            100,
            Some("1g"),
            &[Bind {
                host: "/home".into(),
                target: "home".into(),
                rw: false,
            }],
        );
        // Without the modules, fdescfs is not there.
        assert_eq!(
            h.mount("/j/r", &set[2]).unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        kld::ensure_loaded(&h, &["fdescfs", "linprocfs", "linsysfs"]).unwrap();
        let mut done = Vec::new();
        for m in &set {
            done.push(h.mount("/j/r", m).unwrap());
        }
        assert_eq!(done[0], "/j/r/dev");
        assert_eq!(
            h.unmount("/j/r/dev", MountFlags::empty())
                .unwrap_err()
                .kind(),
            ErrorKind::Busy
        );
        for on in done.iter().rev() {
            h.unmount(on, MountFlags::empty()).unwrap();
        }
        assert_eq!(
            h.unmount("/j/r/dev", MountFlags::empty())
                .unwrap_err()
                .errno(),
            Some(linuxulator::Errno::EINVAL)
        );
        assert_eq!(
            h.mounts().unwrap().len(),
            2,
            "only /dev and the pool remain"
        );
    }

    #[test]
    fn a_planted_symlink_never_leads_a_mount_onto_the_host() {
        let h = host();
        h.load("linprocfs").unwrap();
        h.with_state(|s| {
            s.files.remove("/j/r/proc");
            s.symlink("/j/r/proc", "/").unwrap();
        });
        let before = h.snapshot();
        let set = linux_mount_set(100, None, &[]);
        let e = h.mount("/j/r", &set[3]).unwrap_err();
        assert_eq!(e.errno(), Some(linuxulator::Errno::ENOTCAPABLE));
        assert_eq!(
            h.snapshot(),
            before,
            "nothing mounted anywhere, on / least of all"
        );
    }

    #[test]
    fn option_and_ruleset_checks() {
        let h = host();
        let mut devfs = linux_mount_set(100, None, &[])[0].clone();
        devfs.options = vec![("ruleset".into(), Some("x".into()))];
        assert_eq!(
            h.mount("/j/r", &devfs).unwrap_err().kernel_message(),
            Some("invalid ruleset specification")
        );
        devfs.options = vec![("bogus".into(), None)];
        assert_eq!(
            h.mount("/j/r", &devfs).unwrap_err().kernel_message(),
            Some("mount option <bogus> is unknown")
        );
        let bind = linux_mount_set(
            0,
            None,
            &[Bind {
                host: "/nope".into(),
                target: "home".into(),
                rw: true,
            }],
        );
        assert_eq!(
            h.mount("/j/r", &bind[5]).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn jail_parameter_types_are_learned_like_libjail() {
        let h = host();
        let look = |n: &str| h.describe(n).unwrap().map(|d| (d.kind, d.fmt, d.raw));
        assert_eq!(
            jail::learn_param_type("allow.nomount", &look).unwrap(),
            (jail::ParamType::Bool, true)
        );
        assert_eq!(
            jail::learn_param_type("host.hostname", &look).unwrap().0,
            jail::ParamType::String(256)
        );
        assert_eq!(
            jail::learn_param_type("linux", &look).unwrap_err().kind(),
            jail::ErrorKind::NotFound
        );
        h.load("linux64").unwrap();
        assert_eq!(
            jail::learn_param_type("linux", &look).unwrap().0,
            jail::ParamType::JailSys,
            "a node with a typed child"
        );
        assert_eq!(
            jail::learn_param_type("linux.osrelease", &look).unwrap().0,
            jail::ParamType::String(65)
        );
        for d in jail::KNOWN_PARAMS {
            if let Ok((ty, _)) = jail::learn_param_type(d.name, &look) {
                assert_eq!(ty, d.ty, "{}", d.name);
            }
        }
    }

    #[test]
    fn sysctl_rules() {
        let h = host();
        assert_eq!(
            h.set("kern.osrelease", "x").unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            h.set("no.such", "1").unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            h.set("kern.elf64.fallback_brand", "linux")
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        h.set("kern.elf64.fallback_brand", "3").unwrap();
        h.load("linux64").unwrap();
        assert!(h.set("compat.linux.osrelease", "6.8").is_err());
        assert!(h.set("compat.linux.osrelease", "6.8.0-").is_err());
        assert!(h
            .set(
                "compat.linux.osrelease",
                &format!("6.8.0-{}", "x".repeat(60))
            )
            .is_err());
        h.set("compat.linux.osrelease", "6.8.0-45-generic").unwrap();
        h.set("compat.linux.osrelease", "6.8.0").unwrap();
        assert_eq!(
            h.get("compat.linux.osrelease").unwrap().as_deref(),
            Some("6.8.0")
        );
    }
}

#[cfg(test)]
mod compat_tests {
    use crate::SimHost;
    use kld::KldOps;
    use linuxulator::compat;
    use linuxulator::{linux_mount_set, ErrorKind, LinuxRelease, MountOps};

    #[test]
    fn typed_compat_sysctls() {
        let h = SimHost::freebsd14_with_gpus(0);
        assert_eq!(
            compat::osrelease(&h).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(compat::fallback_brand(&h).unwrap(), -1);
        h.load("linux64").unwrap();
        assert_eq!(compat::osrelease(&h).unwrap(), LinuxRelease(5, 15, 0));
        compat::set_osrelease(&h, LinuxRelease(6, 8, 0)).unwrap();
        assert!(compat::osrelease(&h).unwrap() >= LinuxRelease(6, 1, 0));
        assert_eq!(compat::osname(&h).unwrap(), "Linux");
        assert_eq!(compat::oss_version(&h).unwrap(), 198_144);
        assert_eq!(compat::emul_path(&h).unwrap(), "/compat/linux");
    }

    /// devfs_model: `shm` exists in devfs only with the Linux ABI loaded, a hide-all ruleset
    /// hides it (a mount onto it is ENOENT), unhiding it makes it a mount point, and nothing
    /// below a devfs comes from the directory it covers.
    #[test]
    fn mount_points_inside_devfs_follow_devfs() {
        use devfs::{DevfsOps, Rule, RulesetId};
        use kld::KldOps;
        use linuxulator::readiness::FsView;
        let h = SimHost::freebsd14_with_gpus(1);
        h.with_state(|s| {
            // The covered directory has a `shm`: devfs must not show it.
            s.mkdir_p("/j/r/dev/shm").unwrap();
        });
        let set = linux_mount_set(0, None, &[]);
        h.mount("/j/r", &set[0]).unwrap();
        assert!(!h.exists("/j/r/dev/shm"), "no Linux ABI: no shm in devfs");
        assert_eq!(
            h.mount("/j/r", &set[1]).unwrap_err().errno(),
            Some(sysabi::Errno::ENOENT)
        );
        h.load("linux64").unwrap();
        assert!(h.exists("/j/r/dev/shm"));
        assert!(h
            .read_dir("/j/r/dev/shm")
            .contains(&".mountpoint".to_string()));
        // A hide-all ruleset on the mount hides it again.
        let dev = std::path::Path::new("/j/r/dev");
        h.add_rule(dev, RulesetId(0), &Rule::hide_all())
            .unwrap_err();
        h.use_ruleset(dev, RulesetId(7)).unwrap();
        h.add_rule(dev, RulesetId(7), &Rule::hide_all()).unwrap();
        assert!(!h.exists("/j/r/dev/shm"));
        assert!(!h.exists("/j/r/dev/null"));
        assert_eq!(
            h.mount("/j/r", &set[1]).unwrap_err().errno(),
            Some(sysabi::Errno::ENOENT)
        );
        h.add_rule(dev, RulesetId(7), &Rule::unhide("shm")).unwrap();
        assert!(h.exists("/j/r/dev/shm"));
        h.mount("/j/r", &set[1]).unwrap();
    }

    #[test]
    fn unmount_all_goes_deepest_first_and_reports_busy() {
        let h = SimHost::freebsd14_cuda_ready(1);
        h.with_state(|s| {
            for d in ["dev", "proc", "sys"] {
                s.mkdir_p(&format!("/j/r/{d}")).unwrap();
            }
        });
        // Ruleset 0 hides nothing: devfs shows `shm` (the Linux ABI is loaded) and `fd`.
        let set = linux_mount_set(0, Some("1m"), &[]);
        h.mount("/j/r", &set[0]).unwrap();
        for m in &set[1..] {
            h.mount("/j/r", m).unwrap();
        }
        h.fail_at(crate::Verb::Unmount, 2, sysabi::Errno::EBUSY);
        let e = compat::unmount_all(&h, "/j/r", true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert!(e.to_string().contains("already unmounted"), "{e}");
        let done = compat::unmount_all(&h, "/j/r", true).unwrap();
        let pos = |p: &str| done.iter().position(|d| d == p).unwrap();
        assert!(
            pos("/j/r/dev/shm") < pos("/j/r/dev"),
            "children before their parent: {done:?}"
        );
        assert!(h
            .mounts()
            .unwrap()
            .iter()
            .all(|m| !m.on.starts_with("/j/r")));
    }
}
