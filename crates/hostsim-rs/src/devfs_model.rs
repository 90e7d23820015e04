//! What a devfs mount shows: hostsim's own reading of FreeBSD's `sys/fs/devfs/devfs_rule.c`,
//! written from that source and independent of devfs-rs's evaluator (which is what the
//! simulator checks).
//!
//! Modelled (each with a test below that fails if the rule is dropped):
//! - **Entries.** devfs holds a directory entry for every device node and every directory on a
//!   node's path (`pts` for `pts/0`), created by `devfs_populate` → `devfs_vmkdir`. The Linux
//!   ABI (`linux_common`) creates the device `shm/.mountpoint` at load
//!   (`linux_common_modevent` → `linux_dev_shm_create`, `sys/compat/linux/linux.c`), so
//!   every devfs then has a `shm` directory.
//! - **Matching** (`devfs_rule_match`, `devfs_rule_matchpath`): a `type` condition needs a device
//!   (a directory never matches one); a `path` condition is `fnmatch(pattern, name,
//!   FNM_PATHNAME)` on the device's name or, for a directory or link, on its full path below the
//!   mount (`devfs_fqpn`); the mount's root never matches; a rule without conditions matches
//!   every entry.
//! - **Running** (`devfs_rule_run`, `devfs_ruleset_applyde`): rules run in rule-number order;
//!   `hide` sets `DE_WHITEOUT`, `unhide` clears it; `include N` runs ruleset N's rules only while
//!   the remaining depth is > 0 (one less inside), starting from `vfs.devfs.rule_depth` (1 by
//!   default), so an include inside an included ruleset is ignored.
//! - **Lookup** (`devfs_lookupx`): a whited-out entry is not found (`ENOENT`), and an entry
//!   below a hidden directory cannot be reached either.
//!
//! `fnmatch` is `sysabi::fnmatch`, which sysabi's tests check against glibc's
//! `fnmatch(FNM_PATHNAME)`.

use devfs::types::{Action, Condition, DevType, Rule, RulesetId};
use std::collections::{BTreeMap, BTreeSet};

/// The device the Linux ABI creates in every devfs (`linux_dev_shm_create`).
pub const LINUX_SHM_NODE: &str = "shm/.mountpoint";

/// One devfs entry: a device (with its `D_*` class, if any) or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    device: bool,
    class: Option<DevType>,
}

/// Every entry of a devfs holding `devices`: the devices and the directories above them.
fn entries(devices: &[(String, Option<DevType>)]) -> Vec<Entry> {
    let mut dirs = BTreeSet::new();
    for (d, _) in devices {
        let mut acc = String::new();
        let comps: Vec<&str> = d.split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            dirs.insert(acc.clone());
        }
    }
    let mut v: Vec<Entry> = dirs
        .into_iter()
        .map(|path| Entry {
            path,
            device: false,
            class: None,
        })
        .collect();
    v.extend(devices.iter().map(|(p, c)| Entry {
        path: p.clone(),
        device: true,
        class: *c,
    }));
    v
}

fn rule_matches(rule: &Rule, e: &Entry) -> bool {
    rule.conditions.iter().all(|c| match c {
        // devfs_rule_match: DRC_DSWFLAGS needs a cdev; directories have none.
        Condition::Type(t) => e.device && e.class == Some(*t),
        Condition::Path(p) => sysabi::fnmatch::fnmatch(p, &e.path),
    })
}

fn run_ruleset(
    rulesets: &BTreeMap<RulesetId, Vec<Rule>>,
    id: RulesetId,
    e: &Entry,
    depth: u32,
    whiteout: &mut bool,
) {
    let Some(rules) = rulesets.get(&id) else {
        return;
    };
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by_key(|r| r.number.unwrap_or(0));
    for r in ordered {
        if !rule_matches(r, e) {
            continue;
        }
        for a in &r.actions {
            match a {
                Action::Hide => *whiteout = true,
                Action::Unhide => *whiteout = false,
                // devfs_rule_run: an include is followed only while depth > 0.
                Action::Include(inc) if depth > 0 => {
                    run_ruleset(rulesets, *inc, e, depth - 1, whiteout);
                }
                _ => {}
            }
        }
    }
}

