//! Step `jail`: the persistent jail with its Linux identity and devfs ruleset.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{render_pair, Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;

pub(super) struct Jail;

impl Step for Jail {
    fn id(&self) -> StepId {
        StepId::Jail
    }

    fn describe(&self, v: &Valid, p: &Plan) -> StepPlan {
        let actions = match jail::codec::encode_create(&p.jail, jail::JailFlags::CREATE) {
            Ok(pairs) => pairs.iter().map(render_pair).collect(),
            Err(e) => vec![format!("the parameters do not encode: {e}")],
        };
        StepPlan::new(
            self.id(),
            format!("jail {} with Linux identity Linux {}", p.name, v.osrelease),
            actions,
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        Ok(Check::done_if(cx.env.jail.get(&cx.p.jail.name)?.is_some()))
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let jid = cx.env.jail.create(&cx.p.jail)?;
        cx.undo.push(Undo::RemoveJail(jid, cx.p.jail.name.clone()));
        Ok(Outcome::Applied)
    }
}
