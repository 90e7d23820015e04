//! Step `recipe-template`: with a recipe in the spec, its packages and steps applied once to a
//! template of their own (`<suite>-<recipe>-<digest>@base`, a clone of the suite's template),
//! so that every jail with that recipe is a clone of a ready tree and installs nothing.
//!
//! The recipe runs in a temporary jail on the new dataset: FreeBSD's stock jail devfs ruleset
//! (4, `devfsrules_jail`, which every FreeBSD loads at boot from /etc/defaults/devfs.rules: no
//! GPU, the basic nodes apt and pip need), fdescfs, linprocfs and linsysfs, the host's network
//! (`ip4`/`ip6` inherit: packages are downloaded), none of the spec's binds (user data stays out
//! of templates). Then the jail is removed, everything unmounted, and the dataset snapshotted.
//! A failure undoes all of it; a complete recipe template is a cache like the suite's template
//! (kept when a later step fails, removed by `cudajail template rm`). The recipe's check needs
//! the GPUs and runs later, in the user's jail.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::{mountpoint, prop, undo::Undo};
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::recipe::Recipe;
use crate::spec::Valid;
use anyhow::{anyhow, Context};
use jail::{JailName, JailSpec, JailSys, ParamValue};
use zfs::SnapshotName;

/// FreeBSD's stock devfs ruleset for jails (`devfsrules_jail` in /etc/defaults/devfs.rules).
pub const STOCK_JAIL_RULESET: devfs::RulesetId = devfs::RulesetId(4);

pub(super) struct RecipeTemplate;

/// The temporary jail's name for a recipe template dataset (`cudajail-recipe-<digest>`).
fn temp_jail_name(r: &Recipe) -> anyhow::Result<JailName> {
    Ok(JailName::new(&format!("cudajail-recipe-{}", r.digest()))?)
}

/// The temporary jail: the Linux identity of the spec, the host's network, ruleset 4.
fn temp_jail(v: &Valid, r: &Recipe, root: &str) -> anyhow::Result<JailSpec> {
    Ok(JailSpec::new(temp_jail_name(r)?, root)
        .param("host.hostname", ParamValue::Str("cudajail-recipe".into()))
        .param("persist", ParamValue::Bool(true))
        .param("enforce_statfs", ParamValue::Int(1))
        .param(
            "devfs_ruleset",
            ParamValue::Int(i64::from(STOCK_JAIL_RULESET.0)),
        )
        .param("ip4", ParamValue::Sys(JailSys::Inherit))
        .param("ip6", ParamValue::Sys(JailSys::Inherit))
        .param("sysvmsg", ParamValue::Sys(JailSys::New))
        .param("sysvsem", ParamValue::Sys(JailSys::New))
        .param("sysvshm", ParamValue::Sys(JailSys::New))
        .param("linux", ParamValue::Sys(JailSys::New))
        .param("linux.osname", ParamValue::Str("Linux".into()))
        .param("linux.osrelease", ParamValue::Str(v.osrelease.to_string())))
}

/// The temporary jail's mounts: the Linux set without `/dev/shm` (ruleset 4 does not unhide
/// it) and without binds.
fn temp_mounts() -> Vec<linuxulator::MountSpec> {
    linuxulator::linux_mount_set(STOCK_JAIL_RULESET.0, None, &[])
        .into_iter()
        .filter(|m| m.target != "dev/shm")
        .collect()
}

fn recipe_of(v: &Valid) -> anyhow::Result<Option<Recipe>> {
    v.spec.recipe.as_deref().map(Recipe::builtin).transpose()
}

impl Step for RecipeTemplate {
    fn id(&self) -> StepId {
        StepId::RecipeTemplate
    }

    fn describe(&self, v: &Valid, p: &Plan) -> StepPlan {
        let (Some(snap), Ok(Some(r))) = (&p.recipe_template, recipe_of(v)) else {
            return StepPlan::new(
                self.id(),
                "no recipe: the jail is cloned from the suite's template",
                Vec::new(),
                IMPLEMENTED,
            );
        };
        let ds = snap.split('@').next().unwrap_or(snap);
        let mut actions = vec![
            format!("if {snap} exists: nothing to do"),
            format!("zfs clone {} {ds} (cudajail:recipe={})", p.template, r.name),
            format!(
                "temporary jail {} on it (devfs ruleset {}, linprocfs, linsysfs, fdescfs, the host's network)",
                temp_jail_name(&r).map(|n| n.to_string()).unwrap_or_default(),
                STOCK_JAIL_RULESET
            ),
        ];
        actions.extend(r.describe().into_iter().filter(|a| !a.contains("check")));
        actions.push(format!(
            "remove the temporary jail, unmount; zfs snapshot {snap}"
        ));
        StepPlan::new(
            self.id(),
            format!("recipe {} applied once to its template {snap}", r.name),
            actions,
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        let Some(snap) = &cx.p.recipe_template else {
            return Ok(Check::NotNeeded("no recipe"));
        };
        let snap = SnapshotName::new(snap)?;
        Ok(Check::done_if(
            cx.env.zfs.exists(&zfs::ZfsName::from(&snap))?,
        ))
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let env = cx.env;
        let snap = SnapshotName::new(
            cx.p.recipe_template
                .as_deref()
                .ok_or_else(|| anyhow!("no recipe template in the plan"))?,
        )?;
        let r = recipe_of(cx.v)?.ok_or_else(|| anyhow!("no recipe in the spec"))?;
        let base = SnapshotName::new(&cx.p.template)?;
        let ds = snap.dataset().clone();
        // What to take back on failure, in the order made (undone in reverse).
        let mut undo: Vec<Undo> = Vec::new();
        let res = (|| -> anyhow::Result<()> {
            env.zfs
                .clone_snapshot(&ds, &base, &[(prop("recipe"), r.name.clone())])?;
            undo.push(Undo::Destroy(vec![ds.to_string()]));
            let root = mountpoint(env, &ds)?;
            let mut did = Vec::new();
            let mounted =
                super::mounts::mount_all(env, &root, &temp_mounts(), STOCK_JAIL_RULESET, &mut did);
            undo.push(Undo::Unmount(did.clone()));
            mounted?;
            let spec = temp_jail(cx.v, &r, &root)?;
            let jid = env.jail.create(&spec)?;
            undo.push(Undo::RemoveJail(jid, spec.name.clone()));
            crate::engine::recipe::apply_in(env, jid, &root, &r, false)
                .with_context(|| format!("applying recipe {} to its template {snap}", r.name))?;
            // Done: take the jail and the mounts away ourselves, then snapshot. Each undo entry
            // goes only once its work is done (a failure leaves it to the undo).
            env.jail.remove(jid)?;
            undo.pop();
            crate::engine::wait_gone(env, jid, &spec.name)?;
            undo.pop();
            let mut left = did.clone();
            while let Some(on) = left.pop() {
                if let Err(e) = env.mount.unmount(&on, linuxulator::MountFlags::empty()) {
                    left.push(on);
                    undo.push(Undo::Unmount(left));
                    return Err(e.into());
                }
            }
            env.zfs.snapshot(std::slice::from_ref(&snap))?;
            Ok(())
        })();
        match res {
            Ok(()) => {
                cx.kept.push(snap.to_string());
                Ok(Outcome::Applied)
            }
            Err(e) => {
                cx.undo.extend(undo);
                Err(e)
            }
        }
    }
}
