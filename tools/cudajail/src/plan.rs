//! The plan: every step `up` takes, described from a validated spec. `plan` changes nothing.

use crate::spec::Valid;
use devfs::{Ruleset, RulesetId};
use jail::{JailFlags, JailSpec, JailSys, ParamValue};
use linuxulator::linux_mount_set;
use serde::Serialize;

/// Kernel modules (file names for `kldload`) a CUDA jail needs, in load order: the list the
/// readiness checks use.
pub const HOST_MODULES: &[&str] = crate::doctor::REQUIRED_MODULES;

/// The number of the rule that marks a ruleset as this jail's (the last rule number devfs has).
pub const OWNER_RULE: u16 = 65535;

/// The rule that marks a devfs ruleset as cudajail's, for the jail `name`: `hide` of the path
/// `cudajail.owner.<name>`, a name no device has, so it changes nothing in the jail's `/dev`.
/// `plan` adopts a ruleset carrying it (left by an undo that failed) and `destroy` deletes only
/// a ruleset carrying it.
#[must_use]
pub fn owner_rule(name: &str) -> devfs::Rule {
    // The pattern holds 199 bytes (DEVFS_MAXPTRNLEN); jail names may be longer.
    let cut: String = name.chars().take(180).collect();
    devfs::Rule {
        number: Some(OWNER_RULE),
        conditions: vec![devfs::Condition::Path(format!("cudajail.owner.{cut}"))],
        actions: vec![devfs::Action::Hide],
    }
}

/// Whether `rules` (a ruleset as the kernel lists it) carry [`owner_rule`] for `name`.
#[must_use]
pub fn owned_by(rules: &[devfs::Rule], name: &str) -> bool {
    rules.contains(&owner_rule(name))
}

/// The first ruleset number tried when the spec names none.
pub const FIRST_RULESET: u16 = 100;

/// One step of the flow, as `plan` shows it ([`crate::engine::steps::Step::describe`]).
#[derive(Debug, Clone, Serialize)]
pub struct StepPlan {
    /// Short id (`host`, `devfs`, …), the journal's word.
    pub id: &'static str,
    /// One line.
    pub title: String,
    /// What it will do, one action per line.
    pub actions: Vec<String>,
    /// Whether `cudajail up` can already carry this step out, and where it is proven.
    pub status: &'static str,
}

impl StepPlan {
    /// A step's description.
    #[must_use]
    pub fn new(
        id: crate::engine::StepId,
        title: impl Into<String>,
        actions: Vec<String>,
        status: &'static str,
    ) -> StepPlan {
        StepPlan {
            id: id.as_str(),
            title: title.into(),
            actions,
            status,
        }
    }
}

/// Every step's status today: `up` carries it out; proven on the simulated host (and the parts
/// Linux has, on Linux), not yet on a FreeBSD host.
pub const IMPLEMENTED: &str = "implemented; tested on the simulated host, not yet run on FreeBSD";

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The jail.
    pub name: String,
    /// Root directory of the jail.
    pub root: String,
    /// ZFS dataset of the jail.
    pub dataset: String,
    /// devfs ruleset number (chosen, or the first candidate).
    pub ruleset: RulesetId,
    /// Whether the ruleset number still has to be checked against the host's rulesets.
    pub ruleset_provisional: bool,
    /// The suite's base template snapshot.
    pub template: String,
    /// With a recipe: the snapshot of the template the recipe's packages and steps are applied
    /// to once (`<suite>-<recipe>-<digest>@base`, a clone of `template`); the dataset is cloned
    /// from it. `None` without a recipe: the dataset is cloned from `template`.
    pub recipe_template: Option<String>,
    /// The devfs ruleset.
    pub rules: Ruleset,
    /// The mounts, in mount order.
    pub mounts: Vec<linuxulator::MountSpec>,
    /// The jail's kernel parameters.
    pub jail: JailSpec,
    /// NVIDIA's installer to run inside the jail, when the spec names one (else the host's
    /// Linux libraries are copied).
    pub nvidia_run: Option<String>,
    /// The steps, in order: [`crate::engine::steps::STEPS`] described.
    pub steps: Vec<StepPlan>,
    /// The recipe applied once the jail is up, and what it does (`null` without one).
    pub recipe: Option<(String, Vec<String>)>,
}

