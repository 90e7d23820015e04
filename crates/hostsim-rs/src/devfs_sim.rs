//! devfs rules and rulesets, after devfs_rule.c and devfs(8).
//!
//! Rules modelled: every verb needs an fd on a devfs mount (`ENOTTY` otherwise: the ioctl reaches
//! a vnode that does not know it); rulesets are global, the current ruleset is per mount;
//! RADD into ruleset 0 means the mount's current ruleset and is `EIO` when that is 0; rule
//! number 0 is numbered last + 100 (`ERANGE` past 65535); an existing rule id is `EEXIST`;
//! `include` of a missing ruleset is `ESRCH`; RDEL of a missing rule is `ENOENT`; a ruleset
//! emptied by RDEL and in use by no mount disappears ("reaped"); SUSE creates the ruleset.
//! What a devfs mount shows is [`devfs::eval::visible`] of its ruleset at depth
//! `vfs.devfs.rule_depth`. SUSE alone does not re-apply to existing nodes in the kernel; the
//! simulation evaluates visibility on demand, so it shows SUSE+SAPPLY's result (a simplification).

use crate::{Args, SimHost, State};
use devfs::{from_errno, DevfsOps, Op, Result, Rule, RuleId, RulesetId};
use std::path::Path;
use sysabi::Errno;

fn devfs_mount(s: &State, mount: &Path) -> std::result::Result<String, Errno> {
    let p = crate::fs::normalize(&mount.to_string_lossy());
    match s.mounts.get(&p).and_then(|v| v.last()) {
        Some(m) if m.fstype == "devfs" => Ok(p),
        _ => Err(Errno::ENOTTY),
    }
}

/// `DEVFS_MAXPTRNLEN` (sys/fs/devfs/devfs.h): the pattern buffer, NUL included.
const DEVFS_MAXPTRNLEN: usize = 200;

/// The rule as the kernel keeps it: `devfs_rule_input`'s callers copy the pattern into a
/// `DEVFS_MAXPTRNLEN` buffer and NUL-terminate it, so a longer pattern is cut (at a byte; the
/// simulation cuts at the last character boundary before it).
fn kernel_copy(rule: &Rule) -> Rule {
    let mut r = rule.clone();
    for c in &mut r.conditions {
        if let devfs::Condition::Path(p) = c {
            if p.len() > DEVFS_MAXPTRNLEN - 1 {
                let mut end = DEVFS_MAXPTRNLEN - 1;
                while !p.is_char_boundary(end) {
                    end -= 1;
                }
                p.truncate(end);
            }
        }
    }
    r
}

fn current(s: &State, mount: &str) -> u16 {
    s.mounts
        .get(mount)
        .and_then(|v| v.last())
        .and_then(|m| m.ruleset)
        .unwrap_or(0)
}

impl SimHost {
    /// The devices this host's devfs holds: the device list, and `shm/.mountpoint` while the
    /// Linux ABI is loaded (`linux_dev_shm_create`).
    pub(crate) fn devfs_devices(s: &State) -> Vec<(String, Option<devfs::types::DevType>)> {
        let mut v: Vec<(String, Option<devfs::types::DevType>)> = s
            .devices
            .iter()
            .map(|n| (n.name.clone(), n.class))
            .collect();
        if crate::kld_sim::module_loaded(s, "linux_common") {
            v.push((crate::devfs_model::LINUX_SHM_NODE.to_string(), None));
        }
        v
    }

    /// The entries (device nodes and directories) a devfs mount at `mount` lets a lookup
    /// reach now ([`crate::devfs_model::reachable`]).
    pub fn devfs_nodes(&self, mount: &str) -> Vec<String> {
        devfs_reachable(&self.st(), mount)
    }
}

