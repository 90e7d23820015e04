//! Dataset, snapshot and property names (pure), following the rules of zfs(8).

use crate::error::{Error, Op, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use sysabi::ErrorKind;

/// `ZFS_MAX_DATASET_NAME_LEN`: a full name including the NUL.
pub const ZFS_MAX_DATASET_NAME_LEN: usize = 256;

fn bad(what: &str, s: &str, why: &str) -> Error {
    Error::new(
        Op::Validate,
        ErrorKind::InvalidInput,
        format!("{what} {s:?}: {why}"),
    )
}

fn check_component(what: &str, whole: &str, c: &str) -> Result<()> {
    if c.is_empty() {
        return Err(bad(what, whole, "empty component"));
    }
    if c == "." || c == ".." {
        return Err(bad(what, whole, "'.' and '..' are not names"));
    }
    if let Some(ch) = c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':' | ' ')))
    {
        return Err(bad(
            what,
            whole,
            &format!("character {ch:?} is not allowed"),
        ));
    }
    Ok(())
}

/// A filesystem or volume name: `pool/a/b`. Components use letters, digits, `_ - . :` and
/// space; the pool name starts with a letter; the whole name is shorter than 256 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetName(String);

impl DatasetName {
    /// Validates a name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the rule.
    pub fn new(s: &str) -> Result<DatasetName> {
        if s.len() >= ZFS_MAX_DATASET_NAME_LEN {
            return Err(bad("dataset", s, "longer than 255 bytes"));
        }
        if s.contains('@') || s.contains('#') {
            return Err(bad(
                "dataset",
                s,
                "'@' and '#' belong to snapshots and bookmarks",
            ));
        }
        for c in s.split('/') {
            check_component("dataset", s, c)?;
        }
        if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(bad("dataset", s, "the pool name must start with a letter"));
        }
        Ok(DatasetName(s.to_string()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The pool.
    pub fn pool(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }
    /// A child dataset.
    ///
    /// # Errors
    /// When the result is not a valid name.
    pub fn child(&self, name: &str) -> Result<DatasetName> {
        if name.contains('/') {
            return Err(bad("dataset component", name, "must not contain '/'"));
        }
        DatasetName::new(&format!("{}/{name}", self.0))
    }
    /// A snapshot of this dataset.
    ///
    /// # Errors
    /// When the result is not a valid name.
    pub fn snapshot(&self, snap: &str) -> Result<SnapshotName> {
        SnapshotName::new(&format!("{}@{snap}", self.0))
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for DatasetName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        DatasetName::new(&s)
    }
}
impl From<DatasetName> for String {
    fn from(d: DatasetName) -> String {
        d.0
    }
}

/// A dataset or a snapshot: what `zfs destroy` and `lzc_exists` take. Built from the typed
/// names (`ZfsName::from(&ds)`) or parsed (`@` makes a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZfsName {
    /// A filesystem or volume.
    Dataset(DatasetName),
    /// A snapshot.
    Snapshot(SnapshotName),
}

impl ZfsName {
    /// Validates a dataset or snapshot name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`].
    pub fn parse(s: &str) -> Result<ZfsName> {
        if s.contains('@') {
            SnapshotName::new(s).map(ZfsName::Snapshot)
        } else {
            DatasetName::new(s).map(ZfsName::Dataset)
        }
    }
}

impl fmt::Display for ZfsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZfsName::Dataset(d) => d.fmt(f),
            ZfsName::Snapshot(s) => s.fmt(f),
        }
    }
}
impl From<DatasetName> for ZfsName {
    fn from(d: DatasetName) -> ZfsName {
        ZfsName::Dataset(d)
    }
}
impl From<&DatasetName> for ZfsName {
    fn from(d: &DatasetName) -> ZfsName {
        ZfsName::Dataset(d.clone())
    }
}
impl From<SnapshotName> for ZfsName {
    fn from(s: SnapshotName) -> ZfsName {
        ZfsName::Snapshot(s)
    }
}
impl From<&SnapshotName> for ZfsName {
    fn from(s: &SnapshotName) -> ZfsName {
        ZfsName::Snapshot(s.clone())
    }
}

