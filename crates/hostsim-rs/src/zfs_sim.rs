//! ZFS, after zfs(8), libzfs_core and the DSL's checks.
//!
//! Rules modelled: a dataset's parent must exist (`ENOENT`); names are unique (`EEXIST`);
//! snapshots are taken atomically, all in one pool (`EXDEV`), and copy the files below the
//! dataset's mountpoint; a clone needs an existing origin snapshot and starts with its files;
//! destroying a snapshot that clones depend on is `EEXIST` (the kernel's answer), a filesystem
//! with children or snapshots `EBUSY` (guess: the command line refuses first); rollback only to
//! the latest snapshot (`EEXIST` otherwise, guess) and restores its files; user properties
//! (`a:b`) inherit from parents like native inheritable ones; `origin` and `type` are read-only;
//! `zfs jail` needs an existing jail (`ENOENT`), refuses snapshots (`EINVAL`) and a second
//! attachment to the same jail (`EEXIST`); removing a jail drops its attachments.

use crate::{Args, Node, SimHost, State};
use std::collections::BTreeMap;
use sysabi::Errno;
use zfs::{from_errno, DatasetName, Op, PropName, Result, SnapshotName, ZfsOps};

/// A dataset or snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SimDataset {
    /// Locally set properties.
    pub props: BTreeMap<String, String>,
    /// For clones: the origin snapshot.
    pub origin: Option<String>,
    /// Jails this filesystem is attached to.
    pub jailed_to: Vec<i32>,
    /// For snapshots: the files below the mountpoint when it was taken (relative paths).
    pub files: Option<BTreeMap<String, Node>>,
    /// For snapshots: the modes and owners recorded below the mountpoint (relative paths).
    pub perms: Option<BTreeMap<String, rootfs::Perm>>,
    /// Creation order (the transaction group it was created in).
    pub createtxg: u64,
}

const NATIVE: &[&str] = &[
    "mountpoint",
    "compression",
    "atime",
    "jailed",
    "canmount",
    "quota",
    "recordsize",
    "readonly",
];
const INHERITABLE: &[&str] = &[
    "mountpoint",
    "compression",
    "atime",
    "jailed",
    "recordsize",
    "readonly",
];

pub(crate) fn seed(s: &mut State, pool: &str) {
    let mut d = SimDataset::default();
    d.props.insert("mountpoint".into(), format!("/{pool}"));
    s.datasets.insert(pool.into(), d);
    let _ = s.mkdir_p(&format!("/{pool}"));
    s.mounts
        .entry(format!("/{pool}"))
        .or_default()
        .push(crate::linux_sim::SimMount::new("zfs", pool, None));
}

fn parent(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(p, _)| p)
}

impl State {
    /// A property's effective value: local, else inherited (user properties and inheritable
    /// native ones), else the default (`mountpoint` = parent's + `/name`).
    pub fn zfs_prop(&self, ds: &str, prop: &str) -> Option<String> {
        let d = self.datasets.get(ds)?;
        if let Some(v) = d.props.get(prop) {
            return Some(v.clone());
        }
        match prop {
            "origin" => return d.origin.clone(),
            "type" => {
                return Some(
                    if ds.contains('@') {
                        "snapshot"
                    } else {
                        "filesystem"
                    }
                    .into(),
                )
            }
            _ => {}
        }
        let inherit = prop.contains(':') || INHERITABLE.contains(&prop);
        if !inherit {
            return None;
        }
        let p = parent(ds)?;
        let v = self.zfs_prop(p, prop)?;
        if prop == "mountpoint" {
            let last = ds.rsplit('/').next().unwrap_or(ds);
            return Some(format!("{}/{last}", v.trim_end_matches('/')));
        }
        Some(v)
    }

    fn files_below(&self, dir: &str) -> (BTreeMap<String, Node>, BTreeMap<String, rootfs::Perm>) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let below = |k: &String| k.strip_prefix(&prefix).map(str::to_string);
        (
            self.files
                .iter()
                .filter_map(|(k, v)| below(k).map(|r| (r, v.clone())))
                .collect(),
            self.perms
                .iter()
                .filter_map(|(k, v)| below(k).map(|r| (r, *v)))
                .collect(),
        )
    }

    fn replace_files_below(
        &mut self,
        dir: &str,
        (files, perms): &(BTreeMap<String, Node>, BTreeMap<String, rootfs::Perm>),
    ) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.files.retain(|k, _| !k.starts_with(&prefix));
        self.perms.retain(|k, _| !k.starts_with(&prefix));
        let _ = self.mkdir_p(dir);
        for (rel, n) in files {
            self.files.insert(format!("{prefix}{rel}"), n.clone());
        }
        for (rel, p) in perms {
            self.perms.insert(format!("{prefix}{rel}"), *p);
        }
    }
}

