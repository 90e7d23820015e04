//! The journal: the ids of the steps `up` has done, kept on the jail's dataset as the user
//! property `cudajail:journal` (a comma-separated list), so that a re-run after a crash resumes
//! and `status` shows how far a jail got.

use super::steps::StepId;
use super::{prop, Env};
use zfs::DatasetName;

/// The journal's text for these steps.
#[must_use]
pub fn render(ids: &[StepId]) -> String {
    ids.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(",")
}

/// The steps a journal text names, in order; words that are no step (a journal written by
/// another version) are dropped.
#[must_use]
pub fn parse(text: &str) -> Vec<StepId> {
    text.split(',').filter_map(StepId::parse).collect()
}

/// The journal as it is on the dataset now (`None` when the dataset or the property is missing).
///
/// # Errors
/// ZFS errors.
pub(crate) fn read(env: &Env<'_>, ds: &DatasetName) -> anyhow::Result<Option<String>> {
    if !env.zfs.exists(&zfs::ZfsName::from(ds))? {
        return Ok(None);
    }
    Ok(env.zfs.get_prop(ds, &prop("journal"))?)
}

/// Records `ids` as done.
///
/// # Errors
/// ZFS errors.
pub(crate) fn write(env: &Env<'_>, ds: &DatasetName, ids: &[StepId]) -> anyhow::Result<()> {
    env.zfs.set_prop(ds, &prop("journal"), &render(ids))?;
    Ok(())
}

/// Puts back a journal a failed re-run rewrote (when the dataset is still there).
pub(crate) fn restore(env: &Env<'_>, ds: &DatasetName, old: &str) -> Option<String> {
    if !env.zfs.exists(&zfs::ZfsName::from(ds)).unwrap_or(false) {
        return None;
    }
    env.zfs
        .set_prop(ds, &prop("journal"), old)
        .err()
        .map(|e| format!("restoring the journal: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::steps::STEPS;

    #[test]
    fn renders_and_parses_back() {
        let ids: Vec<StepId> = STEPS.iter().map(|s| s.id()).collect();
        let t = render(&ids);
        assert_eq!(
            t,
            "host,template,recipe-template,dataset,devfs,mounts,jail,nvidia,uvm,verify"
        );
        assert_eq!(parse(&t), ids);
        assert_eq!(parse("host,bogus,jail"), [StepId::Host, StepId::Jail]);
    }
}
