//! The call log's entries: what each seam call was asked to do, typed per verb.

use crate::Verb;
use devfs::{RuleId, RulesetId};
use jail::Jid;
use sysabi::Errno;
use zfs::{DatasetName, PropName, SnapshotName, ZfsName};

/// A call's arguments, one variant per [`Verb`], with the values the code under test passed
/// (names, specs, rules, numbers), so a test asserts on what was asked, not on a rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Args {
    /// `jail_set(JAIL_CREATE)` with the whole spec.
    JailCreate {
        spec: jail::JailSpec,
    },
    /// `jail_set(JAIL_UPDATE)`: the jail and the names of the parameters set.
    JailUpdate {
        jid: Jid,
        params: Vec<String>,
    },
    /// `jail_get` by name; `dying` with `JAIL_DYING`.
    JailGet {
        name: String,
        dying: bool,
    },
    JailList,
    JailRemove {
        jid: Jid,
    },
    /// A program run inside a jail.
    JailExec {
        jid: Jid,
        argv: Vec<String>,
    },
    /// `kldload` of the file name (directories stripped, as the kernel searches its path).
    KldLoad {
        file: String,
    },
    KldUnload {
        id: kld::KldFileId,
        force: bool,
    },
    KldFind {
        file: String,
    },
    KldModfind {
        module: String,
    },
    KldList,
    /// `sysctlbyname` read (value or description).
    SysctlGet {
        name: String,
    },
    SysctlSet {
        name: String,
        value: String,
    },
    /// `nmount` of `spec` below `root`.
    Mount {
        root: String,
        spec: linuxulator::MountSpec,
    },
    Unmount {
        target: String,
    },
    Mounts,
    DevfsAddRule {
        mount: String,
        ruleset: RulesetId,
        rule: devfs::Rule,
    },
    DevfsDeleteRule {
        mount: String,
        id: RuleId,
    },
    DevfsRules {
        mount: String,
        ruleset: RulesetId,
    },
    DevfsRulesets {
        mount: String,
    },
    DevfsUseRuleset {
        mount: String,
        ruleset: RulesetId,
    },
    DevfsApplyRule {
        mount: String,
        rule: devfs::Rule,
    },
    DevfsApplyRuleset {
        mount: String,
        ruleset: RulesetId,
    },
    ZfsCreate {
        dataset: DatasetName,
        props: Vec<(PropName, String)>,
    },
    ZfsSnapshot {
        snapshots: Vec<SnapshotName>,
    },
    ZfsClone {
        dataset: DatasetName,
        origin: SnapshotName,
        props: Vec<(PropName, String)>,
    },
    ZfsDestroy {
        name: ZfsName,
    },
    ZfsRollback {
        snapshot: SnapshotName,
    },
    ZfsRename {
        from: DatasetName,
        to: DatasetName,
    },
    ZfsPromote {
        clone: DatasetName,
    },
    ZfsExists {
        name: ZfsName,
    },
    ZfsChildren {
        dataset: DatasetName,
    },
    ZfsGetProp {
        dataset: DatasetName,
        prop: PropName,
    },
    ZfsSetProp {
        dataset: DatasetName,
        prop: PropName,
        value: String,
    },
    ZfsJail {
        dataset: DatasetName,
        jid: i32,
    },
    ZfsUnjail {
        dataset: DatasetName,
        jid: i32,
    },
    NvOpen {
        device: nvgpu::NvDevice,
    },
    NvEscape {
        device: nvgpu::NvDevice,
        nr: u8,
    },
    NvRmAlloc {
        class: u32,
    },
    NvRmControl {
        cmd: u32,
    },
    NvRmFree {
        object: u32,
    },
    FileMkdir {
        path: String,
    },
    FileWrite {
        path: String,
    },
    FileRemove {
        path: String,
    },
    FileRead {
        path: String,
    },
    Bootstrap {
        suite: String,
        dir: String,
        include: Vec<String>,
    },
}

