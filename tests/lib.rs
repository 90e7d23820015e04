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
