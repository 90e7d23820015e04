//! The CUDA jail building blocks, composed by hand against the simulated host: what
//! `cudajail up` will automate (issue 10). Every step uses the same values `cudajail plan` prints.

use cudajail::plan::{self, HOST_MODULES};
use cudajail::spec::Spec;
use devfs::{DevfsOps, Ruleset, RulesetId};
use hostsim::{SimHost, Verb};
use jail::{JailFlags, JailOps, JailSpec, JailSys, ParamValue};
use kld::KldOps;
use linuxulator::{linux_mount_set, MountFlags, MountOps};
use std::path::Path;
use zfs::{DatasetName, PropName, SnapshotName, ZfsOps};

fn ds(s: &str) -> DatasetName {
    DatasetName::new(s).unwrap()
}

/// Runs the flow; returns the jail's root.
fn provision(h: &SimHost) -> Result<String, String> {
    let v = Spec::default()
        .validate(None)
        .map_err(|e| format!("{e:?}"))?;
    let used = h.rulesets(Path::new("/dev")).map_err(|e| e.to_string())?;
    let p = plan::build(&v, &used, true).map_err(|e| e.to_string())?;

    kld::ensure_loaded(h, HOST_MODULES).map_err(|e| e.to_string())?;

    ZfsOps::create(h, &ds("zroot/cudajail"), &[]).map_err(|e| e.to_string())?;
    ZfsOps::create(h, &ds("zroot/cudajail/templates"), &[]).map_err(|e| e.to_string())?;
    ZfsOps::create(h, &ds("zroot/cudajail/templates/noble"), &[]).map_err(|e| e.to_string())?;
    h.with_state(|s| {
        for d in ["dev", "proc", "sys", "tmp", "etc"] {
            s.mkdir_p(&format!("/zroot/cudajail/templates/noble/{d}"))
                .unwrap();
        }
    });
    let base = SnapshotName::new("zroot/cudajail/templates/noble@base").unwrap();
    ZfsOps::snapshot(h, std::slice::from_ref(&base)).map_err(|e| e.to_string())?;
    ZfsOps::clone_snapshot(
        h,
        &ds(&p.dataset),
        &base,
        &[(PropName::cudajail("managed").unwrap(), "on".into())],
    )
    .map_err(|e| e.to_string())?;
    h.with_state(|s| {
        s.mkdir_p(&format!("{}/dev/shm", p.root)).unwrap();
        s.mkdir_p(&format!("{}/dev/fd", p.root)).unwrap();
    });

    let rs = Ruleset::gpu(p.ruleset, "cudajail", &v.gpus, false);
    for r in &rs.rules {
        h.add_rule(Path::new("/dev"), rs.id, r)
            .map_err(|e| e.to_string())?;
    }
    // /dev first: the later mounts go below it.
    for m in linux_mount_set(p.ruleset.0, Some("1g"), &[]) {
        h.mount(&p.root, &m).map_err(|e| e.to_string())?;
    }
    let spec = JailSpec::new(v.name.clone(), p.root.clone())
        .param("persist", ParamValue::Bool(true))
        .param("devfs_ruleset", ParamValue::Int(i64::from(p.ruleset.0)))
        .param("enforce_statfs", ParamValue::Int(1))
        .param("linux", ParamValue::Sys(JailSys::New))
        .param("linux.osrelease", ParamValue::Str(v.osrelease.to_string()));
    jail::codec::encode_create(&spec, JailFlags::CREATE).map_err(|e| e.to_string())?;
    JailOps::create(h, &spec).map_err(|e| e.to_string())?;
    Ok(p.root)
}

#[test]
fn the_flow_runs_on_a_simulated_freebsd_host() {
    let h = SimHost::freebsd14_with_gpus(2);
    let root = provision(&h).unwrap();
    let nodes = h.devfs_nodes(&format!("{root}/dev"));
    for n in [
        "nvidiactl",
        "nvidia0",
        "nvidia1",
        "nvidia-modeset",
        "null",
        "pts",
    ] {
        assert!(
            nodes.contains(&n.to_string()),
            "{n} missing from the jail's /dev: {nodes:?}"
        );
    }
    assert!(!nodes.contains(&"mem".to_string()) && !nodes.contains(&"ada0".to_string()));
    let jails = JailOps::list(&h).unwrap();
    assert_eq!(jails.len(), 1);
    assert!(jails[0]
        .params
        .contains(&("linux.osrelease".into(), ParamValue::Str("6.8.0".into()))));
    // The GPUs, as the jail would see them through the driver.
    let d = nvgpu::Driver::open(&h).unwrap();
    assert_eq!(d.gpus().unwrap().len(), 2);
    // Tear down in reverse: mounts, then the clone.
    let mut mounted: Vec<String> = h
        .mounts()
        .unwrap()
        .into_iter()
        .map(|m| m.on)
        .filter(|on| on.starts_with(&root))
        .collect();
    mounted.sort();
    for on in mounted.iter().rev() {
        h.unmount(on, MountFlags::empty()).unwrap();
    }
    JailOps::remove(&h, jails[0].jid).unwrap();
    ZfsOps::destroy(&h, &zfs::ZfsName::parse("zroot/cudajail/cuda").unwrap()).unwrap();
}

#[test]
fn a_second_run_picks_another_ruleset_number() {
    let h = SimHost::freebsd14_with_gpus(1);
    h.add_rule(Path::new("/dev"), RulesetId(100), &devfs::Rule::hide_all())
        .unwrap();
    let root = provision(&h).unwrap();
    let j = JailOps::list(&h).unwrap();
    assert!(
        j[0].params
            .contains(&("devfs_ruleset".into(), ParamValue::Int(101))),
        "{:?}",
        j[0].params
    );
    assert!(h
        .devfs_nodes(&format!("{root}/dev"))
        .contains(&"nvidia0".to_string()));
}

#[test]
fn every_injected_failure_stops_the_flow_with_an_error() {
    // Each verb the flow uses, failed on its first call: the flow must report an error (not
    // panic, not carry on). Rolling back is the plan/apply engine's job (issue 10).
    for verb in [
        Verb::KldLoad,
        Verb::ZfsCreate,
        Verb::ZfsSnapshot,
        Verb::ZfsClone,
        Verb::DevfsAddRule,
        Verb::Mount,
        Verb::JailCreate,
    ] {
        let h = SimHost::freebsd14_with_gpus(1);
        h.fail_at(verb, 1, sysabi_errno());
        let e = provision(&h).unwrap_err();
        assert!(e.contains("EIO"), "{verb:?}: {e}");
        assert!(h
            .calls()
            .iter()
            .any(|c| c.verb == verb && c.failed.is_some()));
    }
}

fn sysabi_errno() -> kld::Errno {
    kld::Errno::EIO
}

#[test]
fn kldload_is_refused_for_an_unknown_module_without_changes() {
    let h = SimHost::freebsd14_with_gpus(0);
    let before = h.snapshot();
    assert!(h.load("nvidia-uvm").is_err(), "FreeBSD has no nvidia-uvm");
    assert_eq!(h.snapshot(), before);
}
