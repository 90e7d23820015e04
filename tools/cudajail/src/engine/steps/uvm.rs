//! Step `uvm`: the shim that answers `/dev/nvidia-uvm` as unsupported (FreeBSD has no uvm
//! device), built inside the jail and preloaded for Linux processes through the jail's
//! `/etc/ld.so.preload`.

use super::{Check, Ctx, Outcome, Step, StepId};
use crate::engine::build::{build_in_jail, JailBuild};
use crate::engine::undo::Undo;
use crate::engine::{running_jid, Perm, READ_LIMIT};
use crate::plan::{Plan, StepPlan, IMPLEMENTED};
use crate::shim;
use crate::spec::Valid;

pub(super) struct Uvm;

/// What is in the jail now.
struct Found {
    preload: Option<Vec<u8>>,
    listed: bool,
    old_src: Option<Vec<u8>>,
    old_so: Option<Vec<u8>>,
    current: bool,
}

/// Reads the jail's files below its root: a symlink planted by the jail (to a host file) is an
/// error, never followed, so no host file is read into the jail.
fn look(cx: &Ctx<'_, '_>) -> anyhow::Result<Found> {
    let root = &cx.p.root;
    let read = |rel: &str| cx.env.fs.read_beneath(root, rel, READ_LIMIT);
    let preload = read("etc/ld.so.preload")?;
    let line = shim::preload_line();
    let listed = preload
        .as_deref()
        .is_some_and(|p| String::from_utf8_lossy(p).contains(line.trim()));
    let so_rel = shim::SHIM_PATH.trim_start_matches('/');
    let old_src = read(shim::SHIM_SOURCE_REL)?;
    let old_so = read(so_rel)?;
    // Built once, and again when this cudajail carries another version of the shim.
    let current = old_src.as_deref() == Some(shim::UVM_SHIM_C.as_bytes()) && old_so.is_some();
    Ok(Found {
        preload,
        listed,
        old_src,
        old_so,
        current,
    })
}

impl Step for Uvm {
    fn id(&self) -> StepId {
        StepId::Uvm
    }

    fn describe(&self, _v: &Valid, _p: &Plan) -> StepPlan {
        StepPlan::new(
            self.id(),
            "uvm shim for Linux processes",
            vec!["install the shim that answers /dev/nvidia-uvm as unsupported; preload it for Linux processes only".into()],
            IMPLEMENTED,
        )
    }

    fn check(&self, cx: &Ctx<'_, '_>) -> anyhow::Result<Check> {
        let f = look(cx)?;
        Ok(Check::done_if(f.listed && f.current))
    }

    fn apply(&self, cx: &mut Ctx<'_, '_>) -> anyhow::Result<Outcome> {
        let env = cx.env;
        let root = cx.p.root.clone();
        let f = look(cx)?;
        let src_rel = shim::SHIM_SOURCE_REL;
        let so_rel = shim::SHIM_PATH.trim_start_matches('/');
        if !f.current {
            let jid = running_jid(env, cx.p)?;
            // A failed rebuild puts the working shim back (restores run after the new files
            // are removed: the undo runs in reverse).
            for (rel, old, perm) in [
                (src_rel, f.old_src, Perm::FILE),
                (so_rel, f.old_so, Perm::DIR),
            ] {
                if old.is_some() {
                    cx.undo.push(Undo::Restore {
                        root: root.clone(),
                        rel: rel.to_string(),
                        old,
                        perm,
                    });
                }
            }
            let mut files = Vec::new();
            let res = build_in_jail(
                env,
                &root,
                jid,
                &JailBuild {
                    source_rel: src_rel,
                    source: shim::UVM_SHIM_C,
                    output: shim::SHIM_PATH,
                    command: shim::BUILD_COMMAND,
                    what: "the uvm shim",
                    also: "",
                },
                &mut files,
            );
            cx.undo.push(Undo::Files {
                root: root.clone(),
                files,
            });
            res?;
        }
        if !f.listed {
            let mut text = f.preload.clone().unwrap_or_default();
            text.extend_from_slice(shim::preload_line().as_bytes());
            env.fs
                .write_beneath(&root, "etc/ld.so.preload", &text, Perm::FILE)?;
            cx.undo.push(Undo::Restore {
                root,
                rel: "etc/ld.so.preload".into(),
                old: f.preload,
                perm: Perm::FILE,
            });
        }
        Ok(Outcome::Applied)
    }
}