/// jail(8)'s `ip4`/`ip6` keyword for the spec's `network`: `inherit`, or `new` (with no
/// addresses: no network) for `none`.
#[must_use]
pub fn jail_net(network: &str) -> &'static str {
    if network == "inherit" {
        "inherit"
    } else {
        "new"
    }
}

/// Builds the plan for a validated spec. `used_rulesets` are the rulesets present on the host
/// (empty when planning off-host).
///
/// # Errors
/// When the jail parameters do not encode (a bug in the spec validation) or no ruleset number
/// is free.
pub fn build(v: &Valid, used_rulesets: &[RulesetId], on_host: bool) -> anyhow::Result<Plan> {
    build_at(v, used_rulesets, on_host, None)
}

/// [`build`] with the jail root the host's ZFS gives the dataset (its `mountpoint`, set or
/// inherited); `None` assumes ZFS's default, `/<dataset>`.
///
/// # Errors
/// As [`build`].
pub fn build_at(
    v: &Valid,
    used_rulesets: &[RulesetId],
    on_host: bool,
    root: Option<String>,
) -> anyhow::Result<Plan> {
    let name = v.name.as_str();
    let dataset = v.pool.child("cudajail")?.child(name)?;
    let template = v
        .pool
        .child("cudajail")?
        .child("templates")?
        .child(v.suite.as_str())?
        .snapshot("base")?;
    let recipe = v
        .spec
        .recipe
        .as_deref()
        .map(crate::recipe::Recipe::builtin)
        .transpose()?;
    let recipe_template = match &recipe {
        Some(r) => Some(
            v.pool
                .child("cudajail")?
                .child("templates")?
                .child(&format!("{}-{}-{}", v.suite.as_str(), r.name, r.digest()))?
                .snapshot("base")?
                .to_string(),
        ),
        None => None,
    };
    let root = root.unwrap_or_else(|| format!("/{dataset}"));
    let (ruleset, provisional) = match v.spec.ruleset {
        Some(r) => (RulesetId(r), false),
        None => (
            devfs::types::first_free(used_rulesets, FIRST_RULESET).ok_or_else(|| {
                anyhow::anyhow!("no free devfs ruleset number at or above {FIRST_RULESET}")
            })?,
            !on_host,
        ),
    };
    let mut rs = Ruleset::gpu(
        ruleset,
        &format!("devfsrules_cudajail_{}", name.replace('.', "_")),
        &v.gpus,
        v.spec.dri,
    );
    rs.rules.push(owner_rule(name));
    let mounts = linux_mount_set(ruleset.0, v.spec.shm_size.as_deref(), &v.spec.binds);
    let hostname = v.spec.hostname.clone().unwrap_or_else(|| name.to_string());
    let sys = |s: &str| {
        if s == "new" {
            JailSys::New
        } else {
            JailSys::Inherit
        }
    };
    let jspec = JailSpec::new(v.name.clone(), root.clone())
        .param("host.hostname", ParamValue::Str(hostname))
        .param("persist", ParamValue::Bool(true))
        .param("enforce_statfs", ParamValue::Int(1))
        .param("devfs_ruleset", ParamValue::Int(i64::from(ruleset.0)))
        .param("allow.raw_sockets", ParamValue::Bool(v.spec.raw_sockets))
        .param("ip4", ParamValue::Sys(sys(jail_net(&v.spec.network))))
        .param("ip6", ParamValue::Sys(sys(jail_net(&v.spec.network))))
        .param("sysvmsg", ParamValue::Sys(JailSys::New))
        .param("sysvsem", ParamValue::Sys(JailSys::New))
        .param("sysvshm", ParamValue::Sys(JailSys::New))
        .param("linux", ParamValue::Sys(JailSys::New))
        .param("linux.osname", ParamValue::Str("Linux".into()))
        .param("linux.osrelease", ParamValue::Str(v.osrelease.to_string()));
    // Encoding proves every parameter has the kernel's type and fits its limits.
    jail::codec::encode_create(&jspec, JailFlags::CREATE)?;
    let mut plan = Plan {
        name: name.into(),
        root,
        dataset: dataset.to_string(),
        ruleset,
        ruleset_provisional: provisional,
        template: template.to_string(),
        recipe_template,
        rules: rs,
        mounts,
        jail: jspec,
        nvidia_run: v.spec.nvidia_run.clone(),
        steps: Vec::new(),
        recipe: recipe.map(|r| (r.name.clone(), r.describe())),
    };
    plan.steps = crate::engine::steps::STEPS
        .iter()
        .map(|s| s.describe(v, &plan))
        .collect();
    Ok(plan)
}

