//! Step `mounts`: devfs with the jail's ruleset, the Linux file systems and the spec's binds,
//! below the jail root, in order.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;
use anyhow::bail;

/// The devfs mount of the plan that `target` lies inside (`dev` for `dev/shm`), if any.
fn inside_devfs<'p>(p: &'p Plan, target: &str) -> Option<&'p str> {
    p.mounts
        .iter()
        .filter(|d| d.fstype == "devfs")
        .map(|d| d.target.as_str())
        .find(|d| target.starts_with(&format!("{d}/")))
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
        let mounted = env.mount.mounts()?;
        let mut did = Vec::new();
        let res = (|| -> anyhow::Result<()> {
            for m in &p.mounts {
                let on = format!("{}/{}", p.root, m.target);
                if mounted.iter().any(|x| x.on == on && x.fstype == m.fstype) {
                    continue;
                }
                if let Some(devfs) = inside_devfs(p, &m.target) {
                    // devfs cannot create directories (no VOP_MKDIR): a mount point inside it
                    // must be an entry devfs has (`shm` from the Linux ABI, `fd`) and that the
                    // jail's ruleset unhides.
                    if !env.view.exists(&on) {
                        bail!(
                            "{on} does not exist in the jail's devfs ({}/{devfs}), so {} cannot be mounted there: devfs cannot create directories. Check that the Linux ABI is loaded (`kldload linux64`: it creates /dev/shm) and that devfs ruleset {} unhides `{}`",
                            p.root,
                            m.fstype,
                            p.ruleset,
                            m.target.strip_prefix(&format!("{devfs}/")).unwrap_or(&m.target)
                        );
                    }
                } else {
                    // Mount points are created beneath the root, never through a symlink.
                    env.fs
                        .mkdir_beneath(&p.root, &m.target, crate::engine::Perm::DIR)?;
                }
                did.push(env.mount.mount(&p.root, m)?);
            }
            Ok(())
        })();
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