/// [`SimHost::devfs_nodes`] on a locked state.
pub(crate) fn devfs_reachable(s: &State, mount: &str) -> Vec<String> {
    {
        let depth = s
            .sysctls
            .get("vfs.devfs.rule_depth")
            .and_then(|d| d.parse().ok())
            .unwrap_or(1);
        let mp = crate::fs::normalize(mount);
        let rs = current(s, &mp);
        let mut v =
            crate::devfs_model::reachable(&SimHost::devfs_devices(s), &s.rulesets, rs, depth);
        if let Some(o) = s.devfs_overrides.get(&mp) {
            v.retain(|n| o.get(n).copied().unwrap_or(true));
            let add: Vec<String> = o
                .iter()
                .filter(|(n, show)| **show && !v.contains(*n))
                .map(|(n, _)| n.clone())
                .collect();
            v.extend(add);
        }
        v.sort();
        v
    }
}

impl SimHost {
    fn devfs_enter(
        &self,
        args: Args,
        op: Op,
        mount: &Path,
    ) -> Result<(std::sync::MutexGuard<'_, State>, String)> {
        if let Some(e) = self.enter(args) {
            return Err(from_errno(op, e, mount.display()));
        }
        let s = self.st();
        match devfs_mount(&s, mount) {
            Ok(p) => Ok((s, p)),
            Err(e) => {
                self.failed(e);
                Err(from_errno(op, e, mount.display()).detail("not a devfs mount"))
            }
        }
    }
}

impl DevfsOps for SimHost {
    /// The kernel checks almost nothing in a rule (`devfs_rule_input` only the magic; the
    /// pattern is cut at `DEVFS_MAXPTRNLEN - 1`): a rule with no action, or with both hide and
    /// unhide, is stored as given. Refusing such rules is devfs(8)'s and our library's business.
    fn add_rule(&self, mount: &Path, ruleset: RulesetId, rule: &Rule) -> Result<RuleId> {
        let rule = &kernel_copy(rule);
        let (mut s, mp) = self.devfs_enter(
            Args::DevfsAddRule {
                mount: mount.to_string_lossy().into_owned(),
                ruleset,
                rule: rule.clone(),
            },
            Op::RuleAdd,
            mount,
        )?;
        let rs = if ruleset.0 == 0 {
            current(&s, &mp)
        } else {
            ruleset.0
        };
        let fail = |e: Errno| {
            self.failed(e);
            Err(from_errno(Op::RuleAdd, e, format!("{rs}")))
        };
        if rs == 0 {
            return fail(Errno::EIO);
        }
        for a in &rule.actions {
            if let devfs::Action::Include(inc) = a {
                if !s.rulesets.contains_key(inc) {
                    return fail(Errno::ESRCH);
                }
            }
        }
        let rules = s.rulesets.entry(RulesetId(rs)).or_default();
        let num = match rule.number {
            Some(n) if n != 0 => n,
            _ => {
                let last = rules.iter().filter_map(|r| r.number).max().unwrap_or(0);
                match last.checked_add(100) {
                    Some(n) => n,
                    None => return fail(Errno::ERANGE),
                }
            }
        };
        if rules.iter().any(|r| r.number == Some(num)) {
            return fail(Errno::EEXIST);
        }
        let mut r = rule.clone();
        r.number = Some(num);
        rules.push(r);
        rules.sort_by_key(|r| r.number);
        Ok(RuleId {
            ruleset: RulesetId(rs),
            rule: num,
        })
    }

    fn delete_rule(&self, mount: &Path, id: RuleId) -> Result<()> {
        let (mut s, mp) = self.devfs_enter(
            Args::DevfsDeleteRule {
                mount: mount.to_string_lossy().into_owned(),
                id,
            },
            Op::RuleDelete,
            mount,
        )?;
        let rs = if id.ruleset.0 == 0 {
            RulesetId(current(&s, &mp))
        } else {
            id.ruleset
        };
        let Some(rules) = s.rulesets.get_mut(&rs) else {
            self.failed(Errno::ENOENT);
            return Err(from_errno(Op::RuleDelete, Errno::ENOENT, id));
        };
        let n = rules.len();
        rules.retain(|r| r.number != Some(id.rule));
        if rules.len() == n {
            self.failed(Errno::ENOENT);
            return Err(from_errno(Op::RuleDelete, Errno::ENOENT, id));
        }
        let empty = rules.is_empty();
        let in_use = s.mounts.values().flatten().any(|m| m.ruleset == Some(rs.0));
        if empty && !in_use {
            s.rulesets.remove(&rs);
        }
        Ok(())
    }

