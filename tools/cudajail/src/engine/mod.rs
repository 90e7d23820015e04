//! The plan/apply engine behind `up`, `destroy`, `status` and `list`.
//!
//! Every step ([`steps::Step`], one module each under `steps/`) has a check (already done?
//! then skip: re-running `up` is idempotent), an apply, and an undo of exactly what its apply
//! did (the `undo` module). `up` runs [`steps::STEPS`] in order; on the first error it undoes what it
//! applied, in reverse, and reports the error together with any undo failure. The jail's
//! dataset carries the state as ZFS user properties (`cudajail:managed`, `cudajail:ruleset`,
//! and the [`journal`]), so `destroy` knows what is ours.

use crate::plan::Plan;
use crate::spec::Valid;
use anyhow::{anyhow, bail};
use devfs::DevfsOps;
use jail::{JailOps, Jid};
use kld::KldOps;
use linuxulator::readiness::FsView;
use linuxulator::{MountOps, SysctlOps};
use nvgpu::NvTransport;
use serde::Serialize;
use std::path::Path;
use zfs::{DatasetName, PropName, ZfsOps};

pub mod autostart;
pub(crate) mod build;
pub mod journal;
mod lifecycle;
mod nvlib;
mod preflight;
pub(crate) mod recipe;
mod run;
pub mod steps;
pub(crate) mod undo;

pub use lifecycle::{
    destroy, list, stop, stored_spec, stored_spec_text, template_list, template_rm, JailStatus,
    TemplateInfo,
};
pub use nvlib::{host_nvidia_libs_of, nvidia_lib_version, sync_driver, NV_LIB_DEST, RUN_FLAGS};
pub use preflight::preflight as preflight_problems;
pub use run::{
    run_install_shim, run_prepare, run_uninstall_shim, shim_installed_globally, RUN_PRELOAD,
};
pub use steps::STEPS;
pub use steps::{apply_rootfs_fixes, rootfs_fixes, StepId, TEMPLATE_PACKAGES};
use steps::{Check, Ctx, Outcome, Step};

/// Files below jail roots and templates: the descriptor-based layer of the `rootfs` crate
/// (never through a symlink, explicit modes and owners, bounded reads).
pub use rootfs::{Bootstrap, Perm, RootFs, READ_LIMIT};

/// Programs run inside a jail: the jail-rs seam (`jail_attach` + exec).
pub use jail::JailExec;

/// Everything the engine touches.
pub struct Env<'a> {
    /// Jails.
    pub jail: &'a dyn JailOps,
    /// devfs rules.
    pub devfs: &'a dyn DevfsOps,
    /// Kernel modules.
    pub kld: &'a dyn KldOps,
    /// sysctls.
    pub sysctl: &'a dyn SysctlOps,
    /// Mounts.
    pub mount: &'a dyn MountOps,
    /// ZFS.
    pub zfs: &'a dyn ZfsOps,
    /// The NVIDIA driver.
    pub nv: &'a dyn NvTransport,
    /// Files, read-only.
    pub view: &'a dyn FsView,
    /// Files, writing.
    pub fs: &'a dyn RootFs,
    /// Root file system builder.
    pub boot: &'a dyn Bootstrap,
    /// Commands in jails.
    pub exec: &'a dyn JailExec,
}

/// Every seam served by one simulated host (`--sim`, and the tests).
#[must_use]
pub fn sim_env(h: &hostsim::SimHost) -> Env<'_> {
    Env {
        jail: h,
        devfs: h,
        kld: h,
        sysctl: h,
        mount: h,
        zfs: h,
        nv: h,
        view: h,
        fs: h,
        boot: h,
        exec: h,
    }
}

/// The GPUs of `all` (what the driver reports) that the spec's selection names: every one for
/// `all`, else those whose minor is listed. The one place a selection is interpreted against the
/// driver (the devfs ruleset is the other side of the same selection, `devfs::Ruleset::gpu`).
#[must_use]
pub fn selected_gpus<'a>(
    sel: &devfs::types::GpuSelection,
    all: &'a [nvgpu::GpuInfo],
) -> Vec<&'a nvgpu::GpuInfo> {
    all.iter()
        .filter(|g| match sel {
            devfs::types::GpuSelection::All => true,
            devfs::types::GpuSelection::Only(l) => l.iter().any(|n| u32::from(*n) == g.minor),
        })
        .collect()
}

/// One step's outcome in a report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: &'static str,
    /// `applied`, `skipped (already done)`, or what the step found (`verify`).
    pub outcome: String,
}

