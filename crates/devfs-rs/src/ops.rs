//! The seam between devfs logic and the kernel.

use crate::error::Result;
use crate::types::{Rule, RuleId, RulesetId};
use std::path::Path;

/// The devfs rule verbs, each an ioctl on an fd of a mounted devfs (`mount` below). Rulesets
/// are global to the kernel; only the current ruleset is per mount.
///
/// # Privileges
/// Every verb needs `PRIV_DEVFS_RULE`: root on the host; jailed root is refused.
///
/// # References
/// [devfs(8)](https://man.freebsd.org/cgi/man.cgi?query=devfs&sektion=8), `sys/fs/devfs/devfs_rule.c`
///
/// ```
/// use devfs::{DevfsOps, Rule, RulesetId};
/// use std::path::Path;
/// // hostsim: a simulated FreeBSD 14 kernel with devfs on /dev (the real one is
/// // `devfs::DevfsHost`).
/// let h = hostsim::SimHost::freebsd14_with_gpus(1);
/// let dev = Path::new("/dev");
/// h.add_rule(dev, RulesetId(100), &Rule::hide_all()).unwrap();
/// let id = h.add_rule(dev, RulesetId(100), &Rule::unhide("nvidia0")).unwrap();
/// assert_eq!(id.rule, 200, "the kernel numbers rules last + 100");
/// assert_eq!(h.rules(dev, RulesetId(100)).unwrap().len(), 2);
/// assert!(h.rulesets(dev).unwrap().contains(&RulesetId(100)));
/// ```
pub trait DevfsOps {
    /// `DEVFSIO_RADD`—Adds `rule` to `ruleset` (creating the ruleset); returns its id.
    ///
    /// # Errors
    /// `AlreadyExists` (`EEXIST`), `NotFound` (`ESRCH`: included ruleset missing),
    /// `InvalidInput` (`EIO`: ruleset 0 on a mount without one; `ERANGE`: numbering overflow).
    fn add_rule(&self, mount: &Path, ruleset: RulesetId, rule: &Rule) -> Result<RuleId>;
    /// `DEVFSIO_RDEL`—Deletes one rule. `NotFound` (`ENOENT`) if absent.
    fn delete_rule(&self, mount: &Path, id: RuleId) -> Result<()>;
    /// `DEVFSIO_RGETNEXT` loop—The rules of a ruleset, in order (empty if it does not exist).
    fn rules(&self, mount: &Path, ruleset: RulesetId) -> Result<Vec<Rule>>;
    /// `DEVFSIO_SGETNEXT` loop—The rulesets that exist.
    fn rulesets(&self, mount: &Path) -> Result<Vec<RulesetId>>;
    /// `DEVFSIO_SUSE`—Makes `ruleset` the mount's current ruleset (applies to new nodes only).
    fn use_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()>;
    /// `DEVFSIO_SAPPLY`—Applies a ruleset to the mount's existing nodes.
    fn apply_ruleset(&self, mount: &Path, ruleset: RulesetId) -> Result<()>;
    /// `DEVFSIO_RAPPLY`—Applies one rule to the mount's existing nodes once, without storing it
    /// (devfs(8) `rule apply <rule>`).
    fn apply_rule(&self, mount: &Path, rule: &Rule) -> Result<()>;
}

/// Deletes a whole ruleset the only way the kernel allows: list, then delete rule by rule
/// (there is no `DEVFSIO_RSDEL`). Returns how many rules were deleted.
///
/// # Errors
/// The first failing delete; rules deleted before it stay deleted.
pub fn delete_ruleset(ops: &dyn DevfsOps, mount: &Path, ruleset: RulesetId) -> Result<usize> {
    let rules = ops.rules(mount, ruleset)?;
    for r in &rules {
        ops.delete_rule(
            mount,
            RuleId {
                ruleset,
                rule: r.number.unwrap_or(0),
            },
        )?;
    }
    Ok(rules.len())
}