    fn rules(&self, mount: &Path, ruleset: RulesetId) -> Result<Vec<Rule>> {
        let (s, mp) = self.devfs_enter(
            Args::DevfsRules {
                mount: mount.to_string_lossy().into_owned(),
                ruleset,
            },
            Op::RuleList,
            mount,
        )?;
        let rs = if ruleset.0 == 0 {
            RulesetId(current(&s, &mp))
        } else {
            ruleset
        };
        Ok(s.rulesets.get(&rs).cloned().unwrap_or_default())
    }

    fn rulesets(&self, mount: &Path) -> Result<Vec<RulesetId>> {
        let (s, _) = self.devfs_enter(
            Args::DevfsRulesets {
                mount: mount.to_string_lossy().into_owned(),
            },
            Op::RuleList,
            mount,
        )?;
        Ok(s.rulesets.keys().copied().collect())
    }

    fn use_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()> {
        let (mut s, mp) = self.devfs_enter(
            Args::DevfsUseRuleset {
                mount: mount.to_string_lossy().into_owned(),
                ruleset,
            },
            Op::RulesetUse,
            mount,
        )?;
        if ruleset.0 != 0 {
            s.rulesets.entry(ruleset).or_default();
        }
        if let Some(m) = s.mounts.get_mut(&mp).and_then(|v| v.last_mut()) {
            m.ruleset = Some(ruleset.0);
        }
        Ok(())
    }

    /// RAPPLY: the rule acts on the nodes now present. The simulation keeps per-mount node
    /// overrides so that a hidden node stays hidden until a ruleset is applied again.
    fn apply_rule(&self, mount: &Path, rule: &Rule) -> Result<()> {
        let rule = &kernel_copy(rule);
        let (mut s, mp) = self.devfs_enter(
            Args::DevfsApplyRule {
                mount: mount.to_string_lossy().into_owned(),
                rule: rule.clone(),
            },
            Op::RuleApply,
            mount,
        )?;
        let names: Vec<String> = s.devices.iter().map(|d| d.name.clone()).collect();
        let mut show = None;
        for a in &rule.actions {
            match a {
                devfs::Action::Hide => show = Some(false),
                devfs::Action::Unhide => show = Some(true),
                _ => {}
            }
        }
        if let Some(show) = show {
            let hit: Vec<String> = names
                .into_iter()
                .filter(|n| rule.path().is_none_or(|p| sysabi::fnmatch::fnmatch(p, n)))
                .collect();
            let o = s.devfs_overrides.entry(mp).or_default();
            for n in hit {
                o.insert(n, show);
            }
        }
        Ok(())
    }

