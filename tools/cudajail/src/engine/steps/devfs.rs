//! Step `devfs`: the jail's devfs ruleset (everything hidden, then the basics a Linux
//! userland needs, the NVIDIA nodes of the selected GPUs, and `shm`).

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;
use anyhow::bail;
use std::path::Path;

pub(super) struct Devfs;

impl Step for Devfs {
    fn id(&self) -> StepId {
        StepId::Devfs
    }

    fn describe(&self, _v: &Valid, p: &Plan) -> StepPlan {
        StepPlan::new(
            self.id(),
            format!("devfs ruleset {} ({})", p.rules.id, p.rules.name),
            p.rules.rules.iter().map(ToString::to_string).collect(),
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        let have = cx.env.devfs.rules(Path::new("/dev"), cx.p.rules.id)?;
        if have == cx.p.rules.rules {
            return Ok(Check::Done);
        }
        // Ours but not what we want now (left by an undo that failed, or another selection of
        // GPUs): rewritten by apply.
        if !have.is_empty() && !crate::plan::owned_by(&have, &cx.p.name) {
            bail!(
                "devfs ruleset {} already has other rules; set `ruleset` in the spec",
                cx.p.rules.id
            );
        }
        Ok(Check::Todo)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let dev = Path::new("/dev");
        cx.undo.push(Undo::Ruleset(cx.p.rules.id));
        // A leftover of ours goes first (check made sure it is ours).
        devfs::delete_ruleset(cx.env.devfs, dev, cx.p.rules.id)?;
        // The owner mark first: a ruleset left half-written by a failure (and a failed undo)
        // still says whose it is.
        let (mark, rest): (Vec<&devfs::Rule>, Vec<&devfs::Rule>) =
            cx.p.rules
                .rules
                .iter()
                .partition(|r| r.number == Some(crate::plan::OWNER_RULE));
        for r in mark.into_iter().chain(rest) {
            cx.env.devfs.add_rule(dev, cx.p.rules.id, r)?;
        }
        Ok(Outcome::Applied)
    }
}
