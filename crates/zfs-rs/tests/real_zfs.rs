//! Real-ZFS tier: every ZfsOps verb but jail/unjail against a real OpenZFS kernel module, through
//! both backends: `LibZfs` (libzfs_core) and `ZfsCli` (zfs(8), what FreeBSD hosts use), the
//! same assertions for each.
//! `cargo xtask ci` runs these inside a small VM (OpenZFS on Linux) on a file-backed pool named by
//! `ZFS_TEST_POOL`; on a FreeBSD or Linux host with a scratch pool: `ZFS_TEST_POOL=<pool> cargo
//! test -p zfs-ops --test real_zfs -- --ignored --test-threads=1` (as root).
#![cfg(has_libzfs)]

use zfs::cli::ZfsCli;
use zfs::{DatasetName, ErrorKind, LibZfs, PropName, SnapshotName, ZfsOps};

fn ds(s: &str) -> DatasetName {
    DatasetName::new(s).unwrap()
}

/// Both backends, each with a fresh `<pool>/<name>-<backend>` to work in.
fn backends(name: &str) -> Vec<(Box<dyn ZfsOps>, String)> {
    let p = std::env::var("ZFS_TEST_POOL")
        .expect("set ZFS_TEST_POOL to a scratch pool (cargo xtask ci does this inside its VM)");
    let lib: Box<dyn ZfsOps> = Box::new(
        LibZfs::new().expect("libzfs_core_init: is the zfs module loaded and are we root?"),
    );
    let cli: Box<dyn ZfsOps> = Box::new(ZfsCli);
    [(lib, "libzfs"), (cli, "cli")]
        .into_iter()
        .map(|(z, b)| {
            let base = format!("{p}/{name}-{b}");
            if z.exists(&zfs::ZfsName::parse(&base).unwrap()).unwrap() {
                destroy_tree(z.as_ref(), &base);
            }
            z.create(&ds(&base), &[]).unwrap();
            eprintln!("backend {b}: {base}");
            (z, base)
        })
        .collect()
}

fn destroy_tree(z: &dyn ZfsOps, name: &str) {
    for c in z.children(&ds(name)).unwrap() {
        if !c.contains('@') {
            destroy_tree(z, &c);
        }
    }
    for c in z.children(&ds(name)).unwrap() {
        let _ = z.destroy(&zfs::ZfsName::parse(&c).unwrap());
    }
    z.destroy(&zfs::ZfsName::parse(name).unwrap()).unwrap();
}