/// The paths (devices and directories) a devfs mount with ruleset `ruleset` lets a lookup
/// reach, sorted. Ruleset 0 hides nothing.
pub fn reachable(
    devices: &[(String, Option<DevType>)],
    rulesets: &BTreeMap<RulesetId, Vec<Rule>>,
    ruleset: u16,
    depth: u32,
) -> Vec<String> {
    let all = entries(devices);
    let hidden: BTreeSet<String> = if ruleset == 0 {
        BTreeSet::new()
    } else {
        all.iter()
            .filter(|e| {
                let mut w = false;
                // devfs_rules_apply starts at vfs.devfs.rule_depth.
                run_ruleset(rulesets, RulesetId(ruleset), e, depth, &mut w);
                w
            })
            .map(|e| e.path.clone())
            .collect()
    };
    let mut out: Vec<String> = all
        .iter()
        .filter(|e| {
            // devfs_lookupx walks component by component: a hidden directory hides its subtree.
            let mut acc = String::new();
            e.path.split('/').all(|c| {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(c);
                !hidden.contains(&acc)
            })
        })
        .map(|e| e.path.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `path` is a directory in a devfs holding `devices`.
pub fn is_dir(devices: &[(String, Option<DevType>)], path: &str) -> bool {
    entries(devices).iter().any(|e| !e.device && e.path == path)
}

/// The stock rulesets of FreeBSD's `/etc/defaults/devfs.rules` (1 `devfsrules_hide_all`, 2
/// `devfsrules_unhide_basic`, 3 `devfsrules_unhide_login`, 4 `devfsrules_jail`, 5
/// `devfsrules_jail_vnet`), typed in from that file here rather than taken from devfs-rs.
pub fn stock_rulesets() -> BTreeMap<RulesetId, Vec<Rule>> {
    fn numbered(v: Vec<Rule>) -> Vec<Rule> {
        v.into_iter()
            .zip(1u16..)
            .map(|(mut r, i)| {
                r.number = Some(i * 100);
                r
            })
            .collect()
    }
    let unhide = |p: &str| Rule::unhide(p);
    let mut m = BTreeMap::new();
    m.insert(RulesetId(1), numbered(vec![Rule::hide_all()]));
    m.insert(
        RulesetId(2),
        numbered(
            ["null", "zero", "crypto", "random", "urandom"]
                .map(unhide)
                .to_vec(),
        ),
    );
    m.insert(
        RulesetId(3),
        numbered(
            [
                "ptyp*", "ttyp*", "ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr",
            ]
            .map(unhide)
            .to_vec(),
        ),
    );
    let jail = |extra: &[&str]| {
        let mut v = vec![
            Rule::include(RulesetId(1)),
            Rule::include(RulesetId(2)),
            Rule::include(RulesetId(3)),
        ];
        v.extend(["fuse", "zfs"].map(unhide));
        v.extend(extra.iter().map(|p| unhide(p)));
        numbered(v)
    };
    m.insert(RulesetId(4), jail(&[]));
    m.insert(RulesetId(5), jail(&["tap*", "vmnet*"]));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devs(names: &[&str]) -> Vec<(String, Option<DevType>)> {
        names.iter().map(|n| ((*n).to_string(), None)).collect()
    }

    fn ruleset(rules: Vec<Rule>) -> BTreeMap<RulesetId, Vec<Rule>> {
        let mut m = stock_rulesets();
        m.insert(
            RulesetId(100),
            rules
                .into_iter()
                .zip(1u16..)
                .map(|(mut r, i)| {
                    r.number = Some(i * 100);
                    r
                })
                .collect(),
        );
        m
    }

    #[test]
    fn directories_are_entries_and_hide_all_hides_them() {
        let d = devs(&["null", LINUX_SHM_NODE, "pts/0"]);
        let m = ruleset(vec![Rule::hide_all(), Rule::unhide("null")]);
        assert_eq!(reachable(&d, &m, 100, 1), ["null"]);
        assert!(is_dir(&d, "shm"));
        assert!(!is_dir(&d, "null"));
    }

    #[test]
    fn a_hidden_directory_hides_what_is_below_it() {
        // Unhiding only the node is not enough: the lookup stops at the hidden `pts`.
        let d = devs(&["pts/0"]);
        let m = ruleset(vec![Rule::hide_all(), Rule::unhide("pts/*")]);
        assert!(reachable(&d, &m, 100, 1).is_empty());
        let m = ruleset(vec![
            Rule::hide_all(),
            Rule::unhide("pts"),
            Rule::unhide("pts/*"),
        ]);
        assert_eq!(reachable(&d, &m, 100, 1), ["pts", "pts/0"]);
    }

    #[test]
    fn unhiding_shm_makes_the_linux_mount_point_reachable() {
        let d = devs(&["null", LINUX_SHM_NODE]);
        let m = ruleset(vec![Rule::hide_all(), Rule::unhide("shm")]);
        assert_eq!(reachable(&d, &m, 100, 1), ["shm"]);
    }

    #[test]
    fn type_conditions_never_match_directories() {
        let d = vec![("dri/card0".to_string(), Some(DevType::Disk))];
        let mut hide_disks = Rule::hide_all();
        hide_disks.conditions.push(Condition::Type(DevType::Disk));
        let m = ruleset(vec![hide_disks]);
        assert_eq!(reachable(&d, &m, 100, 1), ["dri"]);
    }

    #[test]
    fn includes_follow_the_depth() {
        let d = devs(&["null", "zfs"]);
        // Ruleset 4 includes 1 (hide all) and 2 (unhide null): both applied at depth 1.
        assert_eq!(reachable(&d, &stock_rulesets(), 4, 1), ["null", "zfs"]);
        // Ruleset 100 includes 4, whose includes are then one level too deep.
        let m = ruleset(vec![Rule::include(RulesetId(4))]);
        assert_eq!(reachable(&d, &m, 100, 1), ["null", "zfs"]);
        let m = ruleset(vec![Rule::hide_all(), Rule::include(RulesetId(4))]);
        assert_eq!(reachable(&d, &m, 100, 1), ["zfs"]);
        assert_eq!(reachable(&d, &m, 100, 2), ["null", "zfs"]);
    }

    #[test]
    fn ruleset_zero_and_missing_rulesets_hide_nothing() {
        let d = devs(&["null", "pts/0"]);
        assert_eq!(reachable(&d, &stock_rulesets(), 0, 1).len(), 3);
        assert_eq!(reachable(&d, &stock_rulesets(), 77, 1).len(), 3);
    }
}
