//! The commands around `up`: `stop`, `destroy`, `list`, the templates, and `run`'s host
//! preparation.

use super::nvlib::{host_driver_version, host_nvidia_libs};
use super::{mountpoint, prop, remove_jail, unmount_below, Env};
use crate::plan::{Plan, HOST_MODULES};
use crate::spec::Valid;
use anyhow::{anyhow, bail};
use jail::JailName;
use linuxulator::Suite;
use serde::Serialize;
use std::path::Path;
use zfs::{DatasetName, PropName};

/// `cudajail stop`: removes the running jail and unmounts what is mounted below its root; the
/// dataset, ruleset and files stay, so `start` (a re-run of `up`) brings it back.
///
/// # Errors
/// Kernel errors; a busy mount is reported.
pub fn stop(env: &Env<'_>, p: &Plan) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    if let Some(j) = env.jail.get(&p.jail.name)? {
        remove_jail(env, j.jid, &p.jail.name)?;
        done.push(format!("removed jail {} (jid {})", p.name, j.jid));
    }
    for on in unmount_below(env, &p.root)? {
        done.push(format!("unmounted {on}"));
    }
    if done.is_empty() {
        done.push(format!("{} was not running", p.name));
    }
    Ok(done)
}

/// `cudajail destroy`: removes the jail, its mounts, its devfs ruleset and its dataset —
/// exactly what `up` made, and only that. Never deletes files itself: everything mounted below
/// the root (nullfs binds of host data included) is unmounted before the dataset is destroyed.
///
/// Everything is checked before anything changes. Without `force` it refuses, naming what
/// differs, when: the dataset lacks cudajail's ownership mark (`cudajail:managed=on`); a jail
/// of the spec's name runs at another path, or runs with no dataset of ours to prove it ours;
/// the dataset has children or snapshots (`up` makes none, so someone else did); the ruleset
/// number read back from the dataset is not one cudajail allocates (5–65535). With `force` it
/// goes ahead, destroying children and snapshots in dependency order, but never deletes rulesets
/// 0–4 (FreeBSD's own) and never destroys a clone elsewhere that depends on a snapshot here.
///
/// # Errors
/// A refusal (nothing changed), or the first failing step.
pub fn destroy(env: &Env<'_>, v: &Valid, p: &Plan, force: bool) -> anyhow::Result<Vec<String>> {
    let _ = v;
    let ds = DatasetName::new(&p.dataset)?;
    let name = JailName::new(&p.name)?;
    let exists = env.zfs.exists(ds.as_str())?;
    let managed = exists && env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() == Some("on");
    let mut differs = Vec::new();
    if exists && !managed {
        differs.push(format!(
            "{ds} was not created by cudajail (it lacks cudajail:managed=on)"
        ));
    }
    let jail = env.jail.get(&name)?;
    if let Some(j) = &jail {
        if j.path.trim_end_matches('/') != p.root.trim_end_matches('/') {
            differs.push(format!(
                "the running jail {name} (jid {}) has path {}, not {}: it is another jail of the same name",
                j.jid, j.path, p.root
            ));
        } else if !exists {
            differs.push(format!(
                "the running jail {name} (jid {}) has no dataset {ds}: nothing shows cudajail made it",
                j.jid
            ));
        }
    }
    let below = if exists {
        env.zfs.children(&ds)?
    } else {
        Vec::new()
    };
    if !below.is_empty() {
        differs.push(format!(
            "{ds} has datasets or snapshots cudajail did not create: {}",
            below.join(", ")
        ));
    }
    let mut ruleset = None;
    let mut ruleset_refused = None;
    if managed {
        if let Some(r) = env.zfs.get_prop(&ds, &prop("ruleset"))? {
            match r.parse::<u16>() {
                Ok(n) if n >= 5 => {
                    let id = devfs::RulesetId(n);
                    let rules = env.devfs.rules(Path::new("/dev"), id)?;
                    if rules.is_empty() || crate::plan::owned_by(&rules, &p.name) {
                        ruleset = Some(id);
                    } else {
                        let why = format!(
                            "devfs ruleset {n} (from cudajail:ruleset on {ds}) does not carry cudajail's mark for {}: its rules are someone else's",
                            p.name
                        );
                        differs.push(why.clone());
                        ruleset_refused = Some(why);
                    }
                }
                _ => {
                    let why = format!(
                        "cudajail:ruleset={r:?} on {ds} is not a ruleset cudajail allocates (5-65535; 0-4 are FreeBSD's own)"
                    );
                    differs.push(why.clone());
                    ruleset_refused = Some(why);
                }
            }
        }
    }
    // Clones elsewhere of a snapshot below: destroying them is never ours to do.
    let snaps: Vec<&String> = below.iter().filter(|c| c.contains('@')).collect();
    let clones = if snaps.is_empty() {
        Vec::new()
    } else {
        clones_in_pool(env, &ds)?
    };
    let blocking: Vec<String> = clones
        .iter()
        .filter(|(_, origin)| snaps.contains(&origin))
        .map(|(c, o)| format!("{c} (a clone of {o})"))
        .collect();
    if !blocking.is_empty() {
        bail!(
            "refusing to destroy {ds}: datasets elsewhere depend on its snapshots: {}; destroy or promote them first (nothing was changed)",
            blocking.join(", ")
        );
    }
    if !differs.is_empty() && !force {
        bail!(
            "refusing to destroy {}: nothing was changed\n  - {}\nhint: `cudajail status` shows what is there; --force destroys it anyway (never FreeBSD's rulesets 0-4)",
            p.name,
            differs.join("\n  - ")
        );
    }
    if !exists && jail.is_none() && !force {
        return Ok(vec![format!(
            "{} does not exist: nothing to destroy",
            p.name
        )]);
    }
    let mut done = Vec::new();
    if let Some(j) = jail {
        remove_jail(env, j.jid, &name)?;
        done.push(format!("removed jail {} (jid {})", p.name, j.jid));
    }
    for on in unmount_below(env, &p.root)? {
        done.push(format!("unmounted {on}"));
    }
    if let Some(rs) = ruleset {
        let n = devfs::delete_ruleset(env.devfs, Path::new("/dev"), rs)?;
        done.push(format!("deleted devfs ruleset {rs} ({n} rules)"));
    }
    if let Some(why) = ruleset_refused {
        done.push(format!("left the devfs ruleset alone: {why}"));
    }
    if exists {
        let none = |_: &str| Vec::new();
        for d in zfs::destroy_recursive(env.zfs, &ds, false, &none)? {
            done.push(format!("destroyed {d}"));
        }
    }
    Ok(done)
}

