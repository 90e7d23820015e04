//! Step `dataset`: the jail's dataset, a clone of the template snapshot marked as ours, with the
//! spec's host users mirrored into it.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::{linux_user_lines, prop, undo::Undo, Perm};
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::spec::Valid;
use anyhow::{anyhow, bail};
use zfs::SnapshotName;

pub(super) struct Dataset;

impl Step for Dataset {
    fn id(&self) -> StepId {
        StepId::Dataset
    }

    fn describe(&self, v: &Valid, p: &Plan) -> StepPlan {
        let mut actions = vec![format!(
            "zfs clone {} {} (cudajail:managed=on, cudajail:ruleset={}, cudajail:spec=the spec)",
            p.recipe_template.as_ref().unwrap_or(&p.template),
            p.dataset,
            p.ruleset
        )];
        if !v.spec.users.is_empty() {
            actions.push(format!(
                "mirror host users into passwd/group/shadow: {}",
                v.spec.users.join(", ")
            ));
        }
        StepPlan::new(
            self.id(),
            format!("ZFS dataset {}", p.dataset),
            actions,
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        let ds = cx.ds()?;
        if !cx.env.zfs.exists(&zfs::ZfsName::from(&ds))? {
            return Ok(Check::Todo);
        }
        if cx.env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() != Some("on") {
            bail!("{ds} exists and was not made by cudajail; pick another name or pool");
        }
        Ok(Check::Done)
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let ds = cx.ds()?;
        // A recipe's template when the spec has one, else the suite's.
        let snap = SnapshotName::new(cx.p.recipe_template.as_ref().unwrap_or(&cx.p.template))?;
        cx.env.zfs.clone_snapshot(
            &ds,
            &snap,
            &[
                (prop("managed"), "on".into()),
                (prop("ruleset"), cx.p.ruleset.to_string()),
                // The spec it was made from, so that commands can name the jail alone.
                (prop("spec"), crate::engine::stored_spec_text(&cx.v.spec)),
            ],
        )?;
        cx.undo.push(Undo::Destroy(vec![ds.to_string()]));
        mirror_users(cx)?;
        Ok(Outcome::Applied)
    }
}

/// Adds the spec's host users to the new root's passwd/group/shadow (the clone is ours, so
/// destroying it undoes this).
fn mirror_users(cx: &Ctx<'_, '_>) -> anyhow::Result<()> {
    if cx.v.spec.users.is_empty() {
        return Ok(());
    }
    let env = cx.env;
    let host_pw =
        String::from_utf8_lossy(&env.fs.read_host("/etc/passwd").unwrap_or_default()).into_owned();
    let host_gr =
        String::from_utf8_lossy(&env.fs.read_host("/etc/group").unwrap_or_default()).into_owned();
    let root = &cx.p.root;
    let mut files: Vec<(&str, String)> = Vec::new();
    for f in ["etc/passwd", "etc/group", "etc/shadow"] {
        let text = env.fs.read_beneath(root, f, crate::engine::READ_LIMIT)?;
        files.push((
            f,
            String::from_utf8_lossy(&text.unwrap_or_default()).into_owned(),
        ));
    }
    for u in &cx.v.spec.users {
        let line = host_pw
            .lines()
            .find(|l| l.split(':').next() == Some(u.as_str()))
            .ok_or_else(|| anyhow!("user {u} is not in the host's /etc/passwd"))?;
        let (pw, gr) = linux_user_lines(line, &host_gr)
            .ok_or_else(|| anyhow!("cannot read the host's entry for {u}"))?;
        let present =
            |text: &str, name: &str| text.lines().any(|l| l.split(':').next() == Some(name));
        let gname = gr.split(':').next().unwrap_or_default().to_string();
        if !present(&files[0].1, u) {
            files[0].1.push_str(&format!("{pw}\n"));
        }
        if !present(&files[1].1, &gname) {
            files[1].1.push_str(&format!("{gr}\n"));
        }
        if !present(&files[2].1, u) {
            files[2].1.push_str(&format!("{u}:!:19000:0:99999:7:::\n"));
        }
    }
    env.fs.mkdir_beneath(root, "etc", Perm::DIR)?;
    // Debian's modes: passwd and group 0644 root:root, shadow 0640 root:shadow (the jail's own
    // `shadow` group, else root).
    let shadow_gid = files[1]
        .1
        .lines()
        .find(|l| l.split(':').next() == Some("shadow"))
        .and_then(|l| l.split(':').nth(2))
        .and_then(|g| g.parse::<u32>().ok())
        .unwrap_or(0);
    for (f, text) in files {
        let perm = if f == "etc/shadow" {
            Perm::root(0o640).owned_by(0, shadow_gid)
        } else {
            Perm::FILE
        };
        env.fs.write_beneath(root, f, text.as_bytes(), perm)?;
    }
    Ok(())
}
