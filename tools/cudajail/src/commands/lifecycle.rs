//! `destroy`, `start`, `stop`, `status` and `list`: the jail after `up`.

use super::{load_spec, resolve, target, with_env, Failure};
use crate::engine;
use std::path::Path;

/// `cudajail destroy [NAME|SPEC]`.
pub(crate) fn destroy(spec: Option<&Path>, force: bool, sim: bool) -> Result<String, Failure> {
    let t = target(spec)?;
    let d = load_spec(None)?;
    with_env(sim, &d, |env| {
        let v = resolve(env, &t)?;
        let p = engine::plan(env, &v)?;
        Ok(engine::destroy(env, &v, &p, force)?.join("\n"))
    })
}

/// `cudajail start [NAME|SPEC]`.
pub(crate) fn start(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let t = target(spec)?;
    let d = load_spec(None)?;
    with_env(sim, &d, |env| {
        let v = resolve(env, &t)?;
        let p = engine::plan(env, &v)?;
        let r = engine::up(env, &v, &p)?;
        Ok(r.iter()
            .map(|s| format!("{:<9} {}", s.id, s.outcome))
            .collect::<Vec<_>>()
            .join("\n"))
    })
}

/// `cudajail stop [NAME|SPEC]`.
pub(crate) fn stop(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let t = target(spec)?;
    let d = load_spec(None)?;
    with_env(sim, &d, |env| {
        let v = resolve(env, &t)?;
        let p = engine::plan(env, &v)?;
        Ok(engine::stop(env, &p)?.join("\n"))
    })
}

/// `cudajail status [NAME|SPEC]`.
pub(crate) fn status(spec: Option<&Path>, json: bool, sim: bool) -> Result<String, Failure> {
    let t = target(spec)?;
    let d = load_spec(None)?;
    with_env(sim, &d, |env| {
        let v = resolve(env, &t)?;
        let st = engine::list(env, &v.pool)?;
        let me = st
            .into_iter()
            .find(|j| j.name == v.name.as_str())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no cudajail jail {} on pool {}; create it with `cudajail up`",
                    v.name,
                    v.pool
                )
            })?;
        Ok(if json {
            serde_json::to_string_pretty(&me)?
        } else {
            format!(
                "jail:    {}\nrunning: {}\ndataset: {}\nroot:    {}\nmounts:  {}\nruleset: {}\njournal: {}\nsuite:   {}\ngpus:    {}\nlinux:   {}\ndriver:  {}",
                me.name,
                me.jid
                    .map_or("no".to_string(), |j| format!("yes (jid {j})")),
                me.dataset,
                me.root,
                me.mounts,
                me.ruleset.map_or("-".to_string(), |r| r.to_string()),
                if me.journal.is_empty() { "-".to_string() } else { me.journal.join(" ") },
                me.suite.as_deref().unwrap_or("-"),
                me.gpus.as_ref().map_or("-".to_string(), ToString::to_string),
                me.linux_release.as_deref().unwrap_or("-"),
                me.driver.as_deref().unwrap_or("-"),
            )
        })
    })
}

/// `cudajail list`.
pub(crate) fn list(spec: Option<&Path>, json: bool, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        let l = engine::list(env, &v.pool)?;
        Ok(if json {
            serde_json::to_string_pretty(&l)?
        } else {
            let mut t = format!(
                "{:<16} {:<6} {:<7} {:<8} {:<9} {:<8} {:<11} dataset\n",
                "name", "jid", "mounts", "ruleset", "suite", "gpus", "driver"
            );
            for j in &l {
                t.push_str(&format!(
                    "{:<16} {:<6} {:<7} {:<8} {:<9} {:<8} {:<11} {}\n",
                    j.name,
                    j.jid.map_or("-".to_string(), |x| x.to_string()),
                    j.mounts,
                    j.ruleset.map_or("-".to_string(), |r| r.to_string()),
                    j.suite.as_deref().unwrap_or("-"),
                    j.gpus.as_ref().map_or("-".to_string(), ToString::to_string),
                    j.driver.as_deref().unwrap_or("-"),
                    j.dataset
                ));
            }
            t
        })
    })
}

/// `cudajail enable|disable NAME`.
pub(crate) fn autostart(name: &str, on: bool, sim: bool) -> Result<String, Failure> {
    let n = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
    let d = load_spec(None)?;
    with_env(sim, &d, |env| {
        let did = if on {
            engine::autostart::enable(env, &d.pool, &n)?
        } else {
            engine::autostart::disable(env, &n)?
        };
        Ok(if did.is_empty() {
            format!(
                "nothing to change: {name} is {}started at boot",
                if on { "already " } else { "not " }
            )
        } else {
            did.join("\n")
        })
    })
}
