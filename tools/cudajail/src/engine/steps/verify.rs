//! Step `verify`: the jail sees `/dev/nvidiactl` and the selected `/dev/nvidiaN`, and (unless
//! `cuda_check = false`) CUDA inside the jail sees exactly the selected GPUs and allocates on
//! each.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::build::{build_in_jail, probe_hint, JailBuild};
use crate::engine::running_jid;
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::shim;
use crate::spec::Valid;
use anyhow::{anyhow, bail};

pub(super) struct Verify;

impl Step for Verify {
    fn id(&self) -> StepId {
        StepId::Verify
    }

    fn describe(&self, v: &Valid, _p: &Plan) -> StepPlan {
        StepPlan::new(
            self.id(),
            "verify CUDA sees the GPUs",
            vec![if v.spec.cuda_check {
                "check /dev/nvidiactl and the selected /dev/nvidiaN inside the jail; build and run the CUDA check there (cuInit, each GPU's UUID, a context and a 1 MiB allocation); it must see exactly the selected GPUs".into()
            } else {
                "check /dev/nvidiactl and the selected /dev/nvidiaN inside the jail (CUDA check off)".into()
            }],
            IMPLEMENTED,
        )
    }

    /// Verification always runs.
    fn check(&self, _cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        Ok(Check::Todo)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let env = cx.env;
        let dev = format!("{}/dev", cx.p.root);
        let mut need = vec!["nvidiactl".to_string()];
        let d = nvgpu::Driver::open(env.nv)?;
        let gpus = d.gpus()?;
        let selected = crate::engine::selected_gpus(&cx.v.gpus, &gpus);
        need.extend(selected.iter().map(|g| format!("nvidia{}", g.minor)));
        for n in &need {
            if !env.view.exists(&format!("{dev}/{n}")) {
                bail!(
                    "{dev}/{n} is not visible inside the jail: check devfs ruleset {}",
                    cx.p.ruleset
                );
            }
        }
        if selected.is_empty() {
            bail!("none of the selected GPUs exists on this host");
        }
        Ok(Outcome::Said(if cx.v.spec.cuda_check {
            let r = cuda_check(cx, &selected)?;
            let names: Vec<String> = r
                .gpus
                .iter()
                .map(|g| format!("{} ({}, {} MiB)", g.name, g.uuid, g.mem_mib))
                .collect();
            format!(
                "applied: CUDA {} (driver {}) works inside the jail on {}",
                r.cuda_version(),
                d.version(),
                names.join(", ")
            )
        } else {
            "applied (device nodes and GPUs; CUDA check off in the spec)".to_string()
        }))
    }
}

/// Builds (once) and runs the CUDA check inside the jail; it must see exactly the selected
/// GPUs (by UUID) and create a context on each.
fn cuda_check(
    cx: &mut Ctx<'_, '_>,
    selected: &[&nvgpu::GpuInfo],
) -> anyhow::Result<shim::ProbeReport> {
    let env = cx.env;
    let root = cx.p.root.clone();
    let jid = running_jid(env, cx.p)?;
    let mut files = Vec::new();
    let res = (|| -> anyhow::Result<shim::ProbeReport> {
        // Built once, and again when this cudajail carries another version of the source.
        let current = env
            .fs
            .read_beneath(&root, shim::PROBE_SOURCE_REL, crate::engine::READ_LIMIT)?
            .is_some_and(|src| src == shim::CUDA_PROBE_C.as_bytes());
        if !current || !env.view.exists(&format!("{root}{}", shim::PROBE_PATH)) {
            build_in_jail(
                env,
                &root,
                jid,
                &JailBuild {
                    source_rel: shim::PROBE_SOURCE_REL,
                    source: shim::CUDA_PROBE_C,
                    output: shim::PROBE_PATH,
                    command: shim::PROBE_BUILD_COMMAND,
                    what: "the CUDA check",
                    also: ", or set cuda_check = false in the spec",
                },
                &mut files,
            )?;
        }
        let (_, out) = env.exec.exec(jid, &[shim::PROBE_PATH])?;
        let r = shim::parse_probe(&out).map_err(|e| {
            anyhow!(
                "CUDA does not work inside the jail: {e}\nhint: {}",
                probe_hint(&e, cx.p.ruleset)
            )
        })?;
        for g in selected {
            if !r.gpus.iter().any(|c| c.uuid.eq_ignore_ascii_case(&g.uuid)) {
                bail!(
                    "CUDA inside the jail does not see GPU {} ({}, {}); check devfs ruleset {}",
                    g.minor,
                    g.name,
                    g.uuid,
                    cx.p.ruleset
                );
            }
        }
        if r.gpus.len() != selected.len() {
            bail!(
                "CUDA inside the jail sees {} GPU(s), the spec selects {}: devfs ruleset {} shows more than it should",
                r.gpus.len(),
                selected.len(),
                cx.p.ruleset
            );
        }
        if let Some(g) = r.gpus.iter().find(|g| !g.ctx_ok) {
            bail!(
                "CUDA could not create a context on {} inside the jail",
                g.name
            );
        }
        Ok(r)
    })();
    cx.undo.push(Undo::Files { root, files });
    res
}
