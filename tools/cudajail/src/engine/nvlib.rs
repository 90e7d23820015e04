//! The NVIDIA userspace inside a jail: the host driver version, the Linux libraries of that
//! version, NVIDIA's `.run` installer, `ldconfig`, and `sync-driver`.

use super::{running_jid, Env, Perm};
use crate::plan::Plan;
use anyhow::{anyhow, bail, Context};

pub(crate) fn host_driver_version(env: &Env<'_>) -> anyhow::Result<String> {
    if let Some(t) = env.sysctl.get("hw.nvidia.version")? {
        if let Some(v) = nvgpu::codec::parse_sysctl_version(&t) {
            return Ok(v);
        }
    }
    Ok(nvgpu::Driver::open(env.nv)
        .context("asking the NVIDIA driver its version")?
        .version()
        .to_string())
}

/// One NVIDIA Linux library on the host: directory, file name, version.
pub(crate) type HostLib = (String, String, String);

/// The Linux root (`compat.linux.emul_path`) and the NVIDIA Linux libraries in it.
pub(crate) fn host_nvidia_libs(env: &Env<'_>) -> anyhow::Result<(String, Vec<HostLib>)> {
    let emul = env
        .sysctl
        .get("compat.linux.emul_path")?
        .unwrap_or_else(|| "/compat/linux".into());
    let mut out = Vec::new();
    for d in ["usr/lib64", "usr/lib/x86_64-linux-gnu"] {
        let dir = format!("{}/{d}", emul.trim_end_matches('/'));
        for f in env.view.read_dir(&dir) {
            if let Some(v) = nvidia_lib_version(&f) {
                out.push((dir.clone(), f.clone(), v.to_string()));
            }
        }
    }
    Ok((emul, out))
}

