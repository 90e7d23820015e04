//! `cudajail enable|disable NAME`: jails started at boot by cudajail's rc.d script
//! (`tools/cudajail/rc.d/cudajail`, installed as `/usr/local/etc/rc.d/cudajail`), listed in
//! rc.conf as `cudajail_enable="YES"` and `cudajail_list="a b"`, edited as sysrc(8) edits.

use super::steps::host::rc_conf_target;
use super::{Env, Perm};
use anyhow::{anyhow, bail};
use linuxulator::rcconf::RcConf;

/// The rc.d script: starts the jails of `cudajail_list` in order after `zfs` and `linux`, stops
/// them in reverse order at shutdown.
pub const RC_SCRIPT: &str = include_str!("../../rc.d/cudajail");

/// Where the script goes (ports install rc.d scripts under `/usr/local/etc/rc.d`).
pub const RC_SCRIPT_REL: &str = "usr/local/etc/rc.d/cudajail";

fn rc_conf(env: &Env<'_>) -> anyhow::Result<(String, Perm, Option<Vec<u8>>, RcConf)> {
    let (rel, perm) = rc_conf_target(env.fs)?;
    let old = env.fs.read_beneath("/", &rel, super::READ_LIMIT)?;
    let rc =
        RcConf::parse_bytes(old.as_deref().unwrap_or_default()).with_defaults(RcConf::parse_bytes(
            &env.fs
                .read_host("/etc/defaults/rc.conf")
                .unwrap_or_default(),
        ));
    Ok((rel, perm, old, rc))
}

/// `cudajail enable NAME`: the rc.d script installed if missing, `cudajail_enable="YES"`, NAME
/// appended to `cudajail_list`. Returns what changed (nothing when all was so).
///
/// # Errors
/// NAME is not a jail cudajail made (on `pool`); rc.conf cannot be edited safely.
pub fn enable(
    env: &Env<'_>,
    pool: &zfs::DatasetName,
    name: &jail::JailName,
) -> anyhow::Result<Vec<String>> {
    if super::stored_spec(env, pool, name)?.is_none() {
        bail!("{name} is not a jail cudajail made on pool {pool} (see `cudajail list`)");
    }
    let mut did = Vec::new();
    if env.fs.stat_beneath("/", RC_SCRIPT_REL)?.is_none() {
        env.fs.mkdir_beneath("/", "usr/local/etc/rc.d", Perm::DIR)?;
        env.fs
            .write_beneath("/", RC_SCRIPT_REL, RC_SCRIPT.as_bytes(), Perm::root(0o555))?;
        did.push(format!("installed /{RC_SCRIPT_REL}"));
    }
    let (rel, perm, old, mut rc) = rc_conf(env)?;
    let mut changed = false;
    if rc.value("cudajail_enable").ok().flatten().as_deref() != Some("YES") {
        rc.set("cudajail_enable", "YES")?;
        changed = true;
    }
    changed |= rc.add_word("cudajail_list", name.as_str())?;
    if changed {
        env.fs.write_beneath("/", &rel, &rc.to_bytes(), perm)?;
        let list = rc.value("cudajail_list").ok().flatten().unwrap_or_default();
        did.push(format!(
            "/{rel}: cudajail_enable=\"YES\", cudajail_list=\"{list}\" (started in that order at boot)"
        ));
    }
    let _ = old;
    Ok(did)
}

/// `cudajail disable NAME`: NAME taken out of `cudajail_list`; `cudajail_enable="NO"` when the
/// list is then empty. The rc.d script stays.
///
/// # Errors
/// rc.conf cannot be edited safely.
pub fn disable(env: &Env<'_>, name: &jail::JailName) -> anyhow::Result<Vec<String>> {
    let (rel, perm, _, mut rc) = rc_conf(env)?;
    if !rc.remove_word("cudajail_list", name.as_str())? {
        return Ok(Vec::new());
    }
    let list = rc
        .value("cudajail_list")
        .map_err(|l| anyhow!("cudajail_list is set by {l:?}, which cannot be read here"))?
        .unwrap_or_default();
    if list.split_whitespace().next().is_none() {
        rc.set("cudajail_enable", "NO")?;
    }
    env.fs.write_beneath("/", &rel, &rc.to_bytes(), perm)?;
    Ok(vec![format!(
        "/{rel}: cudajail_list=\"{list}\"{}",
        if list.trim().is_empty() {
            ", cudajail_enable=\"NO\""
        } else {
            ""
        }
    )])
}