/// Every filesystem of `ds`'s pool with its `origin`, for clones (bounded walk).
fn clones_in_pool(env: &Env<'_>, ds: &DatasetName) -> anyhow::Result<Vec<(String, String)>> {
    const MAX: usize = 100_000;
    let pool = ds.as_str().split('/').next().unwrap_or(ds.as_str());
    let origin = PropName::new("origin")?;
    let mut todo = vec![pool.to_string()];
    let mut out = Vec::new();
    let mut seen = 0usize;
    while let Some(d) = todo.pop() {
        seen += 1;
        if seen > MAX {
            bail!("more than {MAX} datasets in {pool}: cannot check for clones");
        }
        let dn = DatasetName::new(&d)?;
        if let Some(o) = env.zfs.get_prop(&dn, &origin)? {
            if o.contains('@') {
                out.push((d.clone(), o));
            }
        }
        todo.extend(
            env.zfs
                .children(&dn)?
                .into_iter()
                .filter(|c| !c.contains('@')),
        );
    }
    Ok(out)
}

/// One jail as `status`/`list` show it (`docs/json.md`: one schema for both).
#[derive(Debug, Clone, Serialize)]
pub struct JailStatus {
    /// Name.
    pub name: String,
    /// Whether the jail runs.
    pub running: bool,
    /// Its jail id while it runs.
    pub jid: Option<i32>,
    /// Dataset.
    pub dataset: String,
    /// Where its root is mounted.
    pub root: String,
    /// Mounts below its root.
    pub mounts: usize,
    /// Its devfs ruleset.
    pub ruleset: Option<u16>,
    /// The steps `up` recorded as done, in order.
    pub journal: Vec<String>,
    /// From the spec kept on the dataset: the Linux suite (`noble`).
    pub suite: Option<String>,
    /// From the spec: the GPUs it sees, `"all"` or minors.
    pub gpus: Option<serde_json::Value>,
}

