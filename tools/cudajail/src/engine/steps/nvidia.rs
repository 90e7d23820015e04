//! Step `nvidia`: NVIDIA's Linux userspace of exactly the kernel module's version inside the
//! jail (the host's Linux libraries copied in, or NVIDIA's `.run` run inside), then `ldconfig`.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::nvlib::{install_nvidia, install_nvidia_run, link_nvidia_libs, NV_UNINSTALL};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;

pub(super) struct Nvidia;

impl Step for Nvidia {
    fn id(&self) -> StepId {
        StepId::Nvidia
    }

    fn describe(&self, v: &Valid, _p: &Plan) -> StepPlan {
        StepPlan::new(
            self.id(),
            "NVIDIA userspace of exactly the host driver's version",
            vec![
                "read the host driver version (hw.nvidia.version / the version escape)".into(),
                match &v.spec.nvidia_run {
                    None => "copy the same version's Linux libraries into the jail's multiarch lib dir; refuse a mismatch".into(),
                    Some(r) => format!("run {r} inside the jail with --no-kernel-module (its version must be the module's); remove the copy"),
                },
                "ldconfig inside the jail (the libcuda.so.1 link)".into(),
            ],
            IMPLEMENTED,
        )
    }

    /// Every library is checked as it is installed and the link after, so the step always runs.
    fn check(&self, _cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        Ok(Check::Todo)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let (env, p) = (cx.env, cx.p);
        let installed = if let Some(run) = &p.nvidia_run {
            let mut ran = false;
            let res = install_nvidia_run(env, p, run, &mut ran);
            if ran {
                cx.undo.push(Undo::InJail {
                    jail: p.jail.name.clone(),
                    argv: NV_UNINSTALL.iter().map(|a| (*a).to_string()).collect(),
                });
            }
            res?
        } else {
            let mut files = Vec::new();
            let res = install_nvidia(env, &p.root, &mut files);
            let installed = !files.is_empty();
            cx.undo.push(Undo::Files {
                root: p.root.clone(),
                files,
            });
            res?;
            installed
        };
        let linked = link_nvidia_libs(env, p, installed)?;
        Ok(if installed || linked {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }
}