pub(crate) fn render_pair(p: &jail::codec::IovPair) -> String {
    let name = String::from_utf8_lossy(&p.name[..p.name.len().saturating_sub(1)]).into_owned();
    match &p.value {
        None => name,
        Some(v)
            if name == "name"
                || name == "path"
                || name.contains("host")
                || name.starts_with("linux.os") =>
        {
            format!(
                "{name}=\"{}\"",
                String::from_utf8_lossy(&v[..v.len().saturating_sub(1)])
            )
        }
        Some(v) if v.len() == 4 => {
            let i = i32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
            match name.as_str() {
                "ip4" | "ip6" | "linux" | "sysvmsg" | "sysvsem" | "sysvshm" | "vnet" | "host" => {
                    let word = match i {
                        0 => "disable",
                        1 => "new",
                        _ => "inherit",
                    };
                    format!("{name}={word}")
                }
                _ => format!("{name}={i}"),
            }
        }
        Some(v) => format!("{name}=<{} bytes>", v.len()),
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "cudajail plan for jail \"{}\" at {} (dataset {})",
            self.name, self.root, self.dataset
        )?;
        if self.ruleset_provisional {
            writeln!(f, "devfs ruleset {} is the first candidate; on the host the first free number >= {} is used", self.ruleset, FIRST_RULESET)?;
        }
        writeln!(f, "nothing is changed by plan\n")?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "{:>2}. [{}] {}", i + 1, s.id, s.title)?;
            for a in &s.actions {
                writeln!(f, "      {a}")?;
            }
            writeln!(f, "      ({})", s.status)?;
        }
        if let Some((name, actions)) = &self.recipe {
            writeln!(
                f,
                "{:>2}. [recipe] {name} in the jail once it is up: the check, and whatever the recipe template lacks (a failure leaves the jail up; a re-run resumes)",
                self.steps.len() + 1
            )?;
            for a in actions {
                writeln!(f, "      {a}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn plan(spec: &Spec, used: &[RulesetId]) -> Plan {
        build(&spec.validate(None).unwrap(), used, true).unwrap()
    }

    #[test]
    fn default_plan_has_every_step_in_order() {
        let p = plan(&Spec::default(), &[]);
        let ids: Vec<&str> = p.steps.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "host",
                "template",
                "recipe-template",
                "dataset",
                "devfs",
                "mounts",
                "jail",
                "nvidia",
                "uvm",
                "verify"
            ]
        );
        assert_eq!(p.dataset, "zroot/cudajail/cuda");
        let text = p.to_string();
        for needle in [
            "add 100 hide",
            "path 'nvidiactl' unhide",
            "path 'nvidia[0-9]*' unhide",
            "tmpfs /dev/shm tmpfs rw,mode=1777,size=1g",
            "fdescfs /dev/fd fdescfs rw,linrdlnk",
            "linprocfs /proc linprocfs rw",
            "linsysfs /sys linsysfs rw",
            "devfs_ruleset=100",
            "linux=new",
            "linux.osrelease=\"6.8.0\"",
            "allow.noraw_sockets",
            "ip4=inherit",
            "persist",
            "enforce_statfs=1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn ruleset_never_clobbers_an_existing_one() {
        let p = plan(&Spec::default(), &[RulesetId(100), RulesetId(101)]);
        assert_eq!(p.ruleset, RulesetId(102));
        assert!(p.to_string().contains("devfs_ruleset=102"));
    }

    #[test]
    fn gpu_selection_reaches_the_ruleset() {
        let s = crate::spec::parse("gpus = [1]").unwrap();
        let t = plan(&s, &[]).to_string();
        assert!(t.contains("'nvidia1' unhide"));
        assert!(!t.contains("nvidia[0-9]*"));
    }
}