/// The cudajail jails on this host (datasets under `<pool>/cudajail` marked managed).
///
/// # Errors
/// Kernel or ZFS errors.
pub fn list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<JailStatus>> {
    let base = pool.child("cudajail")?;
    if !env.zfs.exists(base.as_str())? {
        return Ok(Vec::new());
    }
    let mounts = env.mount.mounts()?;
    let mut out = Vec::new();
    for c in env.zfs.children(&base)? {
        if c.contains('@') {
            continue;
        }
        let ds = DatasetName::new(&c)?;
        if env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() != Some("on") {
            continue;
        }
        let name = c.rsplit('/').next().unwrap_or(&c).to_string();
        let root = mountpoint(env, &ds)?;
        let jn = JailName::new(&name).ok();
        let jid = jn
            .as_ref()
            .and_then(|n| env.jail.get(n).ok().flatten())
            .map(|j| j.jid.0);
        let spec = match &jn {
            Some(n) => stored_spec(env, pool, n).ok().flatten(),
            None => None,
        };
        out.push(JailStatus {
            running: jid.is_some(),
            jid,
            dataset: c.clone(),
            mounts: mounts
                .iter()
                .filter(|m| m.on.starts_with(&format!("{root}/")))
                .count(),
            root,
            ruleset: env
                .zfs
                .get_prop(&ds, &prop("ruleset"))?
                .and_then(|r| r.parse().ok()),
            journal: env
                .zfs
                .get_prop(&ds, &prop("journal"))?
                .map(|j| {
                    super::journal::parse(&j)
                        .iter()
                        .map(|s| s.as_str().to_string())
                        .collect()
                })
                .unwrap_or_default(),
            suite: spec.as_ref().map(|v| v.suite.as_str().to_string()),
            gpus: spec
                .as_ref()
                .and_then(|v| serde_json::to_value(&v.spec.gpus).ok()),
            name,
        });
    }
    Ok(out)
}

/// A template as `template list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    /// The suite (`noble`).
    pub suite: String,
    /// Its snapshot, if built.
    pub snapshot: Option<String>,
    /// Jails cloned from it.
    pub clones: Vec<String>,
}

fn templates_root(pool: &DatasetName) -> anyhow::Result<DatasetName> {
    Ok(pool.child("cudajail")?.child("templates")?)
}

/// `cudajail template list`.
///
/// # Errors
/// ZFS errors.
pub fn template_list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<TemplateInfo>> {
    let root = templates_root(pool)?;
    if !env.zfs.exists(root.as_str())? {
        return Ok(Vec::new());
    }
    let jails_root = pool.child("cudajail")?;
    let jails: Vec<String> = env
        .zfs
        .children(&jails_root)?
        .into_iter()
        .filter(|c| !c.contains('@') && *c != root.as_str())
        .collect();
    let origin = PropName::new("origin")?;
    let mut out = Vec::new();
    for t in env.zfs.children(&root)? {
        if t.contains('@') {
            continue;
        }
        let snap = format!("{t}@base");
        let built = env.zfs.exists(&snap)?;
        let mut clones = Vec::new();
        for j in &jails {
            if env.zfs.get_prop(&DatasetName::new(j)?, &origin)?.as_deref() == Some(snap.as_str()) {
                clones.push(j.clone());
            }
        }
        out.push(TemplateInfo {
            suite: t.rsplit('/').next().unwrap_or(&t).to_string(),
            snapshot: built.then_some(snap),
            clones,
        });
    }
    Ok(out)
}

/// `cudajail template rm SUITE`: destroys a template that no jail was cloned from.
///
/// # Errors
/// Jails still cloned from it (they are named); ZFS errors.
pub fn template_rm(env: &Env<'_>, pool: &DatasetName, suite: Suite) -> anyhow::Result<Vec<String>> {
    let t = templates_root(pool)?.child(suite.as_str())?;
    let Some(info) = template_list(env, pool)?
        .into_iter()
        .find(|i| i.suite == suite.as_str())
    else {
        bail!("no template for {} on {pool}", suite.as_str());
    };
    if !info.clones.is_empty() {
        bail!(
            "jails are cloned from {}: {}; destroy them first (cudajail destroy)",
            t,
            info.clones.join(", ")
        );
    }
    let none = |_: &str| Vec::new();
    Ok(zfs::destroy_recursive(env.zfs, &t, false, &none)?)
}

