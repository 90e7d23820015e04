//! Step `mounts`: devfs with the jail's ruleset, the Linux file systems and the spec's binds,
//! below the jail root, in order.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;
use anyhow::bail;

/// The devfs mount of `mounts` that `target` lies inside (`dev` for `dev/shm`), if any.
fn inside_devfs<'m>(mounts: &'m [linuxulator::MountSpec], target: &str) -> Option<&'m str> {
    mounts
        .iter()
        .filter(|d| d.fstype == "devfs")
        .map(|d| d.target.as_str())
        .find(|d| target.starts_with(&format!("{d}/")))
}

/// Mounts `mounts` below `root` in order, skipping those already in the mount table; every
/// mount made is pushed onto `did` (also when a later one fails). `ruleset` is the devfs
/// ruleset the devfs mount uses, named in the error for a mount point devfs lacks.
pub(crate) fn mount_all(
    env: &crate::engine::Env<'_>,
    root: &str,
    mounts: &[linuxulator::MountSpec],
    ruleset: devfs::RulesetId,
    did: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mounted = env.mount.mounts()?;
    for m in mounts {
        let on = format!("{root}/{}", m.target);
        if mounted.iter().any(|x| x.on == on && x.fstype == m.fstype) {
            continue;
        }
        if let Some(devfs) = inside_devfs(mounts, &m.target) {
            // devfs cannot create directories (no VOP_MKDIR): a mount point inside it must be
            // an entry devfs has (`shm` from the Linux ABI, `fd`) and that the ruleset unhides.
            if !env.view.exists(&on) {
                bail!(
                    "{on} does not exist in the jail's devfs ({root}/{devfs}), so {} cannot be mounted there: devfs cannot create directories. Check that the Linux ABI is loaded (`kldload linux64`: it creates /dev/shm) and that devfs ruleset {ruleset} unhides `{}`",
                    m.fstype,
                    m.target.strip_prefix(&format!("{devfs}/")).unwrap_or(&m.target)
                );
            }
        } else {
            // Mount points are created beneath the root, never through a symlink.
            env.fs
                .mkdir_beneath(root, &m.target, crate::engine::Perm::DIR)?;
        }
        did.push(env.mount.mount(root, m)?);
    }
    Ok(())
}

pub(super) struct Mounts;

impl Step for Mounts {
    fn id(&self) -> StepId {
        StepId::Mounts
    }

    fn describe(&self, _v: &Valid, p: &Plan) -> StepPlan {
        StepPlan::new(
            self.id(),
            format!("Linux file systems under {}", p.root),
            p.mounts.iter().map(ToString::to_string).collect(),
            IMPLEMENTED,
        )
    }

    /// Each mount is checked against the mount table as it is applied (a partly mounted root
    /// gets only what is missing), so the step always runs.
    fn check(&self, _cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        Ok(Check::Todo)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let (env, p) = (cx.env, cx.p);
        let mut did = Vec::new();
        let res = mount_all(env, &p.root, &p.mounts, p.ruleset, &mut did);
        let unchanged = did.is_empty();
        cx.undo.push(Undo::Unmount(did));
        res?;
        Ok(if unchanged {
            Outcome::Unchanged
        } else {
            Outcome::Applied
        })
    }
}