    fn apply_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()> {
        let (mut s, mp) = self.devfs_enter(
            Args::DevfsApplyRuleset {
                mount: mount.to_string_lossy().into_owned(),
                ruleset,
            },
            Op::RulesetApply,
            mount,
        )?;
        if !s.rulesets.contains_key(&ruleset) {
            self.failed(Errno::ESRCH);
            return Err(from_errno(Op::RulesetApply, Errno::ESRCH, ruleset));
        }
        s.devfs_overrides.remove(&mp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::SimHost;
    use devfs::types::GpuSelection;
    use devfs::{DevfsOps, ErrorKind, Rule, RuleId, Ruleset, RulesetId};
    use std::path::Path;

    /// The kernel stores what devfs(8) sends: no action is fine (`devfs_rule_input` checks the
    /// magic only), a pattern is cut at `DEVFS_MAXPTRNLEN - 1`. (The library refuses such rules
    /// itself; the simulation must not do it for the library.)
    #[test]
    fn the_kernel_stores_rules_the_library_would_refuse() {
        let h = SimHost::freebsd14_with_gpus(0);
        let dev = Path::new("/dev");
        let no_action = Rule {
            number: Some(10),
            conditions: vec![devfs::Condition::Path("null".into())],
            actions: vec![],
        };
        h.add_rule(dev, RulesetId(50), &no_action).unwrap();
        let long = Rule {
            number: Some(20),
            conditions: vec![devfs::Condition::Path("x".repeat(250))],
            actions: vec![devfs::Action::Hide],
        };
        assert!(long.validate().is_err(), "the library refuses it");
        h.add_rule(dev, RulesetId(50), &long).unwrap();
        let got = h.rules(dev, RulesetId(50)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].path().map(str::len), Some(199));
    }

    #[test]
    fn gpu_ruleset_live_on_a_mount() {
        let h = SimHost::freebsd14_with_gpus(2);
        let dev = Path::new("/dev");
        assert!(
            h.devfs_nodes("/dev").contains(&"nvidia0".to_string()),
            "host /dev shows everything"
        );
        let rs = Ruleset::gpu(RulesetId(100), "cuda", &GpuSelection::Only(vec![1]), false);
        for r in &rs.rules {
            h.add_rule(dev, rs.id, r).unwrap();
        }
        h.use_ruleset(dev, rs.id).unwrap();
        h.apply_ruleset(dev, rs.id).unwrap();
        let v = h.devfs_nodes("/dev");
        assert!(v.contains(&"nvidia1".to_string()) && v.contains(&"nvidiactl".to_string()));
        assert!(!v.contains(&"nvidia0".to_string()) && !v.contains(&"mem".to_string()));
        assert_eq!(
            devfs::delete_ruleset(&h, dev, rs.id).unwrap(),
            rs.rules.len()
        );
        assert!(h.rules(dev, rs.id).unwrap().is_empty());
    }

    #[test]
    fn kernel_errors() {
        let h = SimHost::freebsd14_with_gpus(0);
        let dev = Path::new("/dev");
        assert_eq!(
            h.add_rule(dev, RulesetId(0), &Rule::hide_all())
                .unwrap_err()
                .errno(),
            Some(devfs::Errno::EIO)
        );
        assert_eq!(
            h.add_rule(dev, RulesetId(9), &Rule::include(RulesetId(77)))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        let id = h.add_rule(dev, RulesetId(9), &Rule::hide_all()).unwrap();
        assert_eq!(
            id,
            RuleId {
                ruleset: RulesetId(9),
                rule: 100
            }
        );
        assert_eq!(
            h.add_rule(dev, RulesetId(9), &Rule::unhide("null"))
                .unwrap()
                .rule,
            200
        );
        let mut dup = Rule::hide_all();
        dup.number = Some(100);
        assert_eq!(
            h.add_rule(dev, RulesetId(9), &dup).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        let mut top = Rule::hide_all();
        top.number = Some(65500);
        h.add_rule(dev, RulesetId(9), &top).unwrap();
        assert_eq!(
            h.add_rule(dev, RulesetId(9), &Rule::hide_all())
                .unwrap_err()
                .errno(),
            Some(devfs::Errno::ERANGE)
        );
        assert_eq!(
            h.delete_rule(
                dev,
                RuleId {
                    ruleset: RulesetId(9),
                    rule: 7
                }
            )
            .unwrap_err()
            .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            h.rules(Path::new("/tmp"), RulesetId(9))
                .unwrap_err()
                .errno(),
            Some(devfs::Errno::ENOTTY)
        );
        // Deleting every rule of an unused ruleset reaps it.
        devfs::delete_ruleset(&h, dev, RulesetId(9)).unwrap();
        assert!(!h.rulesets(dev).unwrap().contains(&RulesetId(9)));
    }
}