/// What `cudajail run` needs on the host for a Linux CUDA program under the Linuxulator, without
/// a jail (the nv-sglrun route): the Linux ABI and file systems, NVIDIA's Linux libraries of the
/// kernel module's version under `compat.linux.emul_path`, tmpfs on its `/dev/shm`, and the uvm
/// shim built there. Installs what is missing and can be installed; returns what it did. The
/// shim is not installed for every program: `cudajail run` preloads it into the program it
/// starts ([`RUN_PRELOAD`]); [`run_install_shim`] is the explicit, reversible global choice.
///
/// # Errors
/// A failing readiness check that cannot be fixed here (named with its fix), or no compiler in
/// the Linux root to build the shim.
pub fn run_prepare(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let mut did = Vec::new();
    let loaded = kld::ensure_loaded(env.kld, HOST_MODULES)?;
    did.extend(loaded.loaded.iter().map(|(f, _)| format!("kldload {f}")));
    let emul = env
        .sysctl
        .get("compat.linux.emul_path")?
        .ok_or_else(|| anyhow!("compat.linux.emul_path unreadable after loading linux64"))?;
    if !env.view.exists(&emul) {
        bail!("{emul} does not exist: install a Linux userland there (pkg install linux_base-rl9) first");
    }
    // Same rule as in jails: the Linux libraries must be the kernel module's version.
    let ver = host_driver_version(env)?;
    let (_, libs) = host_nvidia_libs(env)?;
    if !libs.iter().any(|l| l.2 == ver) {
        let other: Vec<&str> = libs.iter().map(|l| l.2.as_str()).collect();
        bail!(
            "no NVIDIA Linux libraries of version {ver} under {emul} (found: {}); pkg install linux-nvidia-libs of the same version as nvidia-driver",
            if other.is_empty() { "none".to_string() } else { other.join(", ") }
        );
    }
    let shm = format!("{}/dev/shm", emul.trim_end_matches('/'));
    if !env
        .mount
        .mounts()?
        .iter()
        .any(|m| m.on == shm && m.fstype == "tmpfs")
    {
        let spec = linuxulator::linux_mount_set(0, None, &[])
            .into_iter()
            .find(|m| m.fstype == "tmpfs")
            .ok_or_else(|| anyhow!("no tmpfs in the mount set"))?;
        env.fs
            .mkdir_beneath(&emul, &spec.target, rootfs::Perm::DIR)?;
        env.mount.mount(&emul, &spec)?;
        did.push(format!("mounted tmpfs on {shm}"));
    }
    let so = format!("{}{}", emul.trim_end_matches('/'), crate::shim::SHIM_PATH);
    if !env.view.exists(&so) {
        bail!(
            "the uvm shim is not built under {emul}: build it with the Linux compiler there, e.g.\n  chroot {emul} /bin/sh -c '{}'\n(the source is `cudajail shim-source`)",
            crate::shim::BUILD_COMMAND
        );
    }
    Ok(did)
}

/// The version of the spec record kept in `cudajail:spec`.
const SPEC_RECORD_VERSION: u32 = 1;

/// The text kept in the dataset's `cudajail:spec` property: `{"version":1,"spec":{…}}`, the
/// spec in full (every field, defaults written out), so that `start`, `stop`, `status`,
/// `destroy`, `exec` and `sync-driver` can name the jail without the spec file.
#[must_use]
pub fn stored_spec_text(spec: &crate::spec::Spec) -> String {
    serde_json::json!({ "version": SPEC_RECORD_VERSION, "spec": spec }).to_string()
}

