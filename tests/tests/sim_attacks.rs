//! The jail's root user as an attacker, on the simulated host: what it plants in the jail while
//! the jail is up must never make host root's `up`, `sync-driver` or `destroy` read host files
//! into the jail, write outside it, or touch what cudajail did not create. The same file-layer
//! attacks run for real against `rootfs::Beneath` in crates/rootfs-rs/tests/attacks.rs.

use cudajail::engine::up;
use cudajail::spec::{Spec, Valid};
use hostsim::SimHost;
use linuxulator::doctor::FsView;

const SECRET: &[u8] = b"root:$6$host-password-hash:0:0::0:0:Charlie &:/root:/bin/csh\n";

fn default() -> Valid {
    Spec::default().validate(None).unwrap()
}

fn planned(h: &SimHost, v: &Valid) -> cudajail::plan::Plan {
    cudajail::engine::plan(&cudajail::sim::env(h), v).unwrap()
}

/// A host with the default jail up and a host secret.
fn host_with_jail_up(v: &Valid) -> (SimHost, cudajail::plan::Plan) {
    let h = SimHost::freebsd14_cuda_ready(1);
    h.with_state(|s| s.write_file("/etc/master.passwd", SECRET).unwrap());
    let p = planned(&h, v);
    up(&cudajail::sim::env(&h), v, &p).unwrap();
    (h, p)
}

/// No file below the jail's root holds the secret.
fn secret_stays_out(h: &SimHost, root: &str) {
    h.with_state(|s| {
        for (path, node) in &s.files {
            if let hostsim::Node::File(d) = node {
                if path.starts_with(root) {
                    assert!(
                        !d.windows(SECRET.len()).any(|w| w == SECRET),
                        "the host secret was copied into the jail: {path}"
                    );
                }
            }
        }
    });
}

#[test]
fn a_preload_file_linked_to_a_host_secret_is_refused_not_copied() {
    // Before: `up` read etc/ld.so.preload through the link and wrote the secret plus the shim
    // line back into the jail.
    let v = default();
    let (h, p) = host_with_jail_up(&v);
    let preload = format!("{}/etc/ld.so.preload", p.root);
    h.with_state(|s| {
        s.files.remove(&preload);
        s.symlink(&preload, "/etc/master.passwd").unwrap();
    });
    let e = up(&cudajail::sim::env(&h), &v, &planned(&h, &v))
        .unwrap_err()
        .to_string();
    assert!(e.contains("symlink"), "{e}");
    secret_stays_out(&h, &p.root);
    assert_eq!(
        FsView::read_to_string(&h, "/etc/master.passwd")
            .unwrap()
            .as_bytes(),
        SECRET
    );
}

#[test]
fn a_shim_linked_to_a_host_secret_is_refused_not_kept_for_the_undo() {
    // Before: with the shim source changed (so the step rebuilds) and the shim replaced by a
    // link to the secret, `up` read the link's target as "the working shim" to restore, and a
    // failing rebuild wrote the secret into the jail.
    let v = default();
    let (h, p) = host_with_jail_up(&v);
    let so = format!("{}{}", p.root, cudajail::shim::SHIM_PATH);
    h.with_state(|s| {
        s.write_file(
            &format!("{}/{}", p.root, cudajail::shim::SHIM_SOURCE_REL),
            b"/* older */",
        )
        .unwrap();
        s.files.remove(&so);
        s.symlink(&so, "/etc/master.passwd").unwrap();
    });
    h.fail_at(hostsim::Verb::JailExec, 1, kld::Errno::EIO);
    let r = up(&cudajail::sim::env(&h), &v, &planned(&h, &v));
    h.clear_faults();
    let e = r.unwrap_err().to_string();
    assert!(e.contains("symlink"), "{e}");
    secret_stays_out(&h, &p.root);
}

fn with_run(run: &str) -> Valid {
    Spec {
        nvidia_run: Some(run.into()),
        ..Spec::default()
    }
    .validate(None)
    .unwrap()
}

#[test]
fn the_installer_never_goes_where_a_jail_user_planted_something() {
    // The jail's /tmp is world-writable. A jail user who plants the installer's directory name
    // (a directory of their own, or a link out of the jail) gets nothing: the copy goes into a
    // directory made fresh for it, 0700 root.
    let h = SimHost::freebsd14_cuda_ready(1);
    let run = "/root/NVIDIA-Linux-x86_64-580.95.05.run";
    h.with_state(|s| s.write_file(run, b"#!/bin/sh\n# makeself").unwrap());
    let v = with_run(run);
    let p = planned(&h, &v);
    up(&cudajail::sim::env(&h), &v, &p).unwrap();
    // A driver upgrade: the next `up` runs the new installer in the running jail, where a jail
    // user has planted the names.
    h.set_nvidia_version("580.105.08");
    let new_run = "/root/NVIDIA-Linux-x86_64-580.105.08.run";
    let planted = format!(
        "{}/tmp/cudajail-install.0/NVIDIA-Linux-x86_64-580.105.08.run",
        p.root
    );
    h.with_state(|s| {
        s.sysctls.insert(
            "hw.nvidia.version".into(),
            "NVIDIA UNIX x86_64 Kernel Module  580.105.08  Release Build".into(),
        );
        s.write_file(new_run, b"#!/bin/sh").unwrap();
        s.write_file(&planted, b"evil").unwrap();
        s.symlink(&format!("{}/tmp/cudajail-install.1", p.root), "/root")
            .unwrap();
    });
    let v = with_run(new_run);
    let start = h.calls().len();
    let r = up(&cudajail::sim::env(&h), &v, &planned(&h, &v));
    assert!(r.is_ok(), "{r:?}");
    let ran: Vec<String> = h.calls()[start..]
        .iter()
        .filter(|c| c.verb == hostsim::Verb::JailExec && c.subject.contains(".run"))
        .map(|c| c.subject.clone())
        .collect();
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0].contains("/tmp/cudajail-install.2/"), "{ran:?}");
    // The planted things are untouched (the link's target too); ours are gone.
    assert_eq!(
        FsView::read_to_string(&h, &planted).as_deref(),
        Some("evil")
    );
    assert!(!FsView::exists(
        &h,
        &format!("{}/tmp/cudajail-install.2", p.root)
    ));
    assert_eq!(
        FsView::read_to_string(&h, new_run).as_deref(),
        Some("#!/bin/sh")
    );
    assert_eq!(
        FsView::read_dir(&h, "/root").len(),
        2,
        "nothing new in the link's target"
    );
}
