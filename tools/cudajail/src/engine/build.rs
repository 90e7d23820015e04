//! Our C programs (the uvm shim, the CUDA check) built inside the jail, and what a failed
//! CUDA check means.

use super::Env;
use anyhow::bail;

/// A C program of ours built inside the jail with its own (Linux) compiler.
pub(crate) struct JailBuild<'a> {
    /// Where its source goes, relative to the root.
    pub(crate) source_rel: &'a str,
    /// The source.
    pub(crate) source: &'a str,
    /// The absolute path (inside the jail) of what the command builds.
    pub(crate) output: &'a str,
    /// The build command, run with `/bin/sh -c`.
    pub(crate) command: &'a str,
    /// What it is, for the error (`the uvm shim`).
    pub(crate) what: &'a str,
    /// Extra advice appended to the hint.
    pub(crate) also: &'a str,
}

/// Writes the source below `root` and runs the build in the jail; pushes every file it
/// created onto `files` (also on error, for the undo).
pub(crate) fn build_in_jail(
    env: &Env<'_>,
    root: &str,
    jid: jail::Jid,
    b: &JailBuild<'_>,
    files: &mut Vec<String>,
) -> anyhow::Result<()> {
    if let Some((dir, _)) = b.source_rel.rsplit_once('/') {
        env.fs.mkdir_beneath(root, dir, rootfs::Perm::DIR)?;
    }
    env.fs
        .write_beneath(root, b.source_rel, b.source.as_bytes(), rootfs::Perm::FILE)?;
    files.push(b.source_rel.to_string());
    let (code, out) = env.exec.exec(jid, &["/bin/sh", "-c", b.command])?;
    files.push(b.output.trim_start_matches('/').to_string());
    if code != 0 {
        bail!(
            "building {} inside the jail failed ({code}): {out}\nhint: install a compiler in the jail (apt-get install gcc libc6-dev){}",
            b.what,
            b.also
        );
    }
    Ok(())
}

/// What to do about a failed CUDA check.
pub(crate) fn probe_hint(e: &crate::shim::ProbeFailure, ruleset: impl std::fmt::Display) -> String {
    use crate::shim::ProbeFailure;
    match e {
        ProbeFailure::Cuda { step, .. } if step == "dlopen" || step == "dlsym" => {
            "the NVIDIA libraries in the jail are missing or incomplete: run `cudajail sync-driver`"
                .into()
        }
        ProbeFailure::Cuda { step, name, .. } if step == "cuInit" && name.contains("NO_DEVICE") => {
            format!("the jail does not see /dev/nvidiactl or /dev/nvidiaN: check devfs ruleset {ruleset}")
        }
        ProbeFailure::Cuda { name, .. }
            if name.contains("DRIVER_MISMATCH") || name.contains("INSUFFICIENT_DRIVER") =>
        {
            "the jail's NVIDIA libraries do not match the kernel module: run `cudajail sync-driver`"
                .into()
        }
        // Without /dev/nvidia-uvm, libcuda's cuInit answers 999 (measured on driver 580 with the
        // node removed, docs/gpu-h200-2026-11-27-no-uvm.log): the shim is what makes it work.
        ProbeFailure::Cuda { step, code, .. }
            if (step == "cuInit" && *code == 999)
                || step.starts_with("cuCtx")
                || step.starts_with("cuMem") =>
        {
            format!("CUDA cannot start without /dev/nvidia-uvm, which FreeBSD does not have: check that {} exists in the jail and is listed in its /etc/ld.so.preload (the uvm shim)", crate::shim::SHIM_PATH)
        }
        _ => format!(
            "run the check by hand: cudajail exec <jail> -- {}",
            crate::shim::PROBE_PATH
        ),
    }
}
