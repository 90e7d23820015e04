//! Cross-crate scenarios live in `tests/`; this library holds the fixtures they share.

use cudajail::engine::{plan, sim_env, up};
use cudajail::plan::Plan;
use cudajail::spec::{Spec, Valid};
use hostsim::SimHost;

/// The default spec, validated.
#[must_use]
pub fn default_spec() -> Valid {
    Spec::default()
        .validate(None)
        .expect("the default spec is valid")
}

/// The plan for `v` on `h`, as `cudajail` makes it on a host.
///
/// # Panics
/// When planning fails (a test fixture: the scenario is broken).
#[must_use]
pub fn planned(h: &SimHost, v: &Valid) -> Plan {
    plan(&sim_env(h), v).expect("planning on the simulated host")
}

/// A FreeBSD 14 host ready for CUDA jails, with one GPU and the jail of `v` up.
///
/// # Panics
/// When `up` fails on the ready host.
#[must_use]
pub fn host_with_jail_up(v: &Valid) -> (SimHost, Plan) {
    let h = SimHost::freebsd14_cuda_ready(1);
    let p = planned(&h, v);
    up(&sim_env(&h), v, &p).expect("up on a ready host");
    (h, p)
}

/// `after` without the template cache a failed `up` keeps: every dataset under
/// `<pool>/cudajail` that `before` did not have (the template, its snapshot and the parent
/// datasets made for it), their mounts, and the files and modes below their mountpoints. Only
/// a complete template (its `@base` snapshot exists) is a cache; a half-built one stays in, as
/// the residue it is.
#[must_use]
pub fn without_template_cache(after: &hostsim::State, before: &hostsim::State) -> hostsim::State {
    let mut s = after.clone();
    let complete = s.datasets().keys().any(|d| {
        d.contains("/cudajail/templates/")
            && d.ends_with("@base")
            && !before.datasets().contains_key(d)
    });
    if !complete {
        return s;
    }
    // A template dataset is a cache only when its own `@base` snapshot exists (a recipe's
    // template left half-built while the suite's completed is residue, not cache).
    let new: Vec<String> = s
        .datasets()
        .keys()
        .filter(|d| !before.datasets().contains_key(*d))
        .filter(|d| {
            let base = d.split('@').next().unwrap_or(d);
            base.ends_with("/cudajail")
                || base.ends_with("/cudajail/templates")
                || (base.contains("/cudajail/templates/")
                    && after.datasets().contains_key(&format!("{base}@base")))
        })
        .cloned()
        .collect();
    for d in &new {
        s.forget_dataset(d, before);
    }
    s
}
