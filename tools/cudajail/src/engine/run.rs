//! `cudajail run`: a Linux CUDA program straight under the Linuxulator, no jail (the
//! nv-sglrun route), and the explicit host-wide install of the uvm shim.

use super::nvlib::{host_driver_version, host_nvidia_libs};
use super::Env;
use crate::plan::HOST_MODULES;
use anyhow::{anyhow, bail};

/// What `cudajail run` needs on the host for a Linux CUDA program under the Linuxulator, without
/// a jail (the nv-sglrun route): the Linux ABI and file systems, NVIDIA's Linux libraries of the
/// kernel module's version under `compat.linux.emul_path`, tmpfs on its `/dev/shm`, and the uvm
/// shim built there. Installs what is missing and can be installed; returns what it did. The
/// shim is not installed for every program: `cudajail run` preloads it into the program it
/// starts ([`RUN_PRELOAD`]); [`run_install_shim`] is the explicit, reversible global choice.
///
/// # Errors
/// A failing readiness check that cannot be fixed here (named with its fix), or no compiler in
/// the Linux root to build the shim.
pub fn run_prepare(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let mut did = Vec::new();
    let loaded = kld::ensure_loaded(env.kld, HOST_MODULES)?;
    did.extend(loaded.loaded.iter().map(|(f, _)| format!("kldload {f}")));
    let emul = env
        .sysctl
        .get("compat.linux.emul_path")?
        .ok_or_else(|| anyhow!("compat.linux.emul_path unreadable after loading linux64"))?;
    if !env.view.exists(&emul) {
        bail!("{emul} does not exist: install a Linux userland there (pkg install linux_base-rl9) first");
    }
    // Same rule as in jails: the Linux libraries must be the kernel module's version.
    let ver = host_driver_version(env)?;
    let (_, libs) = host_nvidia_libs(env)?;
    if !libs.iter().any(|l| l.2 == ver) {
        let other: Vec<&str> = libs.iter().map(|l| l.2.as_str()).collect();
        bail!(
            "no NVIDIA Linux libraries of version {ver} under {emul} (found: {}); pkg install linux-nvidia-libs of the same version as nvidia-driver",
            if other.is_empty() { "none".to_string() } else { other.join(", ") }
        );
    }
    let shm = format!("{}/dev/shm", emul.trim_end_matches('/'));
    if !env
        .mount
        .mounts()?
        .iter()
        .any(|m| m.on == shm && m.fstype == "tmpfs")
    {
        let spec = linuxulator::linux_mount_set(0, None, &[])
            .into_iter()
            .find(|m| m.fstype == "tmpfs")
            .ok_or_else(|| anyhow!("no tmpfs in the mount set"))?;
        env.fs
            .mkdir_beneath(&emul, &spec.target, rootfs::Perm::DIR)?;
        env.mount.mount(&emul, &spec)?;
        did.push(format!("mounted tmpfs on {shm}"));
    }
    let so = format!("{}{}", emul.trim_end_matches('/'), crate::shim::SHIM_PATH);
    if !env.view.exists(&so) {
        bail!(
            "the uvm shim is not built under {emul}: build it with the Linux compiler there, e.g.\n  chroot {emul} /bin/sh -c '{}'\n(the source is `cudajail shim-source`)",
            crate::shim::BUILD_COMMAND
        );
    }
    Ok(did)
}

/// The environment `cudajail run` gives the program it starts: the uvm shim preloaded into it
/// alone (the Linuxulator finds the path under `compat.linux.emul_path` first), as nv-sglrun
/// does for its programs.
pub const RUN_PRELOAD: (&str, &str) = ("LD_PRELOAD", crate::shim::SHIM_PATH);

fn emul_root(env: &Env<'_>) -> anyhow::Result<String> {
    env.sysctl
        .get("compat.linux.emul_path")?
        .ok_or_else(|| anyhow!("compat.linux.emul_path unreadable: kldload linux64 first"))
}

/// Whether `<emul_path>/etc/ld.so.preload` loads the uvm shim into every Linux program.
///
/// # Errors
/// The sysctl or the file unreadable.
pub fn shim_installed_globally(env: &Env<'_>) -> anyhow::Result<bool> {
    let emul = emul_root(env)?;
    let text = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .any(|l| l.trim() == crate::shim::SHIM_PATH))
}

/// `cudajail run --install-shim`: adds the shim to `<emul_path>/etc/ld.so.preload`, so that
/// every Linux program on the host loads it (read by Linux's dynamic linker only; FreeBSD
/// programs never load it). Reversed by [`run_uninstall_shim`].
///
/// # Errors
/// The shim not built there; file errors.
pub fn run_install_shim(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let emul = emul_root(env)?;
    let so = format!("{}{}", emul.trim_end_matches('/'), crate::shim::SHIM_PATH);
    if !env.view.exists(&so) {
        bail!("the uvm shim is not built under {emul}: `cudajail run` says how to build it");
    }
    if shim_installed_globally(env)? {
        return Ok(Vec::new());
    }
    let mut text = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    text.extend_from_slice(crate::shim::preload_line().as_bytes());
    env.fs.mkdir_beneath(&emul, "etc", rootfs::Perm::DIR)?;
    env.fs
        .write_beneath(&emul, "etc/ld.so.preload", &text, rootfs::Perm::FILE)?;
    Ok(vec![format!(
        "added the uvm shim to {}/etc/ld.so.preload: every Linux program on this host loads it \
         now (`cudajail run --uninstall-shim` takes it out)",
        emul.trim_end_matches('/')
    )])
}

/// `cudajail run --uninstall-shim`: takes the shim's line out of `<emul_path>/etc/ld.so.preload`
/// (the file goes when nothing else is left in it).
///
/// # Errors
/// File errors.
pub fn run_uninstall_shim(env: &Env<'_>) -> anyhow::Result<Vec<String>> {
    let emul = emul_root(env)?;
    let Some(text) = env
        .fs
        .read_beneath(&emul, "etc/ld.so.preload", rootfs::READ_LIMIT)?
    else {
        return Ok(Vec::new());
    };
    let s = String::from_utf8_lossy(&text);
    let kept: Vec<&str> = s
        .lines()
        .filter(|l| l.trim() != crate::shim::SHIM_PATH)
        .collect();
    if kept.len() == s.lines().count() {
        return Ok(Vec::new());
    }
    let path = format!("{}/etc/ld.so.preload", emul.trim_end_matches('/'));
    if kept.iter().all(|l| l.trim().is_empty()) {
        env.fs.remove_beneath(&emul, "etc/ld.so.preload")?;
        return Ok(vec![format!("removed {path} (it held only the uvm shim)")]);
    }
    let mut out = kept.join("\n");
    out.push('\n');
    env.fs.write_beneath(
        &emul,
        "etc/ld.so.preload",
        out.as_bytes(),
        rootfs::Perm::FILE,
    )?;
    Ok(vec![format!("took the uvm shim out of {path}")])
}
