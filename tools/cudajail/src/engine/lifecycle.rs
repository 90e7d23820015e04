//! The commands around `up`: `stop`, `destroy`, `list`, the templates, and `run`'s host
//! preparation.

use super::{mountpoint, prop, remove_jail, unmount_below, Env};
use crate::plan::Plan;
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
    let exists = env.zfs.exists(&zfs::ZfsName::from(&ds))?;
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
    /// From the spec: the Linux kernel release the jail reports (`linux.osrelease`).
    pub linux_release: Option<String>,
    /// The NVIDIA userspace version in the jail (its `libcuda.so.<version>`), when there is one.
    pub driver: Option<String>,
}

/// The cudajail jails on this host (datasets under `<pool>/cudajail` marked managed).
///
/// # Errors
/// Kernel or ZFS errors.
pub fn list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<JailStatus>> {
    let base = pool.child("cudajail")?;
    if !env.zfs.exists(&zfs::ZfsName::from(&base))? {
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
        let driver = env
            .view
            .read_dir(&format!("{root}/{}", super::NV_LIB_DEST))
            .iter()
            .filter(|f| f.starts_with("libcuda.so."))
            .find_map(|f| super::nvidia_lib_version(f).map(str::to_string));
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
            linux_release: spec.as_ref().map(|v| v.osrelease.to_string()),
            driver,
            name,
        });
    }
    Ok(out)
}

/// A template as `template list` shows it: a suite's template, or a recipe's (a clone of its
/// suite's template with the recipe applied, see the `recipe-template` step).
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    /// The suite (`noble`).
    pub suite: String,
    /// The recipe applied to it (`pytorch`), for a recipe's template; `null` for the suite's.
    pub recipe: Option<String>,
    /// Its snapshot, if built.
    pub snapshot: Option<String>,
    /// Jails cloned from it.
    pub clones: Vec<String>,
}

fn templates_root(pool: &DatasetName) -> anyhow::Result<DatasetName> {
    Ok(pool.child("cudajail")?.child("templates")?)
}

/// `cudajail template list`: the suites' templates, then the recipes' (each after its suite's).
///
/// # Errors
/// ZFS errors.
pub fn template_list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<TemplateInfo>> {
    let root = templates_root(pool)?;
    if !env.zfs.exists(&zfs::ZfsName::from(&root))? {
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
        let built = env.zfs.exists(&zfs::ZfsName::parse(&snap)?)?;
        let mut clones = Vec::new();
        for j in &jails {
            if env.zfs.get_prop(&DatasetName::new(j)?, &origin)?.as_deref() == Some(snap.as_str()) {
                clones.push(j.clone());
            }
        }
        let name = t.rsplit('/').next().unwrap_or(&t);
        let recipe = env.zfs.get_prop(&DatasetName::new(&t)?, &prop("recipe"))?;
        out.push(TemplateInfo {
            // A recipe's template is `<suite>-<recipe>-<digest>`; suites have no `-`.
            suite: name.split('-').next().unwrap_or(name).to_string(),
            recipe,
            snapshot: built.then_some(snap),
            clones,
        });
    }
    out.sort_by(|a, b| (&a.suite, &a.recipe).cmp(&(&b.suite, &b.recipe)));
    Ok(out)
}

/// `cudajail template rm SUITE`: destroys the suite's template and its recipes' templates,
/// when no jail was cloned from any of them.
///
/// # Errors
/// Jails still cloned from one of them (they are named); ZFS errors.
pub fn template_rm(env: &Env<'_>, pool: &DatasetName, suite: Suite) -> anyhow::Result<Vec<String>> {
    let root = templates_root(pool)?;
    let all: Vec<TemplateInfo> = template_list(env, pool)?
        .into_iter()
        .filter(|i| i.suite == suite.as_str())
        .collect();
    if all.is_empty() {
        bail!("no template for {} on {pool}", suite.as_str());
    }
    let used: Vec<&String> = all.iter().flat_map(|i| &i.clones).collect();
    if !used.is_empty() {
        bail!(
            "jails are cloned from the {} templates: {}; destroy them first (cudajail destroy)",
            suite.as_str(),
            used.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let none = |_: &str| Vec::new();
    let mut gone = Vec::new();
    // The recipes' templates first: they are clones of the suite's snapshot.
    for t in env.zfs.children(&root)? {
        let name = t.rsplit('/').next().unwrap_or(&t);
        if !t.contains('@') && name.starts_with(&format!("{}-", suite.as_str())) {
            gone.extend(zfs::destroy_recursive(
                env.zfs,
                &DatasetName::new(&t)?,
                false,
                &none,
            )?);
        }
    }
    let base = root.child(suite.as_str())?;
    if env.zfs.exists(&zfs::ZfsName::from(&base))? {
        gone.extend(zfs::destroy_recursive(env.zfs, &base, false, &none)?);
    }
    Ok(gone)
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
    if !env.zfs.exists(&zfs::ZfsName::from(&ds))?
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