#[test]
#[ignore = "real-zfs: needs a ZFS pool"]
fn create_props_snapshot_clone_rollback_destroy() {
    for (z, base) in backends("verbs") {
        let z = z.as_ref();
        let t = ds(&format!("{base}/template"));
        let managed = PropName::cudajail("managed").unwrap();
        z.create(
            &t,
            &[
                (PropName::new("compression").unwrap(), "lz4".into()),
                (managed.clone(), "on".into()),
            ],
        )
        .unwrap();
        assert!(z.exists(&zfs::ZfsName::from(&t)).unwrap());
        assert_eq!(
            z.get_prop(&t, &PropName::new("compression").unwrap())
                .unwrap()
                .as_deref(),
            Some("lz4")
        );
        assert_eq!(z.get_prop(&t, &managed).unwrap().as_deref(), Some("on"));
        assert_eq!(
            z.get_prop(&t, &PropName::cudajail("unset").unwrap())
                .unwrap(),
            None
        );
        z.set_prop(&t, &PropName::cudajail("journal").unwrap(), "host,template")
            .unwrap();
        assert_eq!(
            z.get_prop(&t, &PropName::cudajail("journal").unwrap())
                .unwrap()
                .as_deref(),
            Some("host,template")
        );
        let mp = z
            .get_prop(&t, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        std::fs::write(format!("{mp}/file"), b"one").unwrap();
        // Two snapshots at once, atomically.
        let s1 = SnapshotName::new(&format!("{t}@base")).unwrap();
        let other = ds(&format!("{base}/other"));
        z.create(&other, &[]).unwrap();
        let s2 = SnapshotName::new(&format!("{other}@base")).unwrap();
        z.snapshot(&[s1.clone(), s2.clone()]).unwrap();
        let kids = z.children(&t).unwrap();
        assert!(kids.contains(&s1.to_string()), "{kids:?}");
        // Clone: the clone has the template's files and its origin.
        let c = ds(&format!("{base}/cuda"));
        z.clone_snapshot(&c, &s1, &[(managed.clone(), "on".into())])
            .unwrap();
        let cmp = z
            .get_prop(&c, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(format!("{cmp}/file")).unwrap(), b"one");
        assert_eq!(
            z.get_prop(&c, &PropName::new("origin").unwrap())
                .unwrap()
                .as_deref(),
            Some(s1.to_string().as_str())
        );
        // A snapshot with a dependent clone cannot go.
        assert_eq!(
            z.destroy(&zfs::ZfsName::from(&s1)).unwrap_err().kind(),
            ErrorKind::Busy
        );
        // Rollback to the latest snapshot restores the file.
        std::fs::write(format!("{mp}/file"), b"two").unwrap();
        z.rollback(&s1).unwrap();
        assert_eq!(std::fs::read(format!("{mp}/file")).unwrap(), b"one");
        // Destroy in dependency order.
        z.destroy(&zfs::ZfsName::from(&c)).unwrap();
        z.destroy(&zfs::ZfsName::from(&s1)).unwrap();
        z.destroy(&zfs::ZfsName::from(&s2)).unwrap();
        destroy_tree(z, &base);
        assert!(!z.exists(&zfs::ZfsName::parse(&base).unwrap()).unwrap());
    }
}

#[test]
#[ignore = "real-zfs: needs a ZFS pool"]
fn bad_input_is_refused_and_changes_nothing() {
    for (z, base) in backends("bad") {
        let z = z.as_ref();
        let before = z.children(&ds(&base)).unwrap();
        assert!(DatasetName::new(&format!("{base}/bad name*")).is_err());
        assert!(DatasetName::new(&format!("{base}/../x")).is_err());
        let e = z
            .snapshot(&[SnapshotName::new(&format!("{base}/missing@s")).unwrap()])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let e = z
            .create(&ds(&format!("{base}/nope/child")), &[])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let e = z
            .set_prop(
                &ds(&base),
                &PropName::cudajail("big").unwrap(),
                &"x".repeat(9000),
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = z.create(&ds(&base), &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        let s = SnapshotName::new(&format!("{base}@a")).unwrap();
        z.snapshot(std::slice::from_ref(&s)).unwrap();
        z.snapshot(&[SnapshotName::new(&format!("{base}@b")).unwrap()])
            .unwrap();
        assert!(z.rollback(&s).is_err(), "only the latest snapshot");
        z.destroy(&zfs::ZfsName::parse(&format!("{base}@b")).unwrap())
            .unwrap();
        z.destroy(&zfs::ZfsName::parse(&format!("{base}@a")).unwrap())
            .unwrap();
        assert_eq!(
            z.children(&ds(&base)).unwrap(),
            before,
            "no pool state changed"
        );
        destroy_tree(z, &base);
    }
}

/// Every filesystem below `root` whose origin is `snap`.
fn clones_of(z: &dyn ZfsOps, root: &str, snap: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_string()];
    while let Some(d) = todo.pop() {
        for c in z.children(&ds(&d)).unwrap() {
            if c.contains('@') {
                continue;
            }
            if z.get_prop(&ds(&c), &PropName::new("origin").unwrap())
                .unwrap()
                .as_deref()
                == Some(snap)
            {
                out.push(c.clone());
            }
            todo.push(c);
        }
    }
    out
}

#[test]
#[ignore = "real-zfs: needs a ZFS pool"]
fn rename_promote_and_recursive_destroy() {
    for (z, base) in backends("more") {
        let z = z.as_ref();
        let t = ds(&format!("{base}/t"));
        z.create(&t, &[]).unwrap();
        let mp = z
            .get_prop(&t, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        std::fs::write(format!("{mp}/f"), b"x").unwrap();
        let s = SnapshotName::new(&format!("{t}@base")).unwrap();
        z.snapshot(std::slice::from_ref(&s)).unwrap();
        let c = ds(&format!("{base}/c"));
        z.clone_snapshot(&c, &s, &[]).unwrap();
        // Rename: the clone's origin follows and the data is mounted at the new place.
        let tpl = ds(&format!("{base}/tpl"));
        z.rename(&t, &tpl).unwrap();
        assert_eq!(
            z.get_prop(&c, &PropName::new("origin").unwrap()).unwrap(),
            Some(format!("{tpl}@base"))
        );
        let nmp = z
            .get_prop(&tpl, &PropName::new("mountpoint").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(format!("{nmp}/f")).unwrap(), b"x");
        assert_eq!(
            z.rename(&c, &tpl).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        // Promote: the snapshot moves to the clone.
        z.promote(&c).unwrap();
        assert!(z
            .exists(&zfs::ZfsName::parse(&format!("{c}@base")).unwrap())
            .unwrap());
        assert_eq!(
            z.get_prop(&tpl, &PropName::new("origin").unwrap()).unwrap(),
            Some(format!("{c}@base"))
        );
        // Recursive destroy refuses dependent clones unless asked, then goes in dependency order.
        let clones = |snap: &str| clones_of(z, &base, snap);
        let e = zfs::destroy_recursive(z, &c, false, &clones).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        let done = zfs::destroy_recursive(z, &c, true, &clones).unwrap();
        assert_eq!(done, [tpl.to_string(), format!("{c}@base"), c.to_string()]);
        destroy_tree(z, &base);
    }
}
