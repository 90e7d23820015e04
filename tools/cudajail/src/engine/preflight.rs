//! What `up` can know is wrong before it changes anything: read-only queries of the host, every
//! problem at once, each naming the spec field, what the host has and the fix. `plan` on a host
//! (`--sim`, `--exact`) prints the same list; `up` stops on it before its first change.

use super::Env;
use crate::spec::{Problem, Valid};
use devfs::types::GpuSelection;

fn problem(field: &str, message: String) -> Problem {
    Problem {
        field: field.into(),
        message,
    }
}

/// Every problem read-only queries find (empty: nothing found).
///
/// Checked: the pool exists; a dotted name's parent jail runs (jail(8): `a.b` is jail `b`
/// inside jail `a`, which cudajail does not create); the GPU minors exist (when the driver is
/// loaded; `up` loads it otherwise); bind sources exist on the host; mirrored users are in the
/// host's `/etc/passwd`; `nvidia_run` exists and is the kernel module's version.
pub fn preflight(env: &Env<'_>, v: &Valid) -> Vec<Problem> {
    let mut out = Vec::new();
    match env.zfs.exists(&zfs::ZfsName::from(&v.pool)) {
        Ok(true) => {}
        Ok(false) => out.push(problem(
            "pool",
            format!(
                "pool {} does not exist (see `zpool list`); set `pool` in the spec",
                v.pool
            ),
        )),
        Err(e) => out.push(problem(
            "pool",
            format!("cannot ask ZFS about {}: {e}", v.pool),
        )),
    }
    if let Some((parent, _)) = v.name.as_str().rsplit_once('.') {
        let running = jail::JailName::new(parent)
            .ok()
            .and_then(|p| env.jail.get(&p).ok().flatten())
            .is_some();
        if !running {
            out.push(problem(
                "name",
                format!(
                    "{:?}: a dot makes it jail {:?} inside jail {parent:?} (jail(8)'s hierarchy), \
                     and no jail {parent:?} is running; use a name without dots, such as {:?}",
                    v.name.as_str(),
                    v.name.as_str().rsplit('.').next().unwrap_or_default(),
                    v.name.as_str().replace('.', "_")
                ),
            ));
        }
    }
    if let GpuSelection::Only(list) = &v.gpus {
        // Without the driver loaded there is nothing to ask; `up` loads it and checks again.
        if let Ok(gpus) = nvgpu::Driver::open(env.nv).and_then(|d| d.gpus()) {
            let have: Vec<u32> = gpus.iter().map(|g| g.minor).collect();
            let missing: Vec<String> = list
                .iter()
                .filter(|n| !have.contains(&u32::from(**n)))
                .map(|n| format!("nvidia{n}"))
                .collect();
            if !missing.is_empty() {
                let has = if have.is_empty() {
                    "no GPU".to_string()
                } else {
                    have.iter()
                        .map(|m| format!("nvidia{m}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push(problem(
                    "gpus",
                    format!(
                        "{} not on this host, which has {has}; list those, or gpus = \"all\"",
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    for (i, b) in v.spec.binds.iter().enumerate() {
        if !env.view.exists(&b.host) {
            out.push(problem(
                &format!("binds[{i}].host"),
                format!(
                    "{} does not exist on this host; create it (mkdir -p {}) or fix the path",
                    b.host, b.host
                ),
            ));
        }
    }
    if !v.spec.users.is_empty() {
        let pw = env.view.read_to_string("/etc/passwd").unwrap_or_default();
        for (i, u) in v.spec.users.iter().enumerate() {
            if !pw.lines().any(|l| l.split(':').next() == Some(u.as_str())) {
                out.push(problem(
                    &format!("users[{i}]"),
                    format!(
                        "{u} is not a user of this host (/etc/passwd); create it (pw useradd \
                         {u}) or remove it from the spec"
                    ),
                ));
            }
        }
    }
    if let Some(run) = &v.spec.nvidia_run {
        if !env.view.exists(run) {
            out.push(problem(
                "nvidia_run",
                format!("{run} does not exist on this host"),
            ));
        } else if let Some(want) = crate::spec::run_file_version(run) {
            let kernel = env
                .sysctl
                .get("hw.nvidia.version")
                .ok()
                .flatten()
                .and_then(|t| nvgpu::codec::parse_sysctl_version(&t));
            if let Some(k) = kernel.filter(|k| k != want) {
                out.push(problem(
                    "nvidia_run",
                    format!(
                        "{run} is version {want}, the kernel module is {k}: the userspace must \
                         be the module's version; use NVIDIA-Linux-x86_64-{k}.run"
                    ),
                ));
            }
        }
    }
    out
}
