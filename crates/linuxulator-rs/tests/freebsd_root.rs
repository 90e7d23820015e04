//! Privileged tests on a real FreeBSD kernel: `sudo cargo test -p linuxulator-rs -- --ignored`.
#![cfg(target_os = "freebsd")]

use linuxulator::mount::Bind;
use linuxulator::{linux_mount_set, ErrorKind, LinuxHost, MountFlags, MountOps, SysctlOps};
use sysabi::testing::{require_root, unique};

#[test]
fn sysctls_read_typed() {
    assert_eq!(
        LinuxHost.get("kern.ostype").unwrap().as_deref(),
        Some("FreeBSD")
    );
    let n: i64 = LinuxHost
        .get("kern.maxproc")
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 0);
    assert_eq!(LinuxHost.get("no.such.sysctl").unwrap(), None);
}

#[test]
#[ignore = "root: mounts file systems"]
fn tmpfs_and_nullfs_mount_idempotently_and_unmount_in_reverse() {
    require_root();
    let root = std::env::temp_dir().join(unique("lxroot"));
    for d in ["dev/shm", "home"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let r = root.to_str().unwrap();
    let set = linux_mount_set(
        0,
        Some("16m"),
        &[Bind {
            host: "/tmp".into(),
            target: "home".into(),
            rw: false,
        }],
    );
    let shm = LinuxHost.mount(r, &set[1]).unwrap();
    assert_eq!(
        LinuxHost.mount(r, &set[1]).unwrap(),
        shm,
        "mounting again is a no-op"
    );
    let home = LinuxHost.mount(r, &set[5]).unwrap();
    assert!(LinuxHost
        .mounts()
        .unwrap()
        .iter()
        .any(|m| m.on == shm && m.fstype == "tmpfs"));
    let e = LinuxHost.unmount(r, MountFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "not a mount point: {e}");
    LinuxHost.unmount(&home, MountFlags::empty()).unwrap();
    LinuxHost.unmount(&shm, MountFlags::empty()).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
#[ignore = "root: tries to mount through a planted symlink"]
fn a_symlink_to_the_host_root_is_refused() {
    require_root();
    let root = std::env::temp_dir().join(unique("lxesc"));
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink("/", root.join("proc")).unwrap();
    let before = LinuxHost.mounts().unwrap();
    let set = linux_mount_set(0, None, &[]);
    let e = LinuxHost
        .mount(root.to_str().unwrap(), &set[3])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(
        LinuxHost.mounts().unwrap(),
        before,
        "nothing mounted anywhere"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
#[ignore = "root: makes a busy mount"]
fn unmounting_a_busy_mount_is_reported() {
    require_root();
    let root = std::env::temp_dir().join(unique("lxbusy"));
    std::fs::create_dir_all(root.join("dev/shm")).unwrap();
    let r = root.to_str().unwrap();
    let mut outer = linux_mount_set(0, None, &[])[1].clone();
    outer.target = "dev".into();
    let dev = LinuxHost.mount(r, &outer).unwrap();
    std::fs::create_dir_all(root.join("dev/shm")).unwrap();
    let shm = LinuxHost
        .mount(r, &linux_mount_set(0, None, &[])[1])
        .unwrap();
    let e = LinuxHost.unmount(&dev, MountFlags::empty()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    LinuxHost.unmount(&shm, MountFlags::empty()).unwrap();
    LinuxHost.unmount(&dev, MountFlags::empty()).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn jail_parameter_types_from_the_running_kernel() {
    let look = |n: &str| {
        LinuxHost
            .describe(n)
            .unwrap()
            .map(|d| (d.kind, d.fmt, d.raw))
    };
    assert_eq!(
        jail::learn_param_type("persist", &look).unwrap().0,
        jail::ParamType::Bool
    );
    assert_eq!(
        jail::learn_param_type("nopersist", &look).unwrap(),
        (jail::ParamType::Bool, true)
    );
    assert_eq!(
        jail::learn_param_type("host.hostname", &look).unwrap().0,
        jail::ParamType::String(256)
    );
    assert_eq!(
        jail::learn_param_type("allow.mount", &look).unwrap().0,
        jail::ParamType::Bool
    );
    for d in jail::KNOWN_PARAMS {
        if let Ok((ty, _)) = jail::learn_param_type(d.name, &look) {
            assert_eq!(
                ty, d.ty,
                "the static table disagrees with the kernel on {}",
                d.name
            );
        }
    }
}

#[test]
#[ignore = "root: mounts while another thread swaps the mount point for a symlink"]
fn a_mount_point_swapped_for_a_symlink_never_redirects_the_mount() {
    // The jail's root user can rename a directory and put a symlink to / in its place between
    // our walk and the mount. The mount goes onto the directory descriptor the walk opened
    // (fchdir + fspath "."), so it lands where the walk went, or is undone and refused.
    require_root();
    let root = std::env::temp_dir().join(unique("lxrace"));
    std::fs::create_dir_all(root.join("dev/shm")).unwrap();
    let r = root.to_str().unwrap().to_string();
    let host_before: Vec<_> = LinuxHost
        .mounts()
        .unwrap()
        .into_iter()
        .filter(|m| !m.on.starts_with(&r))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let (dev, real, link) = (
                root.join("dev"),
                root.join("dev.real"),
                root.join("dev.link"),
            );
            std::os::unix::fs::symlink("/", &link).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if std::fs::rename(&dev, &real).is_ok() {
                    let _ = std::fs::rename(&link, &dev);
                    let _ = std::fs::rename(&dev, &link);
                    let _ = std::fs::rename(&real, &dev);
                }
            }
        })
    };
    let shm = linux_mount_set(0, Some("1m"), &[])[1].clone();
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..300 {
        match LinuxHost.mount(&r, &shm) {
            Ok(on) => {
                ok += 1;
                assert_eq!(on, format!("{r}/dev/shm"));
                LinuxHost.unmount(&on, MountFlags::empty()).unwrap();
            }
            Err(_) => refused += 1,
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    let host_after: Vec<_> = LinuxHost
        .mounts()
        .unwrap()
        .into_iter()
        .filter(|m| !m.on.starts_with(&r))
        .collect();
    assert_eq!(host_after, host_before, "no mount outside the root, ever");
    eprintln!("{ok} mounts below the root, {refused} refused");
    let _ = std::fs::remove_file(root.join("dev.link"));
    let _ = std::fs::rename(root.join("dev.real"), root.join("dev"));
    std::fs::remove_dir_all(&root).unwrap();
}
