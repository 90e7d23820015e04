//! The seam between dataset logic and ZFS.

use crate::error::Result;
use crate::types::{DatasetName, PropName, SnapshotName, ZfsName};

/// The ZFS verbs the jail workflow uses. Implemented over libzfs_core on FreeBSD and Linux, and
/// by `hostsim::SimHost` with the same origin/clone semantics.
///
/// # References
/// [zfs(8)](https://man.freebsd.org/cgi/man.cgi?query=zfs&sektion=8)
///
/// ```
/// use zfs::{DatasetName, SnapshotName, ZfsName, ZfsOps};
/// // hostsim: a simulated pool `zroot` (the real backends are `zfs::cli::ZfsCli` and, with
/// // the OpenZFS headers, `LibZfs`).
/// let z = hostsim::SimHost::freebsd14_with_gpus(0);
/// let t = DatasetName::new("zroot/tmpl").unwrap();
/// z.create(&t, &[]).unwrap();
/// let snap = SnapshotName::new("zroot/tmpl@base").unwrap();
/// ZfsOps::snapshot(&z, std::slice::from_ref(&snap)).unwrap();
/// let jail = DatasetName::new("zroot/j1").unwrap();
/// z.clone_snapshot(&jail, &snap, &[]).unwrap();
/// // The snapshot cannot go while a clone depends on it.
/// assert!(z.destroy(&ZfsName::from(&snap)).is_err());
/// z.destroy(&ZfsName::from(&jail)).unwrap();
/// z.destroy(&ZfsName::parse("zroot/tmpl@base").unwrap()).unwrap();
/// assert!(!z.exists(&ZfsName::from(snap)).unwrap());
/// ```
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
    fn destroy(&self, name: &ZfsName) -> Result<()>;
    /// `lzc_rename`—Renames a filesystem (its children and snapshots follow). The new parent
    /// must exist; the new name must not.
    fn rename(&self, from: &DatasetName, to: &DatasetName) -> Result<()>;
    /// `lzc_promote`—Makes a clone independent of its origin: the origin's snapshots up to the
    /// clone point move to the clone, and the former origin becomes a clone of it.
    fn promote(&self, clone: &DatasetName) -> Result<()>;
    /// `lzc_rollback_to`—Rolls back to a snapshot, which must be the latest.
    fn rollback(&self, snap: &SnapshotName) -> Result<()>;
    /// `lzc_exists`.
    fn exists(&self, name: &ZfsName) -> Result<bool>;
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

/// Destroys a dataset with everything below it, in dependency order: child filesystems
/// (deepest first), then snapshots. A snapshot that clones depend on stops the walk with a
/// `Busy` error naming the clones, unless `with_clones`, which destroys those clones first (and
/// their own descendants). Returns what was destroyed, in order.
///
/// # Errors
/// The first failing destroy; what was destroyed before it stays destroyed.
pub fn destroy_recursive(
    ops: &dyn ZfsOps,
    ds: &DatasetName,
    with_clones: bool,
    clones_of: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for c in ops.children(ds)? {
        if !c.contains('@') {
            done.extend(destroy_recursive(
                ops,
                &DatasetName::new(&c)?,
                with_clones,
                clones_of,
            )?);
        }
    }
    for c in ops.children(ds)? {
        if c.contains('@') {
            let clones = clones_of(&c);
            if !clones.is_empty() {
                if !with_clones {
                    return Err(crate::Error::new(
                        crate::Op::Destroy,
                        sysabi::ErrorKind::Busy,
                        format!("snapshot {c} has dependent clones: {}", clones.join(", ")),
                    )
                    .subject(ds));
                }
                for cl in clones {
                    done.extend(destroy_recursive(
                        ops,
                        &DatasetName::new(&cl)?,
                        true,
                        clones_of,
                    )?);
                }
            }
            ops.destroy(&ZfsName::parse(&c)?)?;
            done.push(c);
        }
    }
    ops.destroy(&ZfsName::from(ds))?;
    done.push(ds.to_string());
    Ok(done)
}
