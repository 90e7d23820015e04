//! What an applied step did, so that a failed `up` can take it back, in reverse.

use super::Env;
use jail::Jid;
use kld::KldFileId;
use std::path::Path;

/// What one applied step did, so that it can be undone.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    Unload(Vec<(String, KldFileId)>),
    Destroy(Vec<String>),
    Ruleset(devfs::RulesetId),
    Unmount(Vec<String>),
    RemoveJail(Jid, jail::JailName),
    Files {
        root: String,
        files: Vec<String>,
    },
    Restore {
        root: String,
        rel: String,
        old: Option<Vec<u8>>,
        perm: rootfs::Perm,
    },
    /// A command run inside the jail (NVIDIA's uninstaller); its exit status is not checked.
    InJail {
        jail: jail::JailName,
        argv: Vec<String>,
    },
}

/// Undoes `undo` from the last entry to the first; returns every undo that failed (the rest
/// are still tried).
pub(crate) fn undo_all(env: &Env<'_>, undo: &mut Vec<Undo>) -> Vec<String> {
    let mut errors = Vec::new();
    while let Some(u) = undo.pop() {
        let r: anyhow::Result<()> = (|| {
            match u {
                Undo::Unload(v) => {
                    for (_, id) in v.iter().rev() {
                        env.kld.unload(*id, false)?;
                    }
                }
                Undo::Destroy(v) => {
                    for d in v.iter().rev() {
                        env.zfs.destroy(&zfs::ZfsName::parse(d)?)?;
                    }
                }
                Undo::Ruleset(id) => {
                    devfs::delete_ruleset(env.devfs, Path::new("/dev"), id).map_err(|e| {
                        anyhow::anyhow!("devfs ruleset {id} is left ({e}); the next `cudajail up` adopts it, or `devfs rule -s {id} delset`")
                    })?;
                }
                Undo::Unmount(v) => {
                    for on in v.iter().rev() {
                        env.mount.unmount(on, linuxulator::MountFlags::empty())?;
                    }
                }
                Undo::RemoveJail(j, name) => super::remove_jail(env, j, &name)?,
                Undo::Files { root, files } => {
                    for f in files.iter().rev() {
                        if env.view.exists(&format!("{root}/{f}")) {
                            env.fs.remove_beneath(&root, f)?;
                        }
                    }
                }
                Undo::InJail { jail, argv } => {
                    if let Some(j) = env.jail.get(&jail)? {
                        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
                        env.exec.exec(j.jid, &a)?;
                    }
                }
                Undo::Restore {
                    root,
                    rel,
                    old,
                    perm,
                } => match old {
                    Some(d) => env.fs.write_beneath(&root, &rel, &d, perm)?,
                    None => env.fs.remove_beneath(&root, &rel)?,
                },
            }
            Ok(())
        })();
        if let Err(e) = r {
            errors.push(format!("{e:#}"));
        }
    }
    errors
}
