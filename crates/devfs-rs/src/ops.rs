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
