//! The steps of `up`, one module each, behind one [`Step`] trait.
//!
//! [`STEPS`] is the single list: `plan` describes it ([`Step::describe`]), `up` runs it
//! ([`Step::check`], then [`Step::apply`]) and records its ids in the journal, so what `plan`
//! shows and what `up` does cannot drift apart.

use super::undo::Undo;
use super::Env;
use crate::plan::{Plan, StepPlan};
use crate::spec::Valid;
use serde::Serialize;

mod dataset;
mod devfs;
pub(crate) mod host;
mod jail;
pub(crate) mod mounts;
mod nvidia;
mod recipe_template;
mod template;
mod uvm;
mod verify;

pub use template::{apply_rootfs_fixes, rootfs_fixes, TEMPLATE_PACKAGES};

/// The id of a step, as the journal (`cudajail:journal`) and the plan name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    /// Kernel modules and (with `persist_config`) rc.conf.
    Host,
    /// The template dataset: bootstrap, fixes, snapshot.
    Template,
    /// With a recipe: its packages and steps applied once to a template of its own.
    RecipeTemplate,
    /// The jail's dataset, cloned from the template.
    Dataset,
    /// The devfs ruleset.
    Devfs,
    /// devfs, Linux file systems and binds under the root.
    Mounts,
    /// The jail itself.
    Jail,
    /// NVIDIA userspace of the host driver's version.
    Nvidia,
    /// The uvm shim.
    Uvm,
    /// Device nodes and the CUDA check.
    Verify,
}

impl StepId {
    /// The journal's word for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::Host => "host",
            StepId::Template => "template",
            StepId::RecipeTemplate => "recipe-template",
            StepId::Dataset => "dataset",
            StepId::Devfs => "devfs",
            StepId::Mounts => "mounts",
            StepId::Jail => "jail",
            StepId::Nvidia => "nvidia",
            StepId::Uvm => "uvm",
            StepId::Verify => "verify",
        }
    }

    /// The id a journal word names.
    #[must_use]
    pub fn parse(s: &str) -> Option<StepId> {
        STEPS.iter().map(|s| s.id()).find(|id| id.as_str() == s)
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Step::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Already in place: the step is skipped.
    Done,
    /// Something to do: [`Step::apply`] runs.
    Todo,
    /// Nothing to do for this spec (the reason, for the report): the step is skipped.
    NotNeeded(&'static str),
}

impl Check {
    /// [`Check::Done`] when what the step makes is already there, else [`Check::Todo`].
    #[must_use]
    pub fn done_if(there: bool) -> Check {
        if there {
            Check::Done
        } else {
            Check::Todo
        }
    }
}

/// What [`Step::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It changed the host.
    Applied,
    /// It found nothing to change after all.
    Unchanged,
    /// It changed the host (or checked it) and has more to say.
    Said(String),
}

/// What a step sees while it runs: the host, the spec, the plan, and the undo list it adds to.
pub struct Ctx<'e, 'a> {
    /// The host.
    pub env: &'e Env<'a>,
    /// The validated spec.
    pub v: &'e Valid,
    /// The plan.
    pub p: &'e Plan,
    /// What this run did, in order; undone in reverse on failure.
    pub(crate) undo: Vec<Undo>,
    /// What this run made that a failure keeps: the template snapshot it built (a cache that
    /// cost a debootstrap, not part of the jail).
    pub(crate) kept: Vec<String>,
}

impl<'e, 'a> Ctx<'e, 'a> {
    /// A context with nothing done yet.
    #[must_use]
    pub fn new(env: &'e Env<'a>, v: &'e Valid, p: &'e Plan) -> Ctx<'e, 'a> {
        Ctx {
            env,
            v,
            p,
            undo: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// The jail's dataset.
    ///
    /// # Errors
    /// A plan with a bad dataset name (not possible for a validated spec).
    pub fn ds(&self) -> anyhow::Result<zfs::DatasetName> {
        Ok(zfs::DatasetName::new(&self.p.dataset)?)
    }
}

/// One step of `up`.
pub trait Step: Sync {
    /// Its id.
    fn id(&self) -> StepId;
    /// What it will do, for `plan` (no host access).
    fn describe(&self, v: &Valid, p: &Plan) -> StepPlan;
    /// Whether it is already done (read-only queries only).
    ///
    /// # Errors
    /// A query failed, or the host is in a state the step must not touch.
    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check>;
    /// Does it, pushing an undo for every change onto the context before returning (also on
    /// error).
    ///
    /// # Errors
    /// The first failing change.
    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome>;
}

/// Every step of `up`, in order.
pub static STEPS: [&dyn Step; 10] = [
    &host::Host,
    &template::Template,
    &recipe_template::RecipeTemplate,
    &dataset::Dataset,
    &devfs::Devfs,
    &mounts::Mounts,
    &jail::Jail,
    &nvidia::Nvidia,
    &uvm::Uvm,
    &verify::Verify,
];

/// The step with this id.
#[must_use]
pub fn step(id: StepId) -> &'static dyn Step {
    *STEPS
        .iter()
        .find(|s| s.id() == id)
        .expect("STEPS holds every StepId")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_appears_once_and_parses_back() {
        let ids: Vec<StepId> = STEPS.iter().map(|s| s.id()).collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(ids.iter().filter(|x| *x == id).count(), 1);
            assert_eq!(StepId::parse(id.as_str()), Some(*id));
            assert_eq!(step(*id).id(), ids[i]);
        }
        assert_eq!(StepId::parse("rootfs"), None);
    }
}
