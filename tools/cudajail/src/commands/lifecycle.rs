//! `destroy`, `start`, `stop`, `status` and `list`: the jail after `up`.

use super::{load_spec, sim_up_first, with_env, Failure};
use crate::engine;
use std::path::Path;

/// `cudajail destroy`.
pub(crate) fn destroy(spec: Option<&Path>, force: bool, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        if sim {
            let p = engine::plan(env, &v)?;
            engine::up(env, &v, &p)?;
        }
        let p = engine::plan(env, &v)?;
        Ok(engine::destroy(env, &v, &p, force)?.join("\n"))
    })
}

/// `cudajail start`.
pub(crate) fn start(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        let p = engine::plan(env, &v)?;
        let r = engine::up(env, &v, &p)?;
        Ok(r.iter()
            .map(|s| format!("{:<9} {}", s.id, s.outcome))
            .collect::<Vec<_>>()
            .join("\n"))
    })
}

/// `cudajail stop`.
pub(crate) fn stop(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        let p = sim_up_first(env, &v, sim)?;
        Ok(engine::stop(env, &p)?.join("\n"))
    })
}

/// `cudajail status`.
pub(crate) fn status(spec: Option<&Path>, json: bool, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        sim_up_first(env, &v, sim)?;
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
                "jail:    {}\nrunning: {}\ndataset: {}\nmounts:  {}\nruleset: {}\njournal: {}",
                me.name,
                me.jid
                    .map_or("no".to_string(), |j| format!("yes (jid {j})")),
                me.dataset,
                me.mounts,
                me.ruleset.as_deref().unwrap_or("-"),
                me.journal.as_deref().unwrap_or("-")
            )
        })
    })
}

/// `cudajail list`.
pub(crate) fn list(spec: Option<&Path>, json: bool, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    with_env(sim, &v, |env| {
        if sim {
            let p = engine::plan(env, &v)?;
            engine::up(env, &v, &p)?;
        }
        let l = engine::list(env, &v.pool)?;
        Ok(if json {
            serde_json::to_string_pretty(&l)?
        } else {
            let mut t = format!(
                "{:<16} {:<6} {:<7} {:<8} dataset\n",
                "name", "jid", "mounts", "ruleset"
            );
            for j in &l {
                t.push_str(&format!(
                    "{:<16} {:<6} {:<7} {:<8} {}\n",
                    j.name,
                    j.jid.map_or("-".to_string(), |x| x.to_string()),
                    j.mounts,
                    j.ruleset.as_deref().unwrap_or("-"),
                    j.dataset
                ));
            }
            t
        })
    })
}
