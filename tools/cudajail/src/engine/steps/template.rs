//! Step `template`: the suite's template dataset, bootstrapped, fixed and snapshotted once per
//! pool; every jail is a clone of its snapshot.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::{mountpoint, undo::Undo, Perm, RootFs};
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;
use anyhow::Context;
use zfs::{DatasetName, SnapshotName};

pub(super) struct Template;

/// Packages the template gets on top of debootstrap's minbase: the later steps build the uvm
/// shim and the CUDA check inside the jail with the jail's own C compiler, and minbase has none.
pub const TEMPLATE_PACKAGES: &[&str] = &["gcc", "libc6-dev"];

/// Files the rootfs fixes write into a fresh Debian/Ubuntu tree (DESIGN §3 step 3).
pub fn rootfs_fixes(hostname: &str, resolv: Option<&[u8]>) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // No daemon may start inside the template while packages are installed.
        ("usr/sbin/policy-rc.d", b"#!/bin/sh\nexit 101\n".to_vec()),
        (
            "etc/hosts",
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{hostname}\n").into_bytes(),
        ),
        (
            "etc/resolv.conf",
            resolv.map_or_else(|| b"nameserver 127.0.0.1\n".to_vec(), <[u8]>::to_vec),
        ),
        ("etc/adjtime", b"0.0 0 0.0\n0\nUTC\n".to_vec()),
        (
            "etc/apt/apt.conf.d/99cudajail",
            b"APT::Cache-Start \"100000000\";\n".to_vec(),
        ),
    ]
}

/// Writes [`rootfs_fixes`] into a freshly bootstrapped tree.
///
/// # Errors
/// File errors (a symlink on the way is refused).
pub fn apply_rootfs_fixes(
    fs: &dyn RootFs,
    root: &str,
    resolv: Option<&[u8]>,
) -> anyhow::Result<()> {
    for (rel, data) in rootfs_fixes("cudajail", resolv) {
        if let Some((dir, _)) = rel.rsplit_once('/') {
            fs.mkdir_beneath(root, dir, Perm::DIR)?;
        }
        // policy-rc.d is a program; the rest is configuration.
        let perm = if rel.ends_with("policy-rc.d") {
            Perm::DIR
        } else {
            Perm::FILE
        };
        fs.write_beneath(root, rel, &data, perm)?;
    }
    Ok(())
}

impl Step for Template {
    fn id(&self) -> StepId {
        StepId::Template
    }

    fn describe(&self, v: &Valid, p: &Plan) -> StepPlan {
        let snap = &p.template;
        let ds = snap.split('@').next().unwrap_or(snap);
        StepPlan::new(
            self.id(),
            format!(
                "{} {} template {snap} (built once per pool)",
                v.suite.distro(),
                v.suite.as_str()
            ),
            vec![
                format!("if {snap} exists: nothing to do"),
                format!(
                    "create {ds}; debootstrap --variant=minbase --include={} {} into it",
                    TEMPLATE_PACKAGES.join(","),
                    v.suite.as_str()
                ),
                "fixes: usr-is-merged, second stage, /etc/hosts, resolv.conf, adjtime, policy-rc.d, apt cache".into(),
                format!("zfs snapshot {snap}"),
            ],
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        let snap = SnapshotName::new(&cx.p.template)?;
        Ok(Check::done_if(
            cx.env.zfs.exists(&zfs::ZfsName::from(&snap))?,
        ))
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let env = cx.env;
        let snap = SnapshotName::new(&cx.p.template)?;
        let mut created = Vec::new();
        let res = (|| -> anyhow::Result<()> {
            let tfs = snap.dataset().clone();
            let parts: Vec<&str> = tfs.as_str().split('/').collect();
            for i in 2..=parts.len() {
                let d = DatasetName::new(&parts[..i].join("/"))?;
                if !env.zfs.exists(&zfs::ZfsName::from(&d))? {
                    env.zfs.create(&d, &[])?;
                    created.push(d.to_string());
                }
            }
            let mp = mountpoint(env, &tfs)?;
            env.boot
                .bootstrap(cx.v.suite.as_str(), &mp, TEMPLATE_PACKAGES)
                .with_context(|| format!("bootstrapping {} into {mp}", cx.v.suite.as_str()))?;
            apply_rootfs_fixes(env.fs, &mp, env.fs.read_host("/etc/resolv.conf").as_deref())?;
            env.zfs.snapshot(std::slice::from_ref(&snap))?;
            created.push(snap.to_string());
            Ok(())
        })();
        match res {
            // A complete template is a cache, kept when a later step fails: the next `up`
            // clones it instead of bootstrapping again. `cudajail template rm` removes it.
            Ok(()) => {
                cx.kept.push(snap.to_string());
                Ok(Outcome::Applied)
            }
            // A half-built one is residue.
            Err(e) => {
                cx.undo.push(Undo::Destroy(created));
                Err(e)
            }
        }
    }
}
