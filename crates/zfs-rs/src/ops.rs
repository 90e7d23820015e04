//! The seam between dataset logic and ZFS.

use crate::error::Result;
use crate::types::{DatasetName, PropName, SnapshotName};

/// The ZFS verbs the jail workflow uses. Implemented over libzfs_core on FreeBSD and Linux, and
/// by `hostsim::SimHost` with the same origin/clone semantics.
///
/// # References
/// [zfs(8)](https://man.freebsd.org/cgi/man.cgi?query=zfs&sektion=8)
pub trait ZfsOps {
    /// `lzc_create`—Creates a filesystem with properties.
    fn create(&self, fs: &DatasetName, props: &[(PropName, String)]) -> Result<()>;
    /// `lzc_snapshot`—Takes snapshots atomically (all in one pool).
    fn snapshot(&self, snaps: &[SnapshotName]) -> Result<()>;
    /// `lzc_clone`—Clones a snapshot into a new filesystem.
    fn clone_snapshot(
        &self,
        fs: &DatasetName,
        origin: &SnapshotName,
        props: &[(PropName, String)],
    ) -> Result<()>;
    /// `lzc_destroy`—Destroys a filesystem (no children) or snapshot. `Busy` (`EBUSY`/`EEXIST`)
    /// while clones depend on a snapshot.
    fn destroy(&self, name: &str) -> Result<()>;
    /// `lzc_rollback_to`—Rolls back to a snapshot, which must be the latest.
    fn rollback(&self, snap: &SnapshotName) -> Result<()>;
    /// `lzc_exists`.
    fn exists(&self, name: &str) -> Result<bool>;
    /// Direct children (filesystems and snapshots) of a dataset.
    fn children(&self, fs: &DatasetName) -> Result<Vec<String>>;
    /// A property value, `None` when unset.
    fn get_prop(&self, ds: &DatasetName, prop: &PropName) -> Result<Option<String>>;
    /// Sets a property.
    fn set_prop(&self, ds: &DatasetName, prop: &PropName, value: &str) -> Result<()>;
    /// `ZFS_IOC_JAIL`—Attaches a filesystem to a jail (FreeBSD). The attachment vanishes with the jail.
    fn jail(&self, fs: &DatasetName, jid: i32) -> Result<()>;
    /// `ZFS_IOC_UNJAIL`.
    fn unjail(&self, fs: &DatasetName, jid: i32) -> Result<()>;
}
