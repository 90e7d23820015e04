//! The jail's root user as an attacker, on the simulated host: what it plants in the jail while
//! the jail is up must never make host root's `up`, `sync-driver` or `destroy` read host files
//! into the jail, write outside it, or touch what cudajail did not create. The same file-layer
//! attacks run for real against `rootfs::Beneath` in crates/rootfs-rs/tests/attacks.rs.

use cudajail::engine::up;
use cudajail::spec::{Spec, Valid};
use hostsim::SimHost;
use linuxulator::readiness::FsView;

const SECRET: &[u8] = b"root:$6$host-password-hash:0:0::0:0:Charlie &:/root:/bin/csh\n";

use workspace_tests::{default_spec as default, planned};

/// A host with the default jail up and a host secret.
fn host_with_jail_up(v: &Valid) -> (SimHost, cudajail::plan::Plan) {
    let (h, p) = workspace_tests::host_with_jail_up(v);
    h.with_state(|s| s.write_file("/etc/master.passwd", SECRET).unwrap());
    (h, p)
}

/// No file below the jail's root holds the secret.
fn secret_stays_out(h: &SimHost, root: &str) {
    h.with_state(|s| {
        for (path, node) in s.files() {
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
        s.remove_entry(&preload);
        s.symlink(&preload, "/etc/master.passwd").unwrap();
    });
    let e = up(&cudajail::engine::sim_env(&h), &v, &planned(&h, &v))
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
        s.remove_entry(&so);
        s.symlink(&so, "/etc/master.passwd").unwrap();
    });
    h.fail_at(hostsim::Verb::JailExec, 1, kld::Errno::EIO);
    let r = up(&cudajail::engine::sim_env(&h), &v, &planned(&h, &v));
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
    up(&cudajail::engine::sim_env(&h), &v, &p).unwrap();
    // A driver upgrade: the next `up` runs the new installer in the running jail, where a jail
    // user has planted the names.
    h.set_nvidia_version("580.105.08");
    let new_run = "/root/NVIDIA-Linux-x86_64-580.105.08.run";
    let planted = format!(
        "{}/tmp/cudajail-install.0/NVIDIA-Linux-x86_64-580.105.08.run",
        p.root
    );
    h.with_state(|s| {
        s.set_sysctl(
            "hw.nvidia.version",
            "NVIDIA UNIX x86_64 Kernel Module  580.105.08  Release Build",
        );
        s.write_file(new_run, b"#!/bin/sh").unwrap();
        s.write_file(&planted, b"evil").unwrap();
        s.symlink(&format!("{}/tmp/cudajail-install.1", p.root), "/root")
            .unwrap();
    });
    let v = with_run(new_run);
    let start = h.calls().len();
    let r = up(&cudajail::engine::sim_env(&h), &v, &planned(&h, &v));
    assert!(r.is_ok(), "{r:?}");
    let ran: Vec<String> = h.calls()[start..]
        .iter()
        .filter_map(|c| match &c.args {
            hostsim::Args::JailExec { argv, .. } if argv.iter().any(|a| a.contains(".run")) => {
                Some(argv.join(" "))
            }
            _ => None,
        })
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

fn foreign_jail(h: &SimHost, name: &str, path: &str) {
    h.with_state(|s| s.mkdir_p(path).unwrap());
    let spec = jail::JailSpec::new(jail::JailName::new(name).unwrap(), path)
        .param("persist", jail::ParamValue::Bool(true));
    jail::JailOps::create(h, &spec).unwrap();
}