pub(crate) fn prop(k: &str) -> PropName {
    PropName::cudajail(k).expect("static property names are valid")
}

/// The ids of the steps of `up`, in order (the journal's words).
#[must_use]
pub fn step_ids() -> Vec<StepId> {
    STEPS.iter().map(|s| s.id()).collect()
}

pub(crate) fn mountpoint(env: &Env<'_>, ds: &DatasetName) -> anyhow::Result<String> {
    env.zfs
        .get_prop(ds, &PropName::new("mountpoint")?)?
        .ok_or_else(|| anyhow!("{ds} has no mountpoint"))
}

/// or the 7-field form) → the Linux `passwd` line and the user's primary `group` line, with
/// `/bin/bash` as shell and no password (`x`). The group comes from the host's `/etc/group`
/// (by gid), else is named after the user.
pub fn linux_user_lines(freebsd: &str, host_group: &str) -> Option<(String, String)> {
    let f: Vec<&str> = freebsd.split(':').collect();
    let (name, uid, gid, gecos, home) = match f.len() {
        10 => (f[0], f[2], f[3], f[7], f[8]),
        7 => (f[0], f[2], f[3], f[4], f[5]),
        _ => return None,
    };
    if name.is_empty() || uid.parse::<u32>().is_err() || gid.parse::<u32>().is_err() {
        return None;
    }
    let gname = host_group
        .lines()
        .find(|l| l.split(':').nth(2) == Some(gid))
        .and_then(|l| l.split(':').next())
        .unwrap_or(name);
    Some((
        format!("{name}:x:{uid}:{gid}:{gecos}:{home}:/bin/bash"),
        format!("{gname}:x:{gid}:"),
    ))
}

/// The jid of the plan's jail, which must be running.
pub(crate) fn running_jid(env: &Env<'_>, p: &Plan) -> anyhow::Result<jail::Jid> {
    Ok(env
        .jail
        .get(&p.jail.name)?
        .ok_or_else(|| anyhow!("jail {} is not running", p.name))?
        .jid)
}

/// How long [`remove_jail`] waits for a removed jail to finish dying (jail(8)'s default
/// `stop.timeout` is 10 s).
pub const DYING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Removes a jail and waits until it is gone, as jail(8) does before it unmounts: after
/// `jail_remove(2)` the prison stays *dying* while its processes exit and its sockets close
/// (`prison_deref` in `sys/kern/kern_jail.c`), and until then the mounts below its root are
/// busy. Polls `jail_get(JAIL_DYING)` with a growing pause, [`DYING_WAIT`] at most.
///
/// # Errors
/// `jail_remove` failed, or the jail is still dying after [`DYING_WAIT`] (the error says why
/// and what to do).
pub fn remove_jail(env: &Env<'_>, jid: Jid, name: &jail::JailName) -> anyhow::Result<()> {
    env.jail.remove(jid)?;
    wait_gone(env, jid, name)
}

/// Waits until the removed jail `jid` has died (see [`remove_jail`]).
///
/// # Errors
/// The jail still dying after the wait, or a kernel error while looking.
pub(crate) fn wait_gone(env: &Env<'_>, jid: Jid, name: &jail::JailName) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(10);
    loop {
        match env.jail.get_dying(name)? {
            Some(j) if j.jid == jid => {}
            // Gone, or the name now belongs to another jail: ours is gone.
            _ => return Ok(()),
        }
        if start.elapsed() >= DYING_WAIT {
            bail!(
                "jail {name} (jid {jid}) is still dying {} s after jail_remove: processes that do not exit or sockets in TIME_WAIT hold it (see `jls -d`, `sockstat -j {jid}`); run the command again in a minute",
                DYING_WAIT.as_secs()
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}

/// Unmounts everything below `root`, deepest first, retrying a busy unmount a few times with
/// a growing pause (a jail that just died may still be releasing vnodes).
///
/// # Errors
/// A mount that stays busy (named, with what was unmounted before), or another error.
pub fn unmount_below(env: &Env<'_>, root: &str) -> anyhow::Result<Vec<String>> {
    const TRIES: u32 = 5;
    let mut pause = std::time::Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match linuxulator::compat::unmount_all(env.mount, root, false) {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == linuxulator::ErrorKind::Busy && attempt < TRIES => {
                std::thread::sleep(pause);
                pause *= 2;
                attempt += 1;
            }
            Err(e) => {
                return Err(anyhow!(
                    "{e}\nhint: something still uses a file system below {root} (`fstat -f {root}` shows what)"
                ))
            }
        }
    }
}

/// Checks one step and applies it when it is not done; its report line.
fn run_step(cx: &mut Ctx<'_, '_>, s: &dyn Step) -> anyhow::Result<StepReport> {
    let outcome = match s.check(cx)? {
        Check::Done => "skipped (already done)".to_string(),
        Check::NotNeeded(why) => format!("skipped ({why})"),
        Check::Todo => match s.apply(cx)? {
            Outcome::Applied => "applied".to_string(),
            Outcome::Unchanged => "skipped (already done)".to_string(),
            Outcome::Said(t) => t,
        },
    };
    Ok(StepReport {
        id: s.id().as_str(),
        outcome,
    })
}

fn undo_text(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("\nundo also failed: {}", errors.join("; "))
    }
}

fn preflight(env: &Env<'_>, v: &Valid) -> anyhow::Result<()> {
    let problems = preflight::preflight(env, v);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        bail!(
            "{} problem(s) found before any change; nothing was changed:\n{}",
            problems.len(),
            lines.join("\n")
        );
    }
    Ok(())
}

