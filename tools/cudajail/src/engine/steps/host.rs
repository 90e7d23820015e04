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

/// The file `up --persist` edits and the mode and owner to keep: `etc/rc.conf`, or, when that
/// is a symlink (config management often makes it one), the file it points to, as sysrc(8)
/// writes through the link. Resolved once and checked: the link must be root's, its target
/// must stay in `/etc` (no `..`), be a regular root-owned file, not another link, and not
/// immutable (`chflags schg`: sysrc's `-w` test fails there too).
pub(crate) fn rc_conf_target(fs: &dyn rootfs::RootFs) -> anyhow::Result<(String, rootfs::Perm)> {
    use rootfs::EntryKind;
    let fix = "edit it by hand, or make /etc/rc.conf a plain file (cp -p the target over the link)";
    let usable = |rel: &str, e: &rootfs::Entry| -> anyhow::Result<rootfs::Perm> {
        if e.immutable {
            anyhow::bail!(
                "/{rel} has an immutable or append-only flag; cudajail will not replace it \
                 (chflags noschg,nouchg /{rel} if the change is wanted)"
            );
        }
        // Keep its mode (set-id bits are never created here) and owner.
        Ok(rootfs::Perm {
            mode: e.perm.mode & 0o1777,
            ..e.perm
        })
    };
    match fs.stat_beneath("/", "etc/rc.conf")? {
        None => Ok(("etc/rc.conf".into(), crate::engine::Perm::FILE)),
        Some(e) if e.kind == EntryKind::File => {
            Ok(("etc/rc.conf".into(), usable("etc/rc.conf", &e)?))
        }
        Some(rootfs::Entry {
            kind: EntryKind::Symlink(target),
            perm,
            ..
        }) => {
            if perm.uid != 0 {
                anyhow::bail!(
                    "/etc/rc.conf is a symlink owned by uid {}, not root; refusing to write \
                     through it ({fix})",
                    perm.uid
                );
            }
            let abs = if target.starts_with('/') {
                target.clone()
            } else {
                format!("/etc/{target}")
            };
            let parts: Vec<&str> = abs.split('/').filter(|p| !p.is_empty()).collect();
            if parts.first() != Some(&"etc")
                || parts.len() < 2
                || parts.iter().any(|p| *p == "." || *p == "..")
            {
                anyhow::bail!(
                    "/etc/rc.conf points to {target:?}, outside /etc or through `..`; refusing \
                     to write through it ({fix})"
                );
            }
            let rel = parts.join("/");
            match fs.stat_beneath("/", &rel)? {
                Some(t) if t.kind == EntryKind::File && t.perm.uid == 0 => {
                    Ok((rel.clone(), usable(&rel, &t)?))
                }
                Some(t) if t.kind == EntryKind::File => anyhow::bail!(
                    "/etc/rc.conf points to /{rel}, owned by uid {}, not root; refusing to \
                     write it ({fix})",
                    t.perm.uid
                ),
                Some(_) => anyhow::bail!(
                    "/etc/rc.conf points to /{rel}, which is not a regular file (a link to a \
                     link is not followed); {fix}"
                ),
                None => anyhow::bail!("/etc/rc.conf points to /{rel}, which does not exist; {fix}"),
            }
        }
        Some(_) => anyhow::bail!("/etc/rc.conf is not a regular file or a symlink to one"),
    }
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
            let (rel, perm) = rc_conf_target(env.fs)?;
            let old = env.fs.read_beneath("/", &rel, crate::engine::READ_LIMIT)?;
            let defaults = env.fs.read_host("/etc/defaults/rc.conf");
            let (rc, differs) = wanted_rc_conf(old.as_deref(), defaults.as_deref())?;
            if differs {
                // Writes are atomic: the undo is recorded once the file changed. A new rc.conf
                // is root:wheel 0644, as FreeBSD installs it; an existing one keeps its own.
                env.fs.write_beneath("/", &rel, &rc.to_bytes(), perm)?;
                cx.undo.push(Undo::Restore {
                    root: "/".into(),
                    rel,
                    old,
                    perm,
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