/// `ZAP_MAXVALUELEN`: a user property's value, NUL included, must be shorter
/// (`zfs_check_userprops` in OpenZFS's `module/zfs/zfs_ioctl.c` answers `E2BIG`).
const ZAP_MAXVALUELEN: usize = 8192;

fn check_props(props: &[(PropName, String)]) -> std::result::Result<(), Errno> {
    for (p, v) in props {
        if !p.is_user() && !NATIVE.contains(&p.as_str()) {
            return Err(Errno::EINVAL);
        }
        if p.is_user() && v.len() >= ZAP_MAXVALUELEN {
            return Err(Errno::E2BIG);
        }
    }
    Ok(())
}

impl SimHost {
    fn zfail<T>(&self, op: Op, e: Errno, subject: impl std::fmt::Display) -> Result<T> {
        self.failed(e);
        Err(from_errno(op, e, subject))
    }

    fn new_fs(
        &self,
        s: &mut State,
        fs: &DatasetName,
        props: &[(PropName, String)],
        origin: Option<&SnapshotName>,
    ) -> Result<()> {
        let op = if origin.is_some() {
            Op::Clone
        } else {
            Op::Create
        };
        if s.datasets.contains_key(fs.as_str()) {
            return self.zfail(op, Errno::EEXIST, fs);
        }
        if !parent(fs.as_str()).is_some_and(|p| s.datasets.contains_key(p)) {
            return self
                .zfail(op, Errno::ENOENT, fs)
                .map_err(|e| e.detail("parent dataset does not exist"));
        }
        if let Err(e) = check_props(props) {
            return self.zfail(op, e, fs);
        }
        let files = match origin {
            Some(o) => match s.datasets.get(&o.to_string()) {
                Some(d) => (
                    d.files.clone().unwrap_or_default(),
                    d.perms.clone().unwrap_or_default(),
                ),
                None => return self.zfail(op, Errno::ENOENT, o),
            },
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        let d = SimDataset {
            props: props
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect(),
            origin: origin.map(ToString::to_string),
            ..SimDataset::default()
        };
        s.datasets.insert(fs.to_string(), d);
        if let Some(mp) = s.zfs_prop(fs.as_str(), "mountpoint") {
            s.replace_files_below(&mp, &files);
            s.mounts
                .entry(mp)
                .or_default()
                .push(crate::linux_sim::SimMount::new("zfs", fs.as_str(), None));
        }
        Ok(())
    }
}

impl ZfsOps for SimHost {
    fn create(&self, fs: &DatasetName, props: &[(PropName, String)]) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsCreate {
            dataset: fs.clone(),
            props: props.to_vec(),
        }) {
            return Err(from_errno(Op::Create, e, fs));
        }
        let mut s = self.st();
        self.new_fs(&mut s, fs, props, None)
    }

    fn snapshot(&self, snaps: &[SnapshotName]) -> Result<()> {
        let subject = snaps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        if let Some(e) = self.enter(Args::ZfsSnapshot {
            snapshots: snaps.to_vec(),
        }) {
            return Err(from_errno(Op::Snapshot, e, &subject));
        }
        let mut s = self.st();
        let pool = snaps.first().map(|n| n.dataset().pool().to_string());
        for n in snaps {
            if Some(n.dataset().pool().to_string()) != pool {
                return self.zfail(Op::Snapshot, Errno::EXDEV, n);
            }
            if !s.datasets.contains_key(n.dataset().as_str()) {
                return self.zfail(Op::Snapshot, Errno::ENOENT, n);
            }
            if s.datasets.contains_key(&n.to_string()) {
                return self.zfail(Op::Snapshot, Errno::EEXIST, n);
            }
        }
        s.txg += 1;
        let txg = s.txg;
        for n in snaps {
            let (files, perms) = s
                .zfs_prop(n.dataset().as_str(), "mountpoint")
                .map(|mp| s.files_below(&mp))
                .unwrap_or_default();
            s.datasets.insert(
                n.to_string(),
                SimDataset {
                    files: Some(files),
                    perms: Some(perms),
                    createtxg: txg,
                    ..SimDataset::default()
                },
            );
        }
        Ok(())
    }

    fn clone_snapshot(
        &self,
        fs: &DatasetName,
        origin: &SnapshotName,
        props: &[(PropName, String)],
    ) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsClone {
            dataset: fs.clone(),
            origin: origin.clone(),
            props: props.to_vec(),
        }) {
            return Err(from_errno(Op::Clone, e, fs));
        }
        let mut s = self.st();
        if !s.datasets.contains_key(&origin.to_string()) {
            return self.zfail(Op::Clone, Errno::ENOENT, origin);
        }
        self.new_fs(&mut s, fs, props, Some(origin))
    }

    fn destroy(&self, zname: &zfs::ZfsName) -> Result<()> {
        let name: &str = &zname.to_string();
        if let Some(e) = self.enter(Args::ZfsDestroy {
            name: zname.clone(),
        }) {
            return Err(from_errno(Op::Destroy, e, name));
        }
        let mut s = self.st();
        if !s.datasets.contains_key(name) {
            return self.zfail(Op::Destroy, Errno::ENOENT, name);
        }
        if name.contains('@') {
            if s.datasets
                .values()
                .any(|d| d.origin.as_deref() == Some(name))
            {
                return self.zfail(Op::Destroy, Errno::EEXIST, name);
            }
        } else if s
            .datasets
            .keys()
            .any(|k| k.starts_with(&format!("{name}/")) || k.starts_with(&format!("{name}@")))
        {
            return self.zfail(Op::Destroy, Errno::EBUSY, name);
        }
        if !name.contains('@') {
            if let Some(mp) = s.zfs_prop(name, "mountpoint") {
                // zfs destroy unmounts the file system first; FreeBSD's dounmount refuses while
                // other file systems are mounted below it or stacked on it (their covered
                // vnodes are in use: EBUSY, "pool or dataset is busy").
                let prefix = format!("{mp}/");
                let ours_on_top = s
                    .mounts
                    .get(&mp)
                    .and_then(|v| v.last())
                    .is_none_or(|m| m.fstype == "zfs" && m.from == name);
                if !ours_on_top || s.mounts.keys().any(|k| k.starts_with(&prefix)) {
                    return self.zfail(Op::Destroy, Errno::EBUSY, name);
                }
                if let Some(v) = s.mounts.get_mut(&mp) {
                    v.retain(|m| !(m.fstype == "zfs" && m.from == name));
                    if v.is_empty() {
                        s.mounts.remove(&mp);
                    }
                }
                s.files.retain(|k, _| !k.starts_with(&prefix));
                s.perms.retain(|k, _| !k.starts_with(&prefix));
                // Like libzfs on unmount, the mountpoint directory it created goes too.
                if s.files.get(&mp) == Some(&Node::Dir) && !s.mounts.contains_key(&mp) {
                    s.remove_entry(&mp);
                }
            }
        }
        s.datasets.remove(name);
        Ok(())
    }

    fn rollback(&self, snap: &SnapshotName) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsRollback {
            snapshot: snap.clone(),
        }) {
            return Err(from_errno(Op::Rollback, e, snap));
        }
        let mut s = self.st();
        let Some(files) = s
            .datasets
            .get(&snap.to_string())
            .and_then(|d| Some((d.files.clone()?, d.perms.clone().unwrap_or_default())))
        else {
            return self.zfail(Op::Rollback, Errno::ENOENT, snap);
        };
        let prefix = format!("{}@", snap.dataset());
        let mine = s.datasets.get(&snap.to_string()).map_or(0, |d| d.createtxg);
        let newer = s
            .datasets
            .iter()
            .any(|(k, d)| k.starts_with(&prefix) && d.createtxg > mine);
        if newer {
            return self.zfail(Op::Rollback, Errno::EEXIST, snap);
        }
        if let Some(mp) = s.zfs_prop(snap.dataset().as_str(), "mountpoint") {
            s.replace_files_below(&mp, &files);
        }
        Ok(())
    }

    /// Renames a filesystem with its children and snapshots (their names change, origins
    /// pointing at them follow); the new parent must exist (`ENOENT`), the new name must not
    /// (`EEXIST`), and both must be in one pool (`EXDEV`). Files move with an inherited mountpoint.
    fn rename(&self, from: &DatasetName, to: &DatasetName) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsRename {
            from: from.clone(),
            to: to.clone(),
        }) {
            return Err(from_errno(Op::Rename, e, from));
        }
        let mut s = self.st();
        if !s.datasets.contains_key(from.as_str()) {
            return self.zfail(Op::Rename, Errno::ENOENT, from);
        }
        if from.pool() != to.pool() {
            return self.zfail(Op::Rename, Errno::EXDEV, to);
        }
        if s.datasets.contains_key(to.as_str()) {
            return self.zfail(Op::Rename, Errno::EEXIST, to);
        }
        if !parent(to.as_str()).is_some_and(|p| s.datasets.contains_key(p))
            || to.as_str().starts_with(&format!("{from}/"))
        {
            return self.zfail(Op::Rename, Errno::ENOENT, to);
        }
        let old_mp = s.zfs_prop(from.as_str(), "mountpoint");
        let moved: Vec<String> = s
            .datasets
            .keys()
            .filter(|k| {
                *k == from.as_str()
                    || k.starts_with(&format!("{from}/"))
                    || k.starts_with(&format!("{from}@"))
            })
            .cloned()
            .collect();
        let rename = |k: &str| format!("{to}{}", &k[from.as_str().len()..]);
        for k in &moved {
            if let Some(d) = s.datasets.remove(k) {
                s.datasets.insert(rename(k), d);
            }
        }
        for d in s.datasets.values_mut() {
            if let Some(o) = &d.origin {
                if moved.contains(o) {
                    d.origin = Some(rename(o));
                }
            }
        }
        let new_mp = s.zfs_prop(to.as_str(), "mountpoint");
        if let (Some(a), Some(b)) = (old_mp, new_mp) {
            if a != b {
                let files = s.files_below(&a);
                s.replace_files_below(&b, &files);
                let prefix = format!("{a}/");
                s.files.retain(|k, _| !k.starts_with(&prefix) && *k != a);
                s.perms.retain(|k, _| !k.starts_with(&prefix) && *k != a);
                let mounts: Vec<(String, Vec<crate::linux_sim::SimMount>)> = s
                    .mounts
                    .iter()
                    .filter(|(k, _)| **k == a || k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, v) in mounts {
                    s.mounts.remove(&k);
                    s.mounts.insert(format!("{b}{}", &k[a.len()..]), v);
                }
            }
        }
        for (_, m) in s.mounts.iter_mut() {
            for x in m.iter_mut() {
                if x.fstype == "zfs"
                    && (x.from == from.as_str() || x.from.starts_with(&format!("{from}/")))
                {
                    x.from = rename(&x.from);
                }
            }
        }
        Ok(())
    }

    /// Promotes a clone: the origin's snapshots up to and including the origin snapshot move to
    /// the clone, the former origin becomes a clone of the moved snapshot, and every other clone
    /// of a moved snapshot follows it. Not a clone: `EINVAL`; a name clash: `EEXIST`.
    fn promote(&self, clone: &DatasetName) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsPromote {
            clone: clone.clone(),
        }) {
            return Err(from_errno(Op::Promote, e, clone));
        }
        let mut s = self.st();
        let Some(origin) = s
            .datasets
            .get(clone.as_str())
            .and_then(|d| d.origin.clone())
        else {
            return self.zfail(
                Op::Promote,
                if s.datasets.contains_key(clone.as_str()) {
                    Errno::EINVAL
                } else {
                    Errno::ENOENT
                },
                clone,
            );
        };
        let (ofs, _) = origin.split_once('@').unwrap_or((&origin, ""));
        let ofs = ofs.to_string();
        let cut = s.datasets.get(&origin).map_or(0, |d| d.createtxg);
        let moving: Vec<String> = s
            .datasets
            .iter()
            .filter(|(k, d)| k.starts_with(&format!("{ofs}@")) && d.createtxg <= cut)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &moving {
            let new = format!("{clone}{}", &k[ofs.len()..]);
            if s.datasets.contains_key(&new) {
                return self
                    .zfail(Op::Promote, Errno::EEXIST, clone)
                    .map_err(|e| e.detail(format!("conflicting snapshot {new}")));
            }
        }
        for k in &moving {
            let new = format!("{clone}{}", &k[ofs.len()..]);
            if let Some(d) = s.datasets.remove(k) {
                s.datasets.insert(new.clone(), d);
            }
            for d in s.datasets.values_mut() {
                if d.origin.as_deref() == Some(k.as_str()) {
                    d.origin = Some(new.clone());
                }
            }
        }
        let moved_origin = format!("{clone}{}", &origin[ofs.len()..]);
        if let Some(d) = s.datasets.get_mut(clone.as_str()) {
            d.origin = None;
        }
        if let Some(d) = s.datasets.get_mut(&ofs) {
            d.origin = Some(moved_origin);
        }
        Ok(())
    }

    fn exists(&self, zname: &zfs::ZfsName) -> Result<bool> {
        let name: &str = &zname.to_string();
        if let Some(e) = self.enter(Args::ZfsExists {
            name: zname.clone(),
        }) {
            return Err(from_errno(Op::List, e, name));
        }
        Ok(self.st().datasets.contains_key(name))
    }

    fn children(&self, fs: &DatasetName) -> Result<Vec<String>> {
        if let Some(e) = self.enter(Args::ZfsChildren {
            dataset: fs.clone(),
        }) {
            return Err(from_errno(Op::List, e, fs));
        }
        let s = self.st();
        if !s.datasets.contains_key(fs.as_str()) {
            return self.zfail(Op::List, Errno::ENOENT, fs);
        }
        let a = format!("{fs}/");
        let b = format!("{fs}@");
        Ok(s.datasets
            .keys()
            .filter(|k| {
                (k.starts_with(&a) && !k[a.len()..].contains('/') && !k.contains('@'))
                    || k.starts_with(&b)
            })
            .cloned()
            .collect())
    }

    fn get_prop(&self, ds: &DatasetName, prop: &PropName) -> Result<Option<String>> {
        if let Some(e) = self.enter(Args::ZfsGetProp {
            dataset: ds.clone(),
            prop: prop.clone(),
        }) {
            return Err(from_errno(Op::Prop, e, ds));
        }
        let s = self.st();
        if !s.datasets.contains_key(ds.as_str()) {
            return self.zfail(Op::Prop, Errno::ENOENT, ds);
        }
        Ok(s.zfs_prop(ds.as_str(), prop.as_str()))
    }

    fn set_prop(&self, ds: &DatasetName, prop: &PropName, value: &str) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsSetProp {
            dataset: ds.clone(),
            prop: prop.clone(),
            value: value.to_string(),
        }) {
            return Err(from_errno(Op::Prop, e, ds));
        }
        let mut s = self.st();
        if !s.datasets.contains_key(ds.as_str()) {
            return self.zfail(Op::Prop, Errno::ENOENT, ds);
        }
        if let Err(e) = check_props(&[(prop.clone(), value.to_string())]) {
            return self.zfail(Op::Prop, e, ds);
        }
        if value.contains('\0') {
            return self.zfail(Op::Prop, Errno::EINVAL, ds);
        }
        if let Some(d) = s.datasets.get_mut(ds.as_str()) {
            d.props.insert(prop.as_str().into(), value.into());
        }
        Ok(())
    }

    fn jail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsJail {
            dataset: fs.clone(),
            jid,
        }) {
            return Err(from_errno(Op::Jail, e, fs));
        }
        let mut s = self.st();
        if !s.jails.contains_key(&jid) {
            return self
                .zfail(Op::Jail, Errno::ENOENT, fs)
                .map_err(|e| e.detail(format!("no jail {jid}")));
        }
        let Some(d) = s.datasets.get_mut(fs.as_str()) else {
            return self.zfail(Op::Jail, Errno::ENOENT, fs);
        };
        if d.jailed_to.contains(&jid) {
            return self.zfail(Op::Jail, Errno::EEXIST, fs);
        }
        d.jailed_to.push(jid);
        Ok(())
    }

    fn unjail(&self, fs: &DatasetName, jid: i32) -> Result<()> {
        if let Some(e) = self.enter(Args::ZfsUnjail {
            dataset: fs.clone(),
            jid,
        }) {
            return Err(from_errno(Op::Jail, e, fs));
        }
        let mut s = self.st();
        match s.datasets.get_mut(fs.as_str()) {
            Some(d) if d.jailed_to.contains(&jid) => {
                d.jailed_to.retain(|j| *j != jid);
                Ok(())
            }
            _ => self.zfail(Op::Jail, Errno::ENOENT, fs),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::SimHost;
    use jail::{JailName, JailOps, JailSpec, ParamValue};
    use zfs::{DatasetName, ErrorKind, PropName, SnapshotName, ZfsOps};

    fn ds(s: &str) -> DatasetName {
        DatasetName::new(s).unwrap()
    }

    /// `zfs destroy` must unmount first, which FreeBSD refuses while something is mounted
    /// below the file system (dounmount: EBUSY); the data below the mount stays.
    #[test]
    fn destroy_is_busy_while_something_is_mounted_below() {
        use linuxulator::MountOps;
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/j"), &[]).unwrap();
        h.with_state(|s| s.mkdir_p("/zroot/j/dev/shm").unwrap());
        let shm = linuxulator::linux_mount_set(0, Some("1m"), &[])[1].clone();
        let on = h.mount("/zroot/j", &shm).unwrap();
        let e = h
            .destroy(&zfs::ZfsName::parse("zroot/j").unwrap())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(h.exists(&zfs::ZfsName::parse("zroot/j").unwrap()).unwrap());
        h.unmount(&on, linuxulator::MountFlags::empty()).unwrap();
        h.destroy(&zfs::ZfsName::parse("zroot/j").unwrap()).unwrap();
    }

    #[test]
    fn template_clone_flow_and_origin_dependencies() {
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/cudajail"), &[]).unwrap();
        assert_eq!(
            ZfsOps::create(&h, &ds("zroot/nope/x"), &[])
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        ZfsOps::create(
            &h,
            &ds("zroot/cudajail/t"),
            &[(PropName::cudajail("managed").unwrap(), "on".into())],
        )
        .unwrap();
        h.with_state(|s| {
            s.write_file("/zroot/cudajail/t/etc/os-release", b"noble")
                .unwrap()
        });
        let base = SnapshotName::new("zroot/cudajail/t@base").unwrap();
        ZfsOps::snapshot(&h, std::slice::from_ref(&base)).unwrap();
        assert_eq!(
            ZfsOps::snapshot(&h, std::slice::from_ref(&base))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        h.clone_snapshot(&ds("zroot/cudajail/cuda"), &base, &[])
            .unwrap();
        let st = h.snapshot();
        assert!(
            st.files.contains_key("/zroot/cudajail/cuda/etc/os-release"),
            "a clone starts with the snapshot's files"
        );
        assert_eq!(
            st.zfs_prop("zroot/cudajail/cuda", "origin").as_deref(),
            Some("zroot/cudajail/t@base")
        );
        assert_eq!(
            st.zfs_prop("zroot/cudajail/cuda", "mountpoint").as_deref(),
            Some("/zroot/cudajail/cuda")
        );
        let e = h
            .destroy(&zfs::ZfsName::parse("zroot/cudajail/t@base").unwrap())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(
            h.destroy(&zfs::ZfsName::parse("zroot/cudajail/t").unwrap())
                .unwrap_err()
                .kind(),
            ErrorKind::Busy
        );
        h.destroy(&zfs::ZfsName::parse("zroot/cudajail/cuda").unwrap())
            .unwrap();
        assert!(!h
            .snapshot()
            .files
            .contains_key("/zroot/cudajail/cuda/etc/os-release"));
        h.destroy(&zfs::ZfsName::parse("zroot/cudajail/t@base").unwrap())
            .unwrap();
        h.destroy(&zfs::ZfsName::parse("zroot/cudajail/t").unwrap())
            .unwrap();
        assert_eq!(
            h.children(&ds("zroot/cudajail")).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn rename_and_promote_and_recursive_destroy() {
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/t"), &[]).unwrap();
        h.with_state(|s| s.write_file("/zroot/t/f", b"x").unwrap());
        let base = SnapshotName::new("zroot/t@base").unwrap();
        ZfsOps::snapshot(&h, std::slice::from_ref(&base)).unwrap();
        h.clone_snapshot(&ds("zroot/c"), &base, &[]).unwrap();
        // Rename the template: the clone's origin follows, the files move.
        h.rename(&ds("zroot/t"), &ds("zroot/tpl")).unwrap();
        let st = h.snapshot();
        assert_eq!(
            st.datasets["zroot/c"].origin.as_deref(),
            Some("zroot/tpl@base")
        );
        assert!(st.files.contains_key("/zroot/tpl/f") && !st.files.contains_key("/zroot/t/f"));
        assert_eq!(
            h.rename(&ds("zroot/c"), &ds("zroot/nope/c"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            h.rename(&ds("zroot/c"), &ds("zroot/tpl"))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        // Promote the clone: the snapshot moves to it; the template becomes its clone.
        assert_eq!(
            h.promote(&ds("zroot/tpl")).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "not a clone"
        );
        h.promote(&ds("zroot/c")).unwrap();
        let st = h.snapshot();
        assert!(st.datasets.contains_key("zroot/c@base"));
        assert_eq!(
            st.datasets["zroot/tpl"].origin.as_deref(),
            Some("zroot/c@base")
        );
        assert_eq!(st.datasets["zroot/c"].origin, None);
        // Recursive destroy refuses dependent clones unless asked.
        let clones = |snap: &str| -> Vec<String> {
            h.snapshot()
                .datasets
                .iter()
                .filter(|(_, d)| d.origin.as_deref() == Some(snap))
                .map(|(k, _)| k.clone())
                .collect()
        };
        let e = zfs::destroy_recursive(&h, &ds("zroot/c"), false, &clones).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert!(e.to_string().contains("zroot/tpl"), "{e}");
        let done = zfs::destroy_recursive(&h, &ds("zroot/c"), true, &clones).unwrap();
        assert_eq!(done, ["zroot/tpl", "zroot/c@base", "zroot/c"]);
    }

    #[test]
    fn user_properties_inherit() {
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/a"), &[]).unwrap();
        ZfsOps::create(&h, &ds("zroot/a/b"), &[]).unwrap();
        let p = PropName::cudajail("journal").unwrap();
        h.set_prop(&ds("zroot/a"), &p, "x").unwrap();
        assert_eq!(
            h.get_prop(&ds("zroot/a/b"), &p).unwrap().as_deref(),
            Some("x")
        );
        assert!(h
            .set_prop(&ds("zroot/a"), &PropName::new("origin").unwrap(), "y")
            .is_err());
    }

    #[test]
    fn rollback_only_to_the_latest() {
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/r"), &[]).unwrap();
        h.with_state(|s| s.write_file("/zroot/r/a", b"1").unwrap());
        let s1 = SnapshotName::new("zroot/r@1").unwrap();
        let s2 = SnapshotName::new("zroot/r@2").unwrap();
        ZfsOps::snapshot(&h, std::slice::from_ref(&s1)).unwrap();
        h.with_state(|s| s.write_file("/zroot/r/b", b"2").unwrap());
        ZfsOps::snapshot(&h, std::slice::from_ref(&s2)).unwrap();
        h.with_state(|s| s.write_file("/zroot/r/c", b"3").unwrap());
        assert_eq!(h.rollback(&s1).unwrap_err().kind(), ErrorKind::InvalidInput);
        h.rollback(&s2).unwrap();
        let st = h.snapshot();
        assert!(st.files.contains_key("/zroot/r/b") && !st.files.contains_key("/zroot/r/c"));
    }

    #[test]
    fn jail_attachments_vanish_with_the_jail() {
        let h = SimHost::freebsd14_with_gpus(0);
        ZfsOps::create(&h, &ds("zroot/data"), &[]).unwrap();
        assert_eq!(
            h.jail(&ds("zroot/data"), 1).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let j = JailOps::create(
            &h,
            &JailSpec::new(JailName::new("j").unwrap(), "/zroot")
                .param("persist", ParamValue::Bool(true)),
        )
        .unwrap();
        h.jail(&ds("zroot/data"), j.0).unwrap();
        assert_eq!(
            h.jail(&ds("zroot/data"), j.0).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(h.snapshot().datasets["zroot/data"].jailed_to, [j.0]);
        h.remove(j).unwrap();
        assert!(h.snapshot().datasets["zroot/data"].jailed_to.is_empty());
    }
}