/// A snapshot name: `pool/fs@snap`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnapshotName {
    dataset: DatasetName,
    snap: String,
}

impl SnapshotName {
    /// Validates a name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`].
    pub fn new(s: &str) -> Result<SnapshotName> {
        let (ds, snap) = s
            .split_once('@')
            .ok_or_else(|| bad("snapshot", s, "missing '@'"))?;
        if s.len() >= ZFS_MAX_DATASET_NAME_LEN {
            return Err(bad("snapshot", s, "longer than 255 bytes"));
        }
        if snap.contains('@') || snap.contains('/') {
            return Err(bad(
                "snapshot",
                s,
                "the snapshot part must not contain '@' or '/'",
            ));
        }
        check_component("snapshot", s, snap)?;
        Ok(SnapshotName {
            dataset: DatasetName::new(ds)?,
            snap: snap.to_string(),
        })
    }
    /// The dataset.
    pub fn dataset(&self) -> &DatasetName {
        &self.dataset
    }
    /// The part after `@`.
    pub fn snap(&self) -> &str {
        &self.snap
    }
}

impl fmt::Display for SnapshotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.dataset, self.snap)
    }
}
impl TryFrom<String> for SnapshotName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        SnapshotName::new(&s)
    }
}
impl From<SnapshotName> for String {
    fn from(d: SnapshotName) -> String {
        d.to_string()
    }
}

/// A property name: a native one (`mountpoint`) or a user property (`cudajail:journal`), which
/// must contain a `:` and use lowercase letters, digits and `: + . _ -`, at most 256 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PropName(String);

impl PropName {
    /// Validates a property name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`].
    pub fn new(s: &str) -> Result<PropName> {
        if s.is_empty() || s.len() > 256 {
            return Err(bad("property", s, "must be 1..256 bytes"));
        }
        if let Some(c) = s.chars().find(|c| {
            !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, ':' | '+' | '.' | '_' | '-'))
        }) {
            return Err(bad(
                "property",
                s,
                &format!("character {c:?} is not allowed"),
            ));
        }
        Ok(PropName(s.to_string()))
    }
    /// A `cudajail:<key>` user property.
    ///
    /// # Errors
    /// When `key` has characters a property name cannot hold.
    pub fn cudajail(key: &str) -> Result<PropName> {
        PropName::new(&format!("cudajail:{key}"))
    }
    /// True for user properties (names with `:`).
    pub fn is_user(&self) -> bool {
        self.0.contains(':')
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dataset_rules() {
        let d = DatasetName::new("zroot/cudajail/cuda").unwrap();
        assert_eq!(d.pool(), "zroot");
        assert_eq!(
            d.snapshot("base").unwrap().to_string(),
            "zroot/cudajail/cuda@base"
        );
        for b in [
            "",
            "/zroot",
            "zroot/",
            "zroot//a",
            "zroot/../x",
            "zroot@s",
            "1pool",
            "zroot/a\0",
            "zroot/a*",
            &"z".repeat(256),
        ] {
            assert!(DatasetName::new(b).is_err(), "{b:?}");
        }
        assert!(d.child("a/b").is_err());
    }

    #[test]
    fn snapshot_and_prop_rules() {
        assert!(SnapshotName::new("zroot/t@base").is_ok());
        for b in ["zroot/t", "zroot/t@", "zroot/t@a@b", "zroot/t@a/b", "@x"] {
            assert!(SnapshotName::new(b).is_err(), "{b:?}");
        }
        assert!(PropName::cudajail("journal").unwrap().is_user());
        assert!(PropName::new("Mountpoint").is_err());
    }

    proptest! {
        #[test]
        fn names_never_panic_and_round_trip(s in "\\PC{0,60}") {
            if let Ok(d) = DatasetName::new(&s) { prop_assert_eq!(DatasetName::new(d.as_str()).unwrap(), d); }
            if let Ok(n) = SnapshotName::new(&s) { prop_assert_eq!(SnapshotName::new(&n.to_string()).unwrap(), n); }
            let _ = PropName::new(&s);
        }
    }
}