/// `libcuda.so.580.95.05` → `580.95.05` (any `lib*nvidia*` or `libcuda` library with a full version).
pub fn nvidia_lib_version(file: &str) -> Option<&str> {
    if !(file.starts_with("libcuda.so.")
        || file.starts_with("libnvidia-")
        || file.starts_with("libnvcuvid.so."))
    {
        return None;
    }
    let (_, v) = file.split_once(".so.")?;
    (v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(v)
}

/// Where the NVIDIA libraries go inside the Linux root.
pub const NV_LIB_DEST: &str = "usr/lib/x86_64-linux-gnu";

/// Copies the host's NVIDIA Linux libraries of exactly the kernel module's version into `root`,
/// pushing each file it wrote onto `files` (also on error, for the undo).
pub(crate) fn install_nvidia(
    env: &Env<'_>,
    root: &str,
    files: &mut Vec<String>,
) -> anyhow::Result<String> {
    let ver = host_driver_version(env)?;
    let (emul, libs) = host_nvidia_libs(env)?;
    let wanted: Vec<&HostLib> = libs.iter().filter(|l| l.2 == ver).collect();
    if wanted.is_empty() {
        let other: Vec<&str> = libs.iter().map(|l| l.2.as_str()).collect();
        if other.is_empty() {
            bail!("no NVIDIA Linux libraries under {emul}: pkg install linux-nvidia-libs (version {ver}, the kernel module's)");
        }
        bail!(
            "the NVIDIA Linux libraries under {emul} are version {}, the kernel module is {ver}: they must match exactly; upgrade linux-nvidia-libs together with nvidia-driver",
            other.join(", ")
        );
    }
    let missing: Vec<&HostLib> = wanted
        .into_iter()
        .filter(|(_, f, _)| !env.view.exists(&format!("{root}/{NV_LIB_DEST}/{f}")))
        .collect();
    if !missing.is_empty() {
        env.fs.mkdir_beneath(root, NV_LIB_DEST, Perm::DIR)?;
    }
    for (dir, f, _) in missing {
        let rel = format!("{NV_LIB_DEST}/{f}");
        // Shared libraries as Debian ships them: 0644 root:root.
        env.fs
            .copy_in(&format!("{dir}/{f}"), root, &rel, Perm::FILE)?;
        files.push(rel);
    }
    Ok(ver)
}

/// Runs the Linux `ldconfig` inside the running jail so the copied NVIDIA libraries get their
/// soname links (`libcuda.so.1` → `libcuda.so.<version>`, which is what CUDA programs load),
/// when `installed` is set or `libcuda.so.1` does not resolve. Returns whether it ran.
///
/// # Errors
/// The jail is not running, or ldconfig failed.
pub(crate) fn link_nvidia_libs(env: &Env<'_>, p: &Plan, installed: bool) -> anyhow::Result<bool> {
    let link = format!("{}/{NV_LIB_DEST}/libcuda.so.1", p.root);
    if !installed && env.view.exists(&link) {
        return Ok(false);
    }
    let jid = running_jid(env, p)?;
    let (code, out) = env.exec.exec(jid, &["/sbin/ldconfig"])?;
    if code != 0 {
        bail!("ldconfig inside the jail failed ({code}): {out}\nhint: the Linux root needs libc-bin (it provides /sbin/ldconfig)");
    }
    if !env.view.exists(&link) {
        bail!("after ldconfig there is still no /{NV_LIB_DEST}/libcuda.so.1 in the jail");
    }
    Ok(true)
}

/// The flags NVIDIA's installer gets inside the jail: userspace only, no questions, nothing
/// that needs a Linux kernel (module, modprobe, depmod, systemd, X or nouveau checks).
pub const RUN_FLAGS: &[&str] = &[
    "--silent",
    "--no-kernel-module",
    "--no-kernel-module-source",
    "--no-nvidia-modprobe",
    "--skip-depmod",
    "--no-systemd",
    "--no-x-check",
    "--no-nouveau-check",
    "--no-cc-version-check",
    "--no-check-for-alternate-installs",
    "--install-libglvnd",
    "--no-backup",
];

/// Where NVIDIA's installer puts its uninstaller inside the jail.
pub(crate) const NV_UNINSTALL: &[&str] = &["/usr/bin/nvidia-installer", "--uninstall", "--silent"];

/// Installs the NVIDIA userspace by running NVIDIA's `.run` installer inside the running jail:
/// refuses a version other than the kernel module's, copies the installer below the root's
/// `/tmp`, runs it with [`RUN_FLAGS`] and removes the copy. Returns whether it ran (it does not
/// when `libcuda.so.<version>` is already there); `ran` is set as soon as the installer started,
/// also on error, so that the caller can undo.
pub(crate) fn install_nvidia_run(
    env: &Env<'_>,
    p: &Plan,
    run: &str,
    ran: &mut bool,
) -> anyhow::Result<bool> {
    let ver = host_driver_version(env)?;
    let run_ver = crate::spec::run_file_version(run)
        .ok_or_else(|| anyhow!("{run}: not named NVIDIA-Linux-x86_64-<version>.run"))?;
    if run_ver != ver {
        bail!(
            "{run} is driver {run_ver}, the kernel module is {ver}: they must match exactly; download NVIDIA-Linux-x86_64-{ver}.run"
        );
    }
    let lib = format!("{}/{NV_LIB_DEST}/libcuda.so.{ver}", p.root);
    if env.view.exists(&lib) {
        return Ok(false);
    }
    let jid = running_jid(env, p)?;
    let file = run.rsplit('/').next().unwrap_or("nvidia.run");
    // The jail's /tmp is writable by every jail user: the installer goes into a directory made
    // fresh for it (mkdirat fails if the name was planted), 0700 root, so no jail user can
    // replace or rewrite it before jail root runs it.
    let dir = private_install_dir(env, &p.root)?;
    let rel = format!("{dir}/{file}");
    let res = (|| -> anyhow::Result<(i32, String)> {
        env.fs.copy_in(run, &p.root, &rel, Perm::PRIVATE_EXEC)?;
        let script = format!("/{rel}");
        let mut argv = vec!["/bin/sh", script.as_str()];
        argv.extend_from_slice(RUN_FLAGS);
        *ran = true;
        Ok(env.exec.exec(jid, &argv)?)
    })();
    let removed = match env.fs.remove_beneath(&p.root, &rel) {
        Err(e) if e.kind() == rootfs::ErrorKind::NotFound => Ok(()),
        r => r,
    }
    .and_then(|()| env.fs.remove_dir_beneath(&p.root, &dir));
    let (code, out) = res?;
    removed?;
    if code != 0 {
        let tail: Vec<&str> = out.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "NVIDIA's installer failed inside the jail ({code}): {}\nhint: its log is /var/log/nvidia-installer.log inside the jail; it needs kmod and a shell (apt-get install kmod)",
            tail.join("\n")
        );
    }
    if !env.view.exists(&lib) {
        bail!(
            "NVIDIA's installer finished, but /{NV_LIB_DEST}/libcuda.so.{ver} is not in the jail"
        );
    }
    Ok(true)
}

