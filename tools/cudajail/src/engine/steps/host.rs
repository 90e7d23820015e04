//! Step `host`: the kernel modules a CUDA jail needs and, with `persist_config`, rc.conf.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::undo::Undo;
use crate::plan::{Plan, StepPlan, HOST_MODULES, IMPLEMENTED};
use crate::spec::Valid;
use linuxulator::rcconf::RcConf;

pub(super) struct Host;

/// rc.conf as `up --persist` wants it, and whether that differs from `old`; values are read as
/// rc(8) reads them, after `/etc/defaults/rc.conf` (`defaults`).
fn wanted_rc_conf(old: Option<&[u8]>, defaults: Option<&[u8]>) -> anyhow::Result<(RcConf, bool)> {
    // Like `sysrc linux_enable=YES kld_list+=…`: comments and order kept.
    let mut rc = RcConf::parse_bytes(old.unwrap_or_default())
        .with_defaults(RcConf::parse_bytes(defaults.unwrap_or_default()));
    let mut changed = rc.value("linux_enable").ok().flatten().as_deref() != Some("YES");
    rc.set("linux_enable", "YES")?;
    for m in HOST_MODULES {
        if !matches!(*m, "linux" | "linux64" | "tmpfs" | "nullfs") {
            changed |= rc.add_word("kld_list", m)?;
        }
    }
    Ok((rc, changed))
}

impl Step for Host {
    fn id(&self) -> StepId {
        StepId::Host
    }

    fn describe(&self, v: &Valid, _p: &Plan) -> StepPlan {
        let mut actions = vec![format!(
            "kldload, unless loaded: {}",
            HOST_MODULES.join(", ")
        )];
        actions
            .push("check compat.linux.emul_path exists and hw.nvidia.version is readable".into());
        actions.push("check /dev/nvidiactl and the selected /dev/nvidiaN exist".into());
        if v.spec.persist_config {
            actions.push(format!(
                "rc.conf: linux_enable=\"YES\", kld_list+=\"{}\"",
                HOST_MODULES.join(" ")
            ));
        }
        StepPlan::new(
            self.id(),
            "host readiness: kernel modules and devices",
            actions,
            IMPLEMENTED,
        )
    }

    /// `ensure_loaded` is its own check (like `kldload -n`), and the rc.conf edit compares before
    /// it writes, so the step always runs and reports `Unchanged` when nothing was missing.
    fn check(&self, _cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        Ok(Check::Todo)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let env = cx.env;
        let r = kld::ensure_loaded(env.kld, HOST_MODULES)?;
        let mut changed = !r.loaded.is_empty();
        if changed {
            cx.undo.push(Undo::Unload(r.loaded));
        }
        if cx.v.spec.persist_config {
            let old = env
                .fs
                .read_beneath("/", "etc/rc.conf", crate::engine::READ_LIMIT)?;
            let defaults = env.fs.read_host("/etc/defaults/rc.conf");
            let (rc, differs) = wanted_rc_conf(old.as_deref(), defaults.as_deref())?;
            if differs {
                // Writes are atomic: the undo is recorded once the file changed.
                // rc.conf(5): root:wheel 0644, as FreeBSD installs it.
                env.fs.write_beneath(
                    "/",
                    "etc/rc.conf",
                    &rc.to_bytes(),
                    crate::engine::Perm::FILE,
                )?;
                cx.undo.push(Undo::Restore {
                    root: "/".into(),
                    rel: "etc/rc.conf".into(),
                    old,
                    perm: crate::engine::Perm::FILE,
                });
                changed = true;
            }
        }
        Ok(if changed {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }
}
