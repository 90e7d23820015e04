//! A jail root's attacks on the host's file layer, run for real against [`Beneath`] in a
//! temporary directory (real-Linux tier: the same `*at` calls FreeBSD has).

#![cfg(unix)]

use rootfs::{Beneath, ErrorKind, Perm, RootFs, READ_LIMIT};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("rootfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("root")).unwrap();
        std::fs::create_dir_all(p.join("host")).unwrap();
        std::fs::write(p.join("host/secret"), b"host secret").unwrap();
        Tmp(p)
    }
    fn root(&self) -> String {
        self.0.join("root").to_str().unwrap().to_string()
    }
    fn host(&self) -> PathBuf {
        self.0.join("host")
    }
    fn at(&self, rel: &str) -> PathBuf {
        self.0.join("root").join(rel)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Files we create are ours: root-owned when we run as root, else the caller's (tests without
/// root can only give files to themselves).
fn me(t: &Tmp) -> (u32, u32) {
    rootfs::current_owner(&t.root()).unwrap()
}
fn perm(t: &Tmp, mode: u32) -> Perm {
    let (u, g) = me(t);
    Perm::root(mode).owned_by(u, g)
}

fn host_untouched(t: &Tmp) {
    let names: Vec<_> = std::fs::read_dir(t.host())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret"], "nothing new in the host directory");
    assert_eq!(
        std::fs::read(t.host().join("secret")).unwrap(),
        b"host secret"
    );
}

#[test]
fn a_symlink_to_a_host_file_is_never_read() {
    // The uvm step reads etc/ld.so.preload and writes it back with a line added: a link to a
    // host secret must not bring the secret into the jail.
    let t = Tmp::new("read");
    std::fs::create_dir(t.at("etc")).unwrap();
    symlink(t.host().join("secret"), t.at("etc/ld.so.preload")).unwrap();
    let e = Beneath
        .read_beneath(&t.root(), "etc/ld.so.preload", READ_LIMIT)
        .unwrap_err();
    assert!(e.to_string().contains("symlink"), "{e}");
    // Through a linked directory too.
    symlink(t.host(), t.at("lib")).unwrap();
    assert!(Beneath
        .read_beneath(&t.root(), "lib/secret", READ_LIMIT)
        .is_err());
    // Absent is not an error.
    assert_eq!(
        Beneath
            .read_beneath(&t.root(), "etc/absent", READ_LIMIT)
            .unwrap(),
        None
    );
    assert_eq!(
        Beneath
            .read_beneath(&t.root(), "nodir/absent", READ_LIMIT)
            .unwrap(),
        None
    );
    host_untouched(&t);
}

#[test]
fn writes_never_go_through_a_symlink() {
    let t = Tmp::new("write");
    let p = perm(&t, 0o644);
    symlink(t.host(), t.at("etc")).unwrap();
    let e = Beneath
        .write_beneath(&t.root(), "etc/passwd", b"x", p)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(Beneath.mkdir_beneath(&t.root(), "etc/sub", p).is_err());
    assert!(Beneath.remove_beneath(&t.root(), "etc/secret").is_err());
    assert!(Beneath.copy_in("/dev/null", &t.root(), "etc/x", p).is_err());
    // A link at the file's own name is replaced, its target untouched.
    std::fs::create_dir(t.at("usr")).unwrap();
    symlink(t.host().join("secret"), t.at("usr/lib.so")).unwrap();
    Beneath
        .write_beneath(&t.root(), "usr/lib.so", b"ours", p)
        .unwrap();
    assert!(t.at("usr/lib.so").symlink_metadata().unwrap().is_file());
    assert_eq!(std::fs::read(t.at("usr/lib.so")).unwrap(), b"ours");
    // Removing a link removes the link.
    symlink(t.host().join("secret"), t.at("usr/l2")).unwrap();
    Beneath.remove_beneath(&t.root(), "usr/l2").unwrap();
    assert!(Beneath
        .write_beneath(&t.root(), "../host/secret", b"x", p)
        .is_err());
    assert!(Beneath
        .write_beneath(&t.root(), "usr/../../host/secret", b"x", p)
        .is_err());
    host_untouched(&t);
}

#[test]
fn modes_and_owners_are_explicit_never_inherited() {
    let t = Tmp::new("perm");
    // A file planted world-writable (and, as root, owned by someone else) before we replace it.
    std::fs::create_dir(t.at("etc")).unwrap();
    std::fs::write(t.at("etc/group"), b"planted").unwrap();
    std::fs::set_permissions(t.at("etc/group"), std::fs::Permissions::from_mode(0o666)).unwrap();
    let root = rootfs::current_owner("/").unwrap().0 == me(&t).0 && me(&t).0 == 0;
    if root {
        std::os::unix::fs::chown(t.at("etc/group"), Some(65534), Some(65534)).unwrap();
    }
    Beneath
        .write_beneath(&t.root(), "etc/group", b"ours", perm(&t, 0o644))
        .unwrap();
    let m = std::fs::metadata(t.at("etc/group")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!((m.uid(), m.gid()), me(&t));
    // New directories get exactly the mode asked for, whatever the umask (it would clear
    // group/other bits of a mkdir's mode; fchmod after mkdirat does not care).
    Beneath
        .mkdir_beneath(&t.root(), "a/b/c", perm(&t, 0o775))
        .unwrap();
    for d in ["a", "a/b", "a/b/c"] {
        assert_eq!(
            std::fs::metadata(t.at(d)).unwrap().mode() & 0o7777,
            0o775,
            "{d}"
        );
    }
    // An existing directory is left as it is.
    std::fs::create_dir(t.at("keep")).unwrap();
    std::fs::set_permissions(t.at("keep"), std::fs::Permissions::from_mode(0o711)).unwrap();
    Beneath
        .mkdir_beneath(&t.root(), "keep/x", perm(&t, 0o755))
        .unwrap();
    assert_eq!(
        std::fs::metadata(t.at("keep")).unwrap().mode() & 0o7777,
        0o711
    );
    assert!(
        Beneath
            .write_beneath(&t.root(), "etc/x", b"", Perm::root(0o4755))
            .is_err(),
        "no set-id"
    );
}

#[test]
fn a_fresh_private_directory_is_fresh() {
    // The installer goes into a directory that did not exist before: a jail user who planted
    // the name (a file, a link, a directory of their own) makes the call fail, never reuse it.
    let t = Tmp::new("private");
    std::fs::create_dir(t.at("tmp")).unwrap();
    std::fs::create_dir(t.at("tmp/planted")).unwrap();
    let e = Beneath
        .mkdir_new_beneath(&t.root(), "tmp/planted", perm(&t, 0o700))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    symlink(t.host(), t.at("tmp/link")).unwrap();
    assert!(Beneath
        .mkdir_new_beneath(&t.root(), "tmp/link", perm(&t, 0o700))
        .is_err());
    Beneath
        .mkdir_new_beneath(&t.root(), "tmp/ours", perm(&t, 0o700))
        .unwrap();
    assert_eq!(
        std::fs::metadata(t.at("tmp/ours")).unwrap().mode() & 0o7777,
        0o700
    );
    Beneath
        .copy_in(
            "/bin/sh",
            &t.root(),
            "tmp/ours/installer.run",
            perm(&t, 0o700),
        )
        .unwrap();
    assert_eq!(
        std::fs::metadata(t.at("tmp/ours/installer.run"))
            .unwrap()
            .mode()
            & 0o7777,
        0o700
    );
    assert!(
        Beneath.remove_dir_beneath(&t.root(), "tmp/ours").is_err(),
        "not empty"
    );
    Beneath
        .remove_beneath(&t.root(), "tmp/ours/installer.run")
        .unwrap();
    Beneath.remove_dir_beneath(&t.root(), "tmp/ours").unwrap();
    assert!(
        Beneath.remove_dir_beneath(&t.root(), "tmp/link").is_err(),
        "a link is not a dir"
    );
    host_untouched(&t);
}

#[test]
fn reads_are_bounded_and_never_block() {
    let t = Tmp::new("bounded");
    std::fs::write(t.at("big"), vec![0u8; 4096]).unwrap();
    assert!(Beneath.read_beneath(&t.root(), "big", 4095).is_err());
    assert_eq!(
        Beneath
            .read_beneath(&t.root(), "big", 4096)
            .unwrap()
            .unwrap()
            .len(),
        4096
    );
    // A FIFO would block a plain open for reading forever.
    let st = std::process::Command::new("mkfifo")
        .arg(t.at("fifo"))
        .status();
    if st.is_ok_and(|s| s.success()) {
        let e = Beneath
            .read_beneath(&t.root(), "fifo", READ_LIMIT)
            .unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
    std::fs::create_dir(t.at("d")).unwrap();
    assert!(Beneath.read_beneath(&t.root(), "d", READ_LIMIT).is_err());
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temporary() {
    let t = Tmp::new("atomic");
    std::fs::create_dir(t.at("etc")).unwrap();
    std::fs::create_dir(t.at("etc/dir")).unwrap();
    std::fs::write(t.at("etc/dir/inner"), b"x").unwrap();
    // Renaming a file over a non-empty directory fails: the directory stays, no temp is left.
    assert!(Beneath
        .write_beneath(&t.root(), "etc/dir", b"new", perm(&t, 0o644))
        .is_err());
    let names: Vec<_> = std::fs::read_dir(t.at("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["dir"]);
}

/// Swaps `root/a` between a real directory and a symlink to the host directory as fast as it
/// can while the main thread writes, creates and removes below `a`: nothing may ever land in
/// (or vanish from) the host directory.
#[test]
fn a_directory_swapped_for_a_symlink_mid_write_never_redirects_it() {
    let t = Tmp::new("race");
    let a = t.at("a");
    let real = t.at("a.real");
    let link = t.at("a.link");
    std::fs::create_dir(&a).unwrap();
    symlink(t.host(), &link).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (a, real, link, stop) = (a.clone(), real.clone(), link.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // a (dir) → a.real, a.link → a ... and back.
                if std::fs::rename(&a, &real).is_ok() {
                    let _ = std::fs::rename(&link, &a);
                    let _ = std::fs::rename(&a, &link);
                    let _ = std::fs::rename(&real, &a);
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let p = perm(&t, 0o644);
    let (mut ok, mut refused) = (0u32, 0u32);
    for i in 0..12000 {
        let name = format!("a/secret{}", i % 3);
        let r = match i % 4 {
            0 => Beneath.write_beneath(&t.root(), &name, b"from the jail side", p),
            1 => Beneath.remove_beneath(&t.root(), "a/secret"),
            2 => Beneath.mkdir_beneath(&t.root(), "a/sub", perm(&t, 0o755)),
            _ => Beneath
                .read_beneath(&t.root(), "a/secret", READ_LIMIT)
                .map(|_| ()),
        };
        if r.is_ok() {
            ok += 1
        } else {
            refused += 1
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    // Put things back the way they were if the swapper stopped mid-swap.
    if !a.exists() && real.exists() {
        let _ = std::fs::rename(&real, &a);
    }
    assert!(swaps > 0, "the swapper never swapped");
    assert!(
        ok > 0 && refused > 0,
        "both outcomes should occur: ok {ok}, refused {refused}"
    );
    host_untouched(&t);
    eprintln!("{swaps} swaps, {ok} calls succeeded below the real directory, {refused} refused");
}

#[test]
fn paths_that_leave_the_root_are_refused_before_any_call() {
    let t = Tmp::new("paths");
    for bad in ["..", "../host/secret", "a/../../x", "a\0b"] {
        let e = Beneath
            .write_beneath(&t.root(), bad, b"x", perm(&t, 0o644))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
    assert!(Beneath
        .write_beneath(&t.root(), "", b"x", perm(&t, 0o644))
        .is_err());
    assert!(!Path::new(&t.root()).join("x").exists());
    host_untouched(&t);
}

/// `stat_beneath` reports a symlink as a link with its target (never what it points to), a
/// file's real mode and owner, and refuses a symlink on the way like every other call.
#[test]
fn stat_beneath_sees_links_as_links() {
    use rootfs::EntryKind;
    let t = Tmp::new("stat");
    let fs = Beneath;
    std::fs::create_dir_all(t.at("etc/cm")).unwrap();
    std::fs::write(t.at("etc/cm/rc.conf"), b"x=1\n").unwrap();
    std::fs::set_permissions(
        t.at("etc/cm/rc.conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink("cm/rc.conf", t.at("etc/rc.conf")).unwrap();
    symlink(t.host(), t.at("up")).unwrap();
    let e = fs.stat_beneath(&t.root(), "etc/rc.conf").unwrap().unwrap();
    assert_eq!(e.kind, EntryKind::Symlink("cm/rc.conf".into()));
    let f = fs
        .stat_beneath(&t.root(), "etc/cm/rc.conf")
        .unwrap()
        .unwrap();
    assert_eq!((f.kind, f.perm.mode), (EntryKind::File, 0o600));
    let meta = std::fs::metadata(t.at("etc/cm/rc.conf")).unwrap();
    assert_eq!((f.perm.uid, f.perm.gid), (meta.uid(), meta.gid()));
    assert_eq!(fs.stat_beneath(&t.root(), "etc/none").unwrap(), None);
    assert_eq!(
        fs.stat_beneath(&t.root(), "up/secret").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    host_untouched(&t);
}