/// The spec a managed jail `name` on `pool` was made from; `Ok(None)` when there is no such
/// jail (no dataset, or one cudajail did not make).
///
/// # Errors
/// ZFS errors; a record of another version or that does not read back as a valid spec.
pub fn stored_spec(
    env: &Env<'_>,
    pool: &DatasetName,
    name: &JailName,
) -> anyhow::Result<Option<Valid>> {
    let ds = pool.child("cudajail")?.child(name.as_str())?;
    if !env.zfs.exists(ds.as_str())?
        || env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() != Some("on")
    {
        return Ok(None);
    }
    let Some(text) = env.zfs.get_prop(&ds, &prop("spec"))? else {
        bail!(
            "{ds} holds no cudajail:spec (made by an older cudajail): name its spec file instead"
        );
    };
    #[derive(serde::Deserialize)]
    struct Record {
        version: u32,
        spec: crate::spec::Spec,
    }
    let r: Record = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{ds}: cudajail:spec does not read back ({e})"))?;
    if r.version != SPEC_RECORD_VERSION {
        bail!(
            "{ds}: cudajail:spec is version {}, this cudajail reads {SPEC_RECORD_VERSION}",
            r.version
        );
    }
    r.spec.validate(Some(pool.as_str())).map(Some).map_err(|p| {
        let lines: Vec<String> = p.iter().map(|p| format!("  {p}")).collect();
        anyhow!(
            "{ds}: the stored spec is no longer valid:\n{}",
            lines.join("\n")
        )
    })
}

/// The environment `cudajail run` gives the program it starts: the uvm shim preloaded into it
/// alone (the Linuxulator finds the path under `compat.linux.emul_path` first), as nv-sglrun
/// does for its programs.
pub const RUN_PRELOAD: (&str, &str) = ("LD_PRELOAD", crate::shim::SHIM_PATH);

fn emul_root(env: &Env<'_>) -> anyhow::Result<String> {
    env.sysctl
        .get("compat.linux.emul_path")?
        .ok_or_else(|| anyhow!("compat.linux.emul_path unreadable: kldload linux64 first"))
}

/// Whether `<emul_path>/etc/ld.so.preload` loads the uvm shim into every Linux program.
///
/// # Errors
/// The sysctl or the file unreadable.
pub fn shim_installed_globally(env: &Env<'_>) -> anyhow::Result<bool> {
    let emul = emul_root(env)?;
    let text = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .any(|l| l.trim() == crate::shim::SHIM_PATH))
}

/// `cudajail run --install-shim`: adds the shim to `<emul_path>/etc/ld.so.preload`, so that
/// every Linux program on the host loads it (read by Linux's dynamic linker only; FreeBSD
/// programs never load it). Reversed by [`run_uninstall_shim`].
///
/// # Errors
/// The shim not built there; file errors.
pub fn run_install_shim(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let emul = emul_root(env)?;
    let so = format!("{}{}", emul.trim_end_matches('/'), crate::shim::SHIM_PATH);
    if !env.view.exists(&so) {
        bail!("the uvm shim is not built under {emul}: `cudajail run` says how to build it");
    }
    if shim_installed_globally(env)? {
        return Ok(Vec::new());
    }
    let mut text = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text.extend_from_slice(crate::shim::preload_line().as_bytes());
    env.fs.mkdir_beneath(&emul, "etc", rootfs::Perm::DIR)?;
    env.fs
        .write_beneath(&emul, "etc/ld.so.preload", &text, rootfs::Perm::FILE)?;
    Ok(vec![format!(
        "added the uvm shim to {}/etc/ld.so.preload: every Linux program on this host loads it \
         now (`cudajail run --uninstall-shim` takes it out)",
        emul.trim_end_matches('/')
    )])
}

/// `cudajail run --uninstall-shim`: takes the shim's line out of `<emul_path>/etc/ld.so.preload`
/// (the file goes when nothing else is left in it).
///
/// # Errors
/// File errors.
pub fn run_uninstall_shim(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let emul = emul_root(env)?;
    let Some(text) = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
    else {
        return Ok(Vec::new());
    };
    let s = String::from_utf8_lossy(&text);
    let kept: Vec<&str> = s
        .lines()
        .filter(|l| l.trim() != crate::shim::SHIM_PATH)
        .collect();
    if kept.len() == s.lines().count() {
        return Ok(Vec::new());
    }
    let path = format!("{}/etc/ld.so.preload", emul.trim_end_matches('/'));
    if kept.iter().all(|l| l.trim().is_empty()) {
        env.fs.remove_beneath(&emul, "etc/ld.so.preload")?;
        return Ok(vec![format!("removed {path} (it held only the uvm shim)")]);
    }
    let mut out = kept.join("\n");
    out.push('\n');
    env.fs.write_beneath(
        &emul,
        "etc/ld.so.preload",
        out.as_bytes(),
        rootfs::Perm::FILE,
    )?;
    Ok(vec![format!("took the uvm shim out of {path}")])
}