impl Args {
    /// The verb (what fault injection counts).
    #[must_use]
    pub fn verb(&self) -> Verb {
        use Args as A;
        match self {
            A::JailCreate { .. } => Verb::JailCreate,
            A::JailUpdate { .. } => Verb::JailUpdate,
            A::JailGet { .. } => Verb::JailGet,
            A::JailList => Verb::JailList,
            A::JailRemove { .. } => Verb::JailRemove,
            A::JailExec { .. } => Verb::JailExec,
            A::KldLoad { .. } => Verb::KldLoad,
            A::KldUnload { .. } => Verb::KldUnload,
            A::KldFind { .. } => Verb::KldFind,
            A::KldModfind { .. } => Verb::KldModfind,
            A::KldList => Verb::KldList,
            A::SysctlGet { .. } => Verb::SysctlGet,
            A::SysctlSet { .. } => Verb::SysctlSet,
            A::Mount { .. } => Verb::Mount,
            A::Unmount { .. } => Verb::Unmount,
            A::Mounts => Verb::Mounts,
            A::DevfsAddRule { .. } => Verb::DevfsAddRule,
            A::DevfsDeleteRule { .. } => Verb::DevfsDeleteRule,
            A::DevfsRules { .. } => Verb::DevfsRules,
            A::DevfsRulesets { .. } => Verb::DevfsRulesets,
            A::DevfsUseRuleset { .. } => Verb::DevfsUseRuleset,
            A::DevfsApplyRule { .. } => Verb::DevfsApplyRule,
            A::DevfsApplyRuleset { .. } => Verb::DevfsApplyRuleset,
            A::ZfsCreate { .. } => Verb::ZfsCreate,
            A::ZfsSnapshot { .. } => Verb::ZfsSnapshot,
            A::ZfsClone { .. } => Verb::ZfsClone,
            A::ZfsDestroy { .. } => Verb::ZfsDestroy,
            A::ZfsRollback { .. } => Verb::ZfsRollback,
            A::ZfsRename { .. } => Verb::ZfsRename,
            A::ZfsPromote { .. } => Verb::ZfsPromote,
            A::ZfsExists { .. } => Verb::ZfsExists,
            A::ZfsChildren { .. } => Verb::ZfsChildren,
            A::ZfsGetProp { .. } => Verb::ZfsGetProp,
            A::ZfsSetProp { .. } => Verb::ZfsSetProp,
            A::ZfsJail { .. } => Verb::ZfsJail,
            A::ZfsUnjail { .. } => Verb::ZfsUnjail,
            A::NvOpen { .. } => Verb::NvOpen,
            A::NvEscape { .. } => Verb::NvEscape,
            A::NvRmAlloc { .. } => Verb::NvRmAlloc,
            A::NvRmControl { .. } => Verb::NvRmControl,
            A::NvRmFree { .. } => Verb::NvRmFree,
            A::FileMkdir { .. } => Verb::FileMkdir,
            A::FileWrite { .. } => Verb::FileWrite,
            A::FileRemove { .. } => Verb::FileRemove,
            A::FileRead { .. } => Verb::FileRead,
            A::Bootstrap { .. } => Verb::Bootstrap,
        }
    }

    /// The main argument as one line (jail name, module, path, dataset…): what `--sim`
    /// prints and error messages name.
    #[must_use]
    pub fn subject(&self) -> String {
        use Args as A;
        match self {
            A::JailCreate { spec } => spec.name.as_str().to_string(),
            A::JailUpdate { jid, .. } | A::JailRemove { jid } => jid.to_string(),
            A::JailGet { name, .. } => name.clone(),
            A::JailList | A::KldList | A::Mounts => String::new(),
            A::JailExec { argv, .. } => match argv.as_slice() {
                [sh, c, cmd] if sh == "/bin/sh" && c == "-c" => cmd.clone(),
                _ => argv.join(" "),
            },
            A::KldLoad { file } | A::KldFind { file } => file.clone(),
            A::KldUnload { id, .. } => id.0.to_string(),
            A::KldModfind { module } => module.clone(),
            A::SysctlGet { name } | A::SysctlSet { name, .. } => name.clone(),
            A::Mount { root, spec } => format!("{root}/{}", spec.target),
            A::Unmount { target } => target.clone(),
            A::DevfsAddRule { mount, .. }
            | A::DevfsDeleteRule { mount, .. }
            | A::DevfsRules { mount, .. }
            | A::DevfsRulesets { mount }
            | A::DevfsUseRuleset { mount, .. }
            | A::DevfsApplyRule { mount, .. }
            | A::DevfsApplyRuleset { mount, .. } => mount.clone(),
            A::ZfsCreate { dataset, .. }
            | A::ZfsClone { dataset, .. }
            | A::ZfsChildren { dataset }
            | A::ZfsGetProp { dataset, .. }
            | A::ZfsSetProp { dataset, .. }
            | A::ZfsJail { dataset, .. }
            | A::ZfsUnjail { dataset, .. }
            | A::ZfsRename { from: dataset, .. }
            | A::ZfsPromote { clone: dataset } => dataset.to_string(),
            A::ZfsSnapshot { snapshots } => snapshots
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            A::ZfsDestroy { name } | A::ZfsExists { name } => name.to_string(),
            A::ZfsRollback { snapshot } => snapshot.to_string(),
            A::NvOpen { device } => device.path(),
            A::NvEscape { device, nr } => format!("{} {nr:#x}", device.path()),
            A::NvRmAlloc { class } => format!("class {class:#x}"),
            A::NvRmControl { cmd } => format!("{cmd:#x}"),
            A::NvRmFree { object } => format!("{object:#x}"),
            A::FileMkdir { path }
            | A::FileWrite { path }
            | A::FileRemove { path }
            | A::FileRead { path } => path.clone(),
            A::Bootstrap { suite, dir, .. } => format!("{suite} {dir}"),
        }
    }
}

/// One logged call: its typed arguments and whether it failed (with which errno).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The verb (always `args.verb()`; kept as a field for filtering).
    pub verb: Verb,
    /// What was asked.
    pub args: Args,
    /// Whether it failed, and with which errno.
    pub failed: Option<Errno>,
}

impl Call {
    /// [`Args::subject`].
    #[must_use]
    pub fn subject(&self) -> String {
        self.args.subject()
    }
}
