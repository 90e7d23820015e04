//! `plan --exact`: the engine itself run against a recording host seeded from read-only queries
//! of the real one, so the printed kernel calls are the ones `up` would make (plan and apply
//! cannot drift: they are the same code).

use crate::engine::{self, Env};
use crate::spec::Valid;
use hostsim::{Node, SimDataset, SimGpu, SimHost, SimJail, SimKld, SimMount};
use serde::Serialize;
use std::path::Path;
use zfs::{DatasetName, PropName};

/// Sysctls the flow reads.
const SYSCTLS: &[&str] = &[
    "compat.linux.emul_path",
    "compat.linux.osname",
    "compat.linux.osrelease",
    "compat.linux.oss_version",
    "hw.nvidia.version",
    "kern.osrelease",
    "kern.elf64.fallback_brand",
    "vfs.devfs.rule_depth",
    "security.jail.jailed",
];

/// Files inside a jail root whose contents the steps read (paths in the jail; a leading `/` is
/// dropped).
const ROOT_FILES: &[&str] = &[
    "etc/ld.so.preload",
    "etc/passwd",
    "etc/group",
    "etc/shadow",
    crate::shim::PROBE_SOURCE_REL,
    crate::shim::SHIM_SOURCE_REL,
    crate::shim::SHIM_PATH,
];

/// Files inside a jail root whose existence the steps (or the commands they run there) check.
const ROOT_PRESENT: &[&str] = &[
    "bin/sh",
    "sbin/ldconfig",
    "usr/bin/cc",
    crate::shim::PROBE_PATH,
];

/// Directories of a Linux root the steps write into (they create none of these themselves).
const ROOT_DIRS: &[&str] = &["etc", "usr/lib/x86_64-linux-gnu", "usr/local/lib", "tmp"];

/// What the steps look at below a Linux root `dir`, as (relative path, node): the contents of
/// [`ROOT_FILES`], and empty files standing for [`ROOT_PRESENT`] and the NVIDIA libraries already
/// installed.
fn root_observation(env: &Env<'_>, dir: &str) -> Vec<(String, Node)> {
    let mut out = Vec::new();
    for f in ROOT_FILES.iter().map(|f| f.trim_start_matches('/')) {
        if let Some(data) = env.fs.read_host(&format!("{dir}/{f}")) {
            out.push((f.to_string(), Node::File(data)));
        }
    }
    for f in ROOT_PRESENT.iter().map(|f| f.trim_start_matches('/')) {
        if env.view.exists(&format!("{dir}/{f}")) {
            out.push((f.to_string(), Node::File(Vec::new())));
        }
    }
    // Built programs become the simulation's programs of the same kind (a real ELF means
    // nothing to the simulated jail); an empty or missing one stays as it is.
    for (path, tag) in [
        (crate::shim::PROBE_PATH, hostsim::programs::CUDA_CHECK),
        (crate::shim::SHIM_PATH, hostsim::programs::UVM_SHIM),
    ] {
        let rel = path.trim_start_matches('/');
        let real = env.fs.read_host(&format!("{dir}/{rel}"));
        if real.as_deref().is_some_and(|d| !d.is_empty()) {
            out.retain(|(p, _)| p != rel);
            out.push((rel.to_string(), Node::File(tag.to_vec())));
        }
    }
    for d in ROOT_DIRS {
        if env.view.exists(&format!("{dir}/{d}")) {
            out.push(((*d).to_string(), Node::Dir));
        }
    }
    for n in env.view.read_dir(&format!("{dir}/{}", engine::NV_LIB_DEST)) {
        out.push((
            format!("{}/{n}", engine::NV_LIB_DEST),
            Node::File(Vec::new()),
        ));
    }
    out
}