/// Makes a fresh `tmp/cudajail-install.N` below `root` (0700 root; the first N whose name is
/// free: a planted name is skipped, never reused) and returns it.
fn private_install_dir(env: &Env<'_>, root: &str) -> anyhow::Result<String> {
    env.fs.mkdir_beneath(root, "tmp", Perm::root(0o1777))?;
    for n in 0..16 {
        let dir = format!("tmp/cudajail-install.{n}");
        match env.fs.mkdir_new_beneath(root, &dir, Perm::PRIVATE_DIR) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == rootfs::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    bail!("{root}/tmp holds cudajail-install.0 … .15 already (left by another run, or planted): remove them")
}

/// `cudajail sync-driver`: after a host driver upgrade, replaces the jail's NVIDIA libraries with
/// the host's new version (the one step that must follow the kernel module). Returns what changed.
///
/// # Errors
/// No libraries of the new version on the host; file errors.
pub fn sync_driver(env: &Env<'_>, p: &Plan) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let ver = if let Some(run) = &p.nvidia_run {
        if env.jail.get(&p.jail.name)?.is_none() {
            bail!(
                "jail {} is stopped and NVIDIA's installer runs inside it: `cudajail start` first",
                p.name
            );
        }
        // NVIDIA's installer replaces an earlier installation of its own by itself.
        if install_nvidia_run(env, p, run, &mut false)? {
            out.push(format!("ran {run} inside the jail"));
        }
        host_driver_version(env)?
    } else {
        let mut files = Vec::new();
        let ver = match install_nvidia(env, &p.root, &mut files) {
            Ok(v) => v,
            Err(e) => {
                for f in files.iter().rev() {
                    let _ = env.fs.remove_beneath(&p.root, f);
                }
                return Err(e);
            }
        };
        out.extend(files.iter().map(|f| format!("installed /{f}")));
        ver
    };
    for f in env.view.read_dir(&format!("{}/{NV_LIB_DEST}", p.root)) {
        if nvidia_lib_version(&f).is_some_and(|v| v != ver) {
            env.fs
                .remove_beneath(&p.root, &format!("{NV_LIB_DEST}/{f}"))?;
            out.push(format!("removed /{NV_LIB_DEST}/{f}"));
        }
    }
    if env.jail.get(&p.jail.name)?.is_some() {
        if link_nvidia_libs(env, p, !out.is_empty())? {
            out.push("relinked the libraries (ldconfig in the jail)".into());
        }
    } else if !out.is_empty() {
        out.push("the jail is stopped: `cudajail start` relinks the libraries".into());
    }
    if out.is_empty() {
        out.push(format!("already at driver {ver}"));
    }
    Ok(out)
}

/// The host's NVIDIA Linux libraries of driver version `version`: (directory, file name).
///
/// # Errors
/// The sysctl unreadable.
pub fn host_nvidia_libs_of(env: &Env<'_>, version: &str) -> anyhow::Result<Vec<(String, String)>> {
    let (_, libs) = host_nvidia_libs(env)?;
    Ok(libs
        .into_iter()
        .filter(|l| l.2 == version)
        .map(|l| (l.0, l.1))
        .collect())
}