/// Why `up` failed at a step: the step's id (`docs/json.md`: `failed_step`) and the whole
/// message (what failed, what was undone, what was kept). Reach it with
/// `anyhow::Error::downcast_ref`.
#[derive(Debug, Clone)]
pub struct StepFailed {
    /// The step's id (`jail`, `nvidia`…).
    pub step: &'static str,
    /// The message, as `Display` prints it.
    pub message: String,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StepFailed {}

/// `cudajail up`: applies every step not done yet; on failure undoes what this run applied.
///
/// # Errors
/// The first failing step, with any undo failure appended.
pub fn up(env: &Env<'_>, v: &Valid, p: &Plan) -> anyhow::Result<Vec<StepReport>> {
    up_with_progress(env, v, p, &mut |_| {})
}

/// [`up`], calling `progress` with each step's id before it runs (for a progress bar).
///
/// # Errors
/// As [`up`].
pub fn up_with_progress(
    env: &Env<'_>,
    v: &Valid,
    p: &Plan,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<StepReport>> {
    // Preflight: what can be checked before anything changes.
    preflight(env, v).map_err(|e| StepFailed {
        step: "preflight",
        message: format!("{e:#}"),
    })?;
    if p.ruleset_provisional {
        bail!("the devfs ruleset number was not checked against this host; plan with the host's rulesets");
    }
    let mut cx = Ctx::new(env, v, p);
    let ds = cx.ds()?;
    // A re-run rewrites the journal as it goes; a failed re-run puts the old one back.
    let old_journal = journal::read(env, &ds)?;
    let mut report = Vec::new();
    let mut done = Vec::new();
    // Undoes this run and puts the old journal back; the failures of both.
    let undo_run = |cx: &mut Ctx<'_, '_>| {
        let mut errors = undo::undo_all(env, &mut cx.undo);
        if let Some(old) = &old_journal {
            errors.extend(journal::restore(env, &ds, old));
        }
        errors
    };
    let fail = |cx: &mut Ctx<'_, '_>, e: String| {
        let errors = undo_run(cx);
        let kept: String = cx
            .kept
            .iter()
            .map(|k| {
                format!(
                    "\nkept the template {k} this run built: the next `up` clones it instead of \
                     bootstrapping again (`cudajail template rm` removes it)"
                )
            })
            .collect();
        if errors.is_empty() {
            let what = if kept.is_empty() {
                "everything"
            } else {
                "everything else"
            };
            anyhow!("{e}\n{what} this run changed was undone{kept}")
        } else {
            anyhow!("{e}{}{kept}", undo_text(&errors))
        }
    };
    for s in STEPS {
        let id = s.id();
        progress(id.as_str());
        let r = run_step(&mut cx, s).and_then(|r| {
            report.push(r);
            done.push(id);
            if matches!(id, StepId::Dataset | StepId::Jail) {
                journal::write(env, &ds, &done)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            let msg = fail(&mut cx, format!("step {id} failed: {e:#}"));
            return Err(StepFailed {
                step: id.as_str(),
                message: format!("{msg:#}"),
            }
            .into());
        }
    }
    if let Err(e) = journal::write(env, &ds, &done) {
        return Err(fail(&mut cx, format!("recording the journal failed: {e}")));
    }
    // The recipe, once the jail is up: not undone on failure (the jail works; a re-run resumes).
    if let Some(name) = &v.spec.recipe {
        progress("recipe");
        let r = crate::recipe::Recipe::builtin(name)
            .and_then(|r| recipe::apply_recipe(env, p, &r))
            .map_err(|e| StepFailed {
                step: "recipe",
                message: format!(
                    "{e:#}\nthe jail {} is up; fix the cause and run `cudajail up` again: done steps are skipped",
                    p.name
                ),
            })?;
        report.push(StepReport {
            id: "recipe",
            outcome: r,
        });
    }
    Ok(report)
}

/// The plan for this host: the devfs ruleset is the one the jail already has (from its
/// dataset's `cudajail:ruleset`), else the first number ≥ 100 that no ruleset uses.
///
/// # Errors
/// Kernel or ZFS errors while looking.
pub fn plan(env: &Env<'_>, v: &Valid) -> anyhow::Result<Plan> {
    let mut used = env.devfs.rulesets(Path::new("/dev"))?;
    let ds = v.pool.child("cudajail")?.child(v.name.as_str())?;
    let mut spec = v.clone();
    let exists = env.zfs.exists(&zfs::ZfsName::from(&ds))?;
    if spec.spec.ruleset.is_none() && !exists {
        // A ruleset marked as this jail's, left by an undo that could not delete it.
        for r in used.clone() {
            if r.0 >= crate::plan::FIRST_RULESET
                && crate::plan::owned_by(&env.devfs.rules(Path::new("/dev"), r)?, v.name.as_str())
            {
                spec.spec.ruleset = Some(r.0);
                used.retain(|u| *u != r);
                break;
            }
        }
    }
    if spec.spec.ruleset.is_none() && exists {
        if let Some(r) = env
            .zfs
            .get_prop(&ds, &prop("ruleset"))?
            .and_then(|r| r.parse::<u16>().ok())
        {
            spec.spec.ruleset = Some(r);
            used.retain(|u| u.0 != r);
        }
    }
    let root = jail_root(env, &ds)?;
    crate::plan::build_at(&spec, &used, true, Some(root))
}

/// Where the jail's dataset is (or will be) mounted: its `mountpoint` when it exists, else the
/// nearest existing ancestor's with the rest of the name appended (ZFS inheritance), never a
/// guess from the dataset's name.
///
/// # Errors
/// ZFS errors; a `none`/`legacy` or relative mountpoint (named, with the fix).
fn jail_root(env: &Env<'_>, ds: &DatasetName) -> anyhow::Result<String> {
    let name = ds.as_str();
    let parts: Vec<&str> = name.split('/').collect();
    for i in (1..=parts.len()).rev() {
        let anc = DatasetName::new(&parts[..i].join("/"))?;
        if !env.zfs.exists(&zfs::ZfsName::from(&anc))? {
            continue;
        }
        let mp = mountpoint(env, &anc)?;
        if !mp.starts_with('/') || mp.split('/').any(|c| c == "..") {
            bail!(
                "{anc} has mountpoint={mp}, so {name} would have no usable mount point: set one (zfs set mountpoint=/{} {anc})",
                anc.as_str()
            );
        }
        let rest = parts[i..].join("/");
        let base = mp.trim_end_matches('/');
        return Ok(if rest.is_empty() {
            if base.is_empty() {
                "/".into()
            } else {
                base.to_string()
            }
        } else {
            format!("{base}/{rest}")
        });
    }
    Ok(format!("/{name}"))
}

/// `cudajail template build`: the template step alone (bootstrap, fixes, snapshot), undone on
/// failure.
///
/// # Errors
/// As the step.
pub fn template_build(env: &Env<'_>, v: &Valid, p: &Plan) -> anyhow::Result<StepReport> {
    // Only the pool matters to a template (binds, users and GPUs are the jail's).
    if let Some(p) = preflight::preflight(env, v)
        .into_iter()
        .find(|p| p.field == "pool")
    {
        bail!("{p}");
    }
    let mut cx = Ctx::new(env, v, p);
    let mut r = run_step(&mut cx, steps::step(StepId::Template));
    // With a recipe, its template too (the report is then the recipe template's).
    if r.is_ok() && p.recipe_template.is_some() {
        r = run_step(&mut cx, steps::step(StepId::RecipeTemplate));
    }
    r.map_err(|e| {
        let errors = undo::undo_all(env, &mut cx.undo);
        anyhow!("{e:#}{}", undo_text(&errors))
    })
}