/// A copy of what the flow can observe on `env`'s host, made only with read-only calls:
/// modules, sysctls, devfs rulesets and nodes, mounts, jails, the pool's cudajail datasets with
/// their properties, the host files the flow reads, and the GPUs.
///
/// # Errors
/// A failing read-only query.
pub fn seed(env: &Env<'_>, v: &Valid) -> anyhow::Result<SimHost> {
    let h = SimHost::empty();
    let klds = env.kld.list()?;
    let mut sysctls = Vec::new();
    for n in SYSCTLS {
        if let Some(val) = env.sysctl.get(n)? {
            sysctls.push((n.to_string(), val));
        }
    }
    let dev = Path::new("/dev");
    let mut rulesets = Vec::new();
    for rs in env.devfs.rulesets(dev)? {
        rulesets.push((rs, env.devfs.rules(dev, rs)?));
    }
    let mounts = env.mount.mounts()?;
    let jails = env.jail.list()?;
    // Datasets: the pool and everything under <pool>/cudajail.
    let mut datasets: Vec<(String, SimDataset)> = Vec::new();
    let mut todo = vec![v.pool.to_string()];
    let props = [
        "mountpoint",
        "origin",
        "cudajail:managed",
        "cudajail:ruleset",
        "cudajail:journal",
    ];
    while let Some(d) = todo.pop() {
        if !env.zfs.exists(&zfs::ZfsName::parse(&d)?)? {
            continue;
        }
        let ds = DatasetName::new(d.split('@').next().unwrap_or(&d))?;
        let mut sd = SimDataset::default();
        if !d.contains('@') {
            for p in props {
                if let Some(val) = env.zfs.get_prop(&ds, &PropName::new(p)?)? {
                    if p == "origin" {
                        sd.origin = Some(val);
                    } else {
                        sd.props.insert(p.to_string(), val);
                    }
                }
            }
            for c in env.zfs.children(&ds)? {
                if d == v.pool.as_str() && !c.starts_with(&format!("{}/cudajail", v.pool)) {
                    continue;
                }
                todo.push(c);
            }
        } else {
            sd.files = Some(Default::default());
        }
        datasets.push((d, sd));
    }
    // Host files the flow reads (contents) and directories it lists (names only).
    let emul = sysctls
        .iter()
        .find(|(n, _)| n == "compat.linux.emul_path")
        .map_or("/compat/linux".to_string(), |(_, v)| v.clone());
    let mut files: Vec<(String, Node)> = Vec::new();
    for f in [
        "/etc/rc.conf",
        "/etc/passwd",
        "/etc/group",
        "/etc/resolv.conf",
    ] {
        if let Some(d) = env.fs.read_host(f) {
            files.push((f.into(), Node::File(d)));
        }
    }
    for d in [
        "usr/lib64",
        "usr/lib/x86_64-linux-gnu",
        "etc",
        "dev/shm",
        "usr/local/lib/cudajail",
    ] {
        let dir = format!("{}/{d}", emul.trim_end_matches('/'));
        if env.view.exists(&dir) {
            files.push((dir.clone(), Node::Dir));
            for n in env.view.read_dir(&dir) {
                let p = format!("{dir}/{n}");
                if env.view.read_dir(&p).is_empty() {
                    files.push((
                        p.clone(),
                        Node::File(env.fs.read_host(&p).unwrap_or_default()),
                    ));
                }
            }
        }
    }
    // Inside existing cudajail roots: what the steps look at to decide whether they are done.
    for (name, d) in &datasets {
        let Some(mp) = d.props.get("mountpoint").filter(|_| !name.contains('@')) else {
            continue;
        };
        let mp = mp.trim_end_matches('/');
        for (rel, n) in root_observation(env, mp) {
            files.push((format!("{mp}/{rel}"), n));
        }
    }
    // Snapshots (the templates): the same, read through `.zfs/snapshot`, else the live
    // filesystem, so a clone of the copy starts like a clone of the real one.
    let mounts_of: std::collections::BTreeMap<String, String> = datasets
        .iter()
        .filter_map(|(n, d)| Some((n.clone(), d.props.get("mountpoint")?.clone())))
        .collect();
    for (name, d) in &mut datasets {
        let Some((fs, snap)) = name.split_once('@') else {
            continue;
        };
        let Some(mp) = mounts_of.get(fs) else {
            continue;
        };
        let mp = mp.trim_end_matches('/');
        let in_snap = format!("{mp}/.zfs/snapshot/{snap}");
        let dir = if env.view.exists(&in_snap) {
            in_snap
        } else {
            mp.to_string()
        };
        let mut tree = std::collections::BTreeMap::new();
        for (rel, n) in root_observation(env, &dir) {
            let mut parent = String::new();
            for c in rel
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map_or(&[][..], |x| x.1)
            {
                if !parent.is_empty() {
                    parent.push('/');
                }
                parent.push_str(c);
                tree.insert(parent.clone(), Node::Dir);
            }
            tree.insert(rel, n);
        }
        d.files = Some(tree);
    }
    // NVIDIA's installer, when the spec names one: its existence (the copy does not need its
    // hundreds of MiB).
    if let Some(run) = &v.spec.nvidia_run {
        if env.view.exists(run) {
            files.push((run.clone(), Node::File(Vec::new())));
        }
    }
    // Bind sources the preflight asks about (as empty directories).
    for b in &v.spec.binds {
        if env.view.exists(&b.host) {
            files.push((b.host.clone(), Node::Dir));
        }
    }
    // The host's devfs, one level of directories deep (`fd/0`, `pts/1`, `shm/.mountpoint`):
    // a name with entries below it is a directory there.
    let mut devices: Vec<String> = Vec::new();
    for n in env.view.read_dir("/dev") {
        let below = env.view.read_dir(&format!("/dev/{n}"));
        if below.is_empty() {
            devices.push(n);
        } else {
            devices.extend(below.into_iter().map(|c| format!("{n}/{c}")));
        }
    }
    let gpus = match nvgpu::Driver::open(env.nv) {
        Ok(d) => Some((d.version().to_string(), d.gpus()?)),
        Err(_) => None,
    };
    h.with_state(|s| {
        for k in &klds {
            s.add_kld(
                &k.name,
                SimKld {
                    id: k.id.0,
                    refs: k.refs,
                    user: k.name != "kernel",
                    modules: k.modules.clone(),
                    deps: vec![],
                },
            );
        }
        for (name, value) in &sysctls {
            s.set_sysctl(name, value);
        }
        for (rs, rules) in &rulesets {
            s.set_ruleset(*rs, rules.clone());
        }
        for m in &mounts {
            let _ = s.add_mount(
                &m.on,
                SimMount::new(&m.fstype, &m.from, (m.fstype == "devfs").then_some(0)),
            );
        }
        for j in &jails {
            s.add_jail(
                j.jid.0,
                SimJail {
                    name: j.name.clone(),
                    path: j.path.clone(),
                    params: j.params.iter().cloned().collect(),
                },
            );
        }
        for (name, d) in &datasets {
            s.add_dataset(name, d.clone());
        }
        for (p, n) in &files {
            match n {
                Node::Dir => {
                    let _ = s.mkdir_p(p);
                }
                Node::File(d) => {
                    let _ = s.write_file(p, d);
                }
                Node::Symlink(_) => {}
            }
        }
        s.set_devices(devices.iter().map(|d| devfs::eval::Node::new(d)).collect());
        if let Some((ver, g)) = &gpus {
            s.set_nvidia_version(Some(ver));
            for g in g {
                s.add_gpu(SimGpu {
                    minor: g.minor,
                    gpu_id: g.gpu_id,
                    bus: u8::from_str_radix(g.pci_bus_id.split(':').nth(1).unwrap_or("0"), 16)
                        .unwrap_or(0),
                    device_id: g.device_id,
                    name: g.name.clone(),
                    uuid: g.uuid.clone(),
                    total_kib: (g.memory_total_mib * 1024) as u32,
                    free_kib: (g.memory_free_mib * 1024) as u32,
                });
            }
        }
    });
    Ok(h)
}

