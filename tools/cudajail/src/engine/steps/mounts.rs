//! Step `mounts`: devfs with the jail's ruleset, the Linux file systems and the spec's binds,
//! below the jail root, in order.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;

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
                // Mount points are created beneath the root, never through a symlink.
                env.fs.mkdir_beneath(&p.root, &m.target)?;
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