#[test]
fn destroy_refuses_a_foreign_jail_of_the_same_name_and_changes_nothing() {
    // No dataset of ours; a jail named like the spec's runs elsewhere, and something is mounted
    // below the spec's root. Before: destroy removed the jail and unmounted everything there.
    let h = SimHost::freebsd14_cuda_ready(1);
    let v = default();
    let p = planned(&h, &v);
    foreign_jail(&h, "cuda", "/usr/jails/cuda");
    h.with_state(|s| {
        s.mkdir_p(&format!("{}/data", p.root)).unwrap();
        s.mkdir_p("/usr/home").unwrap();
    });
    linuxulator::MountOps::mount(
        &h,
        &p.root,
        &linuxulator::MountSpec {
            fstype: "nullfs".into(),
            from: "/usr/home".into(),
            target: "data".into(),
            options: vec![],
            flags: linuxulator::MountFlags::empty(),
        },
    )
    .unwrap();
    let before = h.observable();
    let env = cudajail::engine::sim_env(&h);
    let e = cudajail::engine::destroy(&env, &v, &p, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/usr/jails/cuda") && e.contains("another jail"),
        "{e}"
    );
    assert!(e.contains("nothing was changed"), "{e}");
    assert_eq!(h.observable(), before);
    // And the same jail at the spec's own path, with no dataset: not provably ours either.
    let h = SimHost::freebsd14_cuda_ready(1);
    foreign_jail(&h, "cuda", &p.root);
    let before = h.observable();
    let e = cudajail::engine::destroy(&cudajail::engine::sim_env(&h), &v, &p, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no dataset"), "{e}");
    assert_eq!(h.observable(), before);
}

#[test]
fn destroy_refuses_datasets_and_snapshots_it_did_not_make_and_force_takes_them_in_order() {
    let v = default();
    let (h, p) = host_with_jail_up(&v);
    let env = cudajail::engine::sim_env(&h);
    let ds = zfs::DatasetName::new(&p.dataset).unwrap();
    zfs::ZfsOps::create(&h, &ds.child("scratch").unwrap(), &[]).unwrap();
    let snap = zfs::SnapshotName::new(&format!("{}@before-upgrade", p.dataset)).unwrap();
    zfs::ZfsOps::snapshot(&h, std::slice::from_ref(&snap)).unwrap();
    let before = h.observable();
    let e = cudajail::engine::destroy(&env, &v, &p, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zroot/cudajail/cuda/scratch")
            && e.contains("zroot/cudajail/cuda@before-upgrade"),
        "{e}"
    );
    assert_eq!(h.observable(), before, "refused before any change");
    // A clone elsewhere of that snapshot: never ours to destroy, even with --force.
    let other = zfs::DatasetName::new("zroot/experiment").unwrap();
    zfs::ZfsOps::clone_snapshot(&h, &other, &snap, &[]).unwrap();
    let before = h.observable();
    let e = cudajail::engine::destroy(&env, &v, &p, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zroot/experiment"), "{e}");
    assert_eq!(h.observable(), before);
    zfs::ZfsOps::destroy(&h, &zfs::ZfsName::from(&other)).unwrap();
    // --force: children first, then snapshots, then the dataset; the template stays.
    let done = cudajail::engine::destroy(&env, &v, &p, true).unwrap();
    let order: Vec<&String> = done.iter().filter(|d| d.starts_with("destroyed")).collect();
    assert_eq!(
        order,
        [
            "destroyed zroot/cudajail/cuda/scratch",
            "destroyed zroot/cudajail/cuda@before-upgrade",
            "destroyed zroot/cudajail/cuda"
        ],
        "{done:?}"
    );
    assert!(zfs::ZfsOps::exists(&h, &zfs::ZfsName::parse(&p.template).unwrap()).unwrap());
}

#[test]
fn destroy_never_deletes_freebsds_own_rulesets() {
    // The ruleset number comes back from a ZFS user property: a value of 0-4 names one of
    // FreeBSD's own rulesets (devfs.rules defaults), which destroy must never delete.
    let v = default();
    let (h, p) = host_with_jail_up(&v);
    let env = cudajail::engine::sim_env(&h);
    let ds = zfs::DatasetName::new(&p.dataset).unwrap();
    let rs = zfs::PropName::cudajail("ruleset").unwrap();
    for bad in ["4", "0", "-1", "70000", "4 ", "abc"] {
        zfs::ZfsOps::set_prop(&h, &ds, &rs, bad).unwrap();
        let before = h.observable();
        let e = cudajail::engine::destroy(&env, &v, &p, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0-4 are FreeBSD's own"), "{bad:?}: {e}");
        assert_eq!(h.observable(), before, "{bad:?}");
    }
    zfs::ZfsOps::set_prop(&h, &ds, &rs, "4").unwrap();
    let stock =
        devfs::DevfsOps::rules(&h, std::path::Path::new("/dev"), devfs::RulesetId(4)).unwrap();
    assert!(!stock.is_empty());
    let done = cudajail::engine::destroy(&env, &v, &p, true).unwrap();
    assert!(
        done.iter()
            .any(|d| d.contains("left the devfs ruleset alone")),
        "{done:?}"
    );
    assert_eq!(
        devfs::DevfsOps::rules(&h, std::path::Path::new("/dev"), devfs::RulesetId(4)).unwrap(),
        stock
    );
}

#[test]
fn destroy_deletes_only_a_ruleset_that_carries_cudajails_mark() {
    // cudajail:ruleset on the dataset names someone else's ruleset (edited, or the number
    // reused after a manual cleanup): its rules are not ours to delete.
    let v = default();
    let (h, p) = host_with_jail_up(&v);
    let env = cudajail::engine::sim_env(&h);
    let dev = std::path::Path::new("/dev");
    let other = devfs::RulesetId(300);
    devfs::DevfsOps::add_rule(&h, dev, other, &devfs::Rule::unhide("bpf*")).unwrap();
    let ds = zfs::DatasetName::new(&p.dataset).unwrap();
    zfs::ZfsOps::set_prop(&h, &ds, &zfs::PropName::cudajail("ruleset").unwrap(), "300").unwrap();
    let before = h.observable();
    let e = cudajail::engine::destroy(&env, &v, &p, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not carry cudajail's mark"), "{e}");
    assert_eq!(h.observable(), before);
    cudajail::engine::destroy(&env, &v, &p, true).unwrap();
    assert_eq!(
        devfs::DevfsOps::rules(&h, dev, other).unwrap().len(),
        1,
        "left alone even with --force"
    );
}

#[test]
fn a_ruleset_left_by_a_failed_undo_is_adopted_by_the_next_up() {
    let v = default();
    let h = SimHost::freebsd14_cuda_ready(1);
    let env = cudajail::engine::sim_env(&h);
    let p = planned(&h, &v);
    // up fails at the jail step and its undo cannot delete the ruleset's second rule.
    h.fail_at(hostsim::Verb::JailCreate, 1, kld::Errno::EIO);
    h.fail_at(hostsim::Verb::DevfsDeleteRule, 2, kld::Errno::EPERM);
    let e = up(&env, &v, &p).unwrap_err().to_string();
    h.clear_faults();
    assert!(
        e.contains(&format!("devfs ruleset {} is left", p.ruleset)),
        "{e}"
    );
    let again = planned(&h, &v);
    assert_eq!(
        again.ruleset, p.ruleset,
        "the marked leftover is adopted, not a new number"
    );
    up(&env, &v, &again).unwrap();
    cudajail::engine::destroy(&env, &v, &again, false).unwrap();
    assert!(
        devfs::DevfsOps::rules(&h, std::path::Path::new("/dev"), p.ruleset)
            .unwrap()
            .is_empty()
    );
}