/// One kernel call `up` would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCall {
    /// The verb (`JailCreate`, `Mount`, `DevfsAddRule`…).
    pub verb: String,
    /// Its subject.
    pub subject: String,
    /// Whether it changes the host (not a query).
    pub changes_host: bool,
}

impl From<&hostsim::Call> for PlannedCall {
    fn from(c: &hostsim::Call) -> Self {
        PlannedCall {
            verb: format!("{:?}", c.verb),
            subject: c.subject(),
            changes_host: c.verb.changes_host(),
        }
    }
}

/// Runs `up` on a copy of the host and returns the calls it made (reads included) and whether it
/// would succeed, with the error if not.
///
/// # Errors
/// Seeding failed.
pub fn exact_plan(
    env: &Env<'_>,
    v: &Valid,
) -> anyhow::Result<(Vec<PlannedCall>, Result<(), String>)> {
    let copy = seed(env, v)?;
    let start = copy.calls().len();
    let senv = crate::engine::sim_env(&copy);
    let r = engine::plan(&senv, v)
        .and_then(|p| engine::up(&senv, v, &p).map(|_| ()))
        .map_err(|e| format!("{e:#}"));
    let calls = copy.calls()[start..]
        .iter()
        .map(PlannedCall::from)
        .collect();
    Ok((calls, r))
}
