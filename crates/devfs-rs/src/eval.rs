//! Which device nodes a devfs mount shows under a ruleset (pure): the same function hostsim
//! uses, so the simulated host and the planner agree on visibility.

use crate::types::{Action, Condition, Rule, RulesetId};
use std::collections::BTreeMap;

pub use sysabi::fnmatch::fnmatch;

/// Does `rule`'s condition match node `name`? Type conditions need the node's cdevsw class,
/// which names alone do not carry: nodes are passed with their class, if any.
fn matches(rule: &Rule, name: &str, class: Option<crate::types::DevType>) -> bool {
    rule.conditions.iter().all(|c| match c {
        Condition::Path(p) => fnmatch(p, name),
        Condition::Type(t) => class == Some(*t),
    })
}

/// A device node as devfs lists it: its path below the devfs root and its device class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// `nvidia0`, `pts/3`, `dri/card0`.
    pub name: String,
    /// The `D_*` class of its cdevsw, when it is a device of that class.
    pub class: Option<crate::types::DevType>,
}

impl Node {
    /// A node without a special class.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.into(),
            class: None,
        }
    }
}

/// Applies `ruleset` to `nodes` the way devfs does on a fresh mount: every node starts visible;
/// rules run in rule-number order; `hide`/`unhide` set visibility; `include N` applies ruleset
/// N's own rules in place, following includes only `depth` levels deep (the kernel's
/// `vfs.devfs.rule_depth`, 1 by default, so includes inside an included ruleset are ignored).
/// Returns the visible node names, sorted.
pub fn visible(
    nodes: &[Node],
    rulesets: &BTreeMap<RulesetId, Vec<Rule>>,
    ruleset: RulesetId,
    depth: u32,
) -> Vec<String> {
    fn apply(
        rules: &[Rule],
        node: &Node,
        rulesets: &BTreeMap<RulesetId, Vec<Rule>>,
        depth: u32,
        shown: &mut bool,
    ) {
        let mut ordered: Vec<&Rule> = rules.iter().collect();
        ordered.sort_by_key(|r| r.number.unwrap_or(0));
        for r in ordered {
            if !matches(r, &node.name, node.class) {
                continue;
            }
            for a in &r.actions {
                match a {
                    Action::Hide => *shown = false,
                    Action::Unhide => *shown = true,
                    Action::Include(rs) if depth > 0 => {
                        if let Some(inner) = rulesets.get(rs) {
                            apply(inner, node, rulesets, depth - 1, shown);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let Some(rules) = rulesets.get(&ruleset) else {
        let mut all: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        all.sort();
        return all;
    };
    let mut out: Vec<String> = nodes
        .iter()
        .filter(|n| {
            let mut shown = true;
            apply(rules, n, rulesets, depth, &mut shown);
            shown
        })
        .map(|n| n.name.clone())
        .collect();
    out.sort();
    out
}

/// The stock rulesets 1–5 of `/etc/defaults/devfs.rules`, as rules (with the includes the
/// file has, unlike [`crate::Ruleset::jail_default`], which spells them out).
pub fn stock_rulesets() -> BTreeMap<RulesetId, Vec<Rule>> {
    use crate::types::{UNHIDE_BASIC, UNHIDE_LOGIN};
    let num = |v: Vec<Rule>| -> Vec<Rule> {
        v.into_iter()
            .zip(1u16..)
            .map(|(mut r, i)| {
                r.number = Some(i * 100);
                r
            })
            .collect()
    };
    let mut m = BTreeMap::new();
    m.insert(RulesetId(1), num(vec![Rule::hide_all()]));
    m.insert(
        RulesetId(2),
        num(UNHIDE_BASIC.iter().map(|p| Rule::unhide(p)).collect()),
    );
    let mut login: Vec<Rule> = ["ptyp*", "ttyp*"].iter().map(|p| Rule::unhide(p)).collect();
    login.extend(UNHIDE_LOGIN.iter().map(|p| Rule::unhide(p)));
    m.insert(RulesetId(3), num(login));
    let mut jail = vec![
        Rule::include(RulesetId(1)),
        Rule::include(RulesetId(2)),
        Rule::include(RulesetId(3)),
    ];
    jail.extend(["fuse", "zfs"].map(Rule::unhide));
    m.insert(RulesetId(4), num(jail));
    let mut vnet = (1..=4)
        .map(|i| Rule::include(RulesetId(i)))
        .collect::<Vec<_>>();
    vnet.push(Rule::unhide("pf"));
    m.insert(RulesetId(5), num(vnet));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{GpuSelection, Ruleset};
    use proptest::prelude::*;

    #[test]
    fn fnmatch_pathname_semantics() {
        assert!(fnmatch("nvidia*", "nvidia0"));
        assert!(fnmatch("nvidia*", "nvidiactl"));
        assert!(fnmatch("nvidia[0-9]*", "nvidia12"));
        assert!(!fnmatch("nvidia[0-9]*", "nvidiactl"));
        assert!(!fnmatch("nvidia[0-9]*", "nvidia-modeset"));
        assert!(!fnmatch("dri*", "dri/card0"), "* never crosses '/'");
        assert!(fnmatch("dri/*", "dri/card0"));
        assert!(fnmatch("tty?", "ttyv"));
        assert!(!fnmatch("a?b", "a/b"));
        assert!(fnmatch("[!a]x", "bx"));
        assert!(!fnmatch("[!a]x", "ax"));
        assert!(fnmatch("[x", "[x"), "malformed class is a literal");
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
    }

    fn dev() -> Vec<Node> {
        [
            "null",
            "zero",
            "random",
            "urandom",
            "crypto",
            "ptmx",
            "pts",
            "pts/0",
            "fd",
            "fd/0",
            "stdin",
            "stdout",
            "stderr",
            "mem",
            "kmem",
            "ada0",
            "nvidiactl",
            "nvidia0",
            "nvidia1",
            "nvidia-modeset",
            "dri",
            "dri/card0",
            "fuse",
            "zfs",
            "pf",
            "console",
        ]
        .iter()
        .map(|n| Node::new(n))
        .collect()
    }

    #[test]
    fn stock_jail_ruleset_hides_gpus() {
        let rs = stock_rulesets();
        // With the kernel default depth of 1, ruleset 4 follows its includes of 1, 2, 3.
        let v = visible(&dev(), &rs, RulesetId(4), 1);
        assert!(!v.contains(&"nvidia0".to_string()));
        assert!(!v.contains(&"mem".to_string()));
        assert!(
            v.contains(&"null".to_string())
                && v.contains(&"pts/0".to_string())
                && v.contains(&"zfs".to_string())
        );
        // Ruleset 5 includes 4, whose own includes are not followed at depth 1: it lists 1-3 itself.
        let v5 = visible(&dev(), &rs, RulesetId(5), 1);
        assert!(
            v5.contains(&"pf".to_string())
                && v5.contains(&"null".to_string())
                && !v5.contains(&"kmem".to_string())
        );
    }

    #[test]
    fn depth_limits_nested_includes() {
        let mut rs = stock_rulesets();
        rs.insert(
            RulesetId(30),
            vec![Rule {
                number: Some(100),
                ..Rule::include(RulesetId(4))
            }],
        );
        // Through 30 → 4 at depth 1, ruleset 4's own includes (hide all) are not followed.
        assert!(visible(&dev(), &rs, RulesetId(30), 1).contains(&"kmem".to_string()));
        assert!(!visible(&dev(), &rs, RulesetId(30), 2).contains(&"kmem".to_string()));
    }

    #[test]
    fn gpu_preset_with_one_gpu() {
        let mut rs = stock_rulesets();
        let g = Ruleset::gpu(RulesetId(100), "x", &GpuSelection::Only(vec![1]), false);
        rs.insert(g.id, g.rules);
        let v = visible(&dev(), &rs, RulesetId(100), 1);
        for n in ["nvidiactl", "nvidia-modeset", "nvidia1", "null", "pts/0"] {
            assert!(v.contains(&n.to_string()), "{n} should be visible: {v:?}");
        }
        for n in ["nvidia0", "dri/card0", "mem", "ada0", "console"] {
            assert!(!v.contains(&n.to_string()), "{n} should be hidden");
        }
    }

    #[test]
    fn no_ruleset_shows_everything() {
        assert_eq!(
            visible(&dev(), &BTreeMap::new(), RulesetId(0), 1).len(),
            dev().len()
        );
    }

    proptest! {
        #[test]
        fn fnmatch_never_panics(p in "\\PC{0,20}", n in "\\PC{0,20}") {
            let _ = fnmatch(&p, &n);
        }
        #[test]
        fn literal_patterns_match_themselves(n in "[a-z0-9/-]{0,20}") {
            prop_assert!(fnmatch(&n, &n));
        }
    }
}
