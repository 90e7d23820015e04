//! The plan/apply engine behind `up`, `destroy`, `status` and `list`.
//!
//! Every step has a check (already done? then skip: re-running `up` is idempotent), an apply,
//! and an undo of exactly what its apply did. `up` applies in order; on the first error it
//! undoes what it applied, in reverse, and reports the error together with any undo failure. The
//! jail's dataset carries the state as ZFS user properties (`cudajail:managed`,
//! `cudajail:ruleset`, `cudajail:journal`), so `destroy` knows what is ours.

use crate::plan::{Plan, HOST_MODULES};
use crate::spec::Valid;
use anyhow::{anyhow, bail, Context};
use devfs::DevfsOps;
use jail::{JailName, JailOps, Jid};
use kld::{KldFileId, KldOps};
use linuxulator::doctor::FsView;
use linuxulator::{MountOps, Suite, SysctlOps};
use nvgpu::NvTransport;
use serde::Serialize;
use std::path::Path;
use zfs::{DatasetName, PropName, SnapshotName, ZfsOps};

/// Writing files under jail roots and templates, never through a symlink out of the root.
pub trait RootFs {
    /// `mkdir -p root/rel`, refusing symlinks and `..` on the way.
    fn mkdir_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()>;
    /// Writes `root/rel` (parents must exist), refusing symlinks and `..` on the way.
    fn write_beneath(&self, root: &str, rel: &str, data: &[u8]) -> anyhow::Result<()>;
    /// Removes the file `root/rel` (not a directory), refusing symlinks and `..` on the way.
    fn remove_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()>;
    /// Reads any host file.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// Copies the host file `src` to `root/rel` as [`RootFs::write_beneath`] writes (real hosts
    /// stream it; the default reads it whole).
    fn copy_in(&self, src: &str, root: &str, rel: &str) -> anyhow::Result<()> {
        let data = self.read(src).ok_or_else(|| anyhow!("cannot read {src}"))?;
        self.write_beneath(root, rel, &data)
    }
}

/// Builds a root file system for a suite into a directory (debootstrap on a real host).
pub trait Bootstrap {
    /// Fills `dir` with a minimal `suite` system.
    fn bootstrap(&self, suite: Suite, dir: &str) -> anyhow::Result<()>;
}

/// Runs a command inside a jail.
pub trait JailExec {
    /// Runs `argv` in jail `jid`; returns the exit code and the output.
    fn exec(&self, jid: Jid, argv: &[&str]) -> anyhow::Result<(i32, String)>;
}

/// Everything the engine touches.
pub struct Env<'a> {
    /// Jails.
    pub jail: &'a dyn JailOps,
    /// devfs rules.
    pub devfs: &'a dyn DevfsOps,
    /// Kernel modules.
    pub kld: &'a dyn KldOps,
    /// sysctls.
    pub sysctl: &'a dyn SysctlOps,
    /// Mounts.
    pub mount: &'a dyn MountOps,
    /// ZFS.
    pub zfs: &'a dyn ZfsOps,
    /// The NVIDIA driver.
    pub nv: &'a dyn NvTransport,
    /// Files, read-only.
    pub view: &'a dyn FsView,
    /// Files, writing.
    pub fs: &'a dyn RootFs,
    /// Root file system builder.
    pub boot: &'a dyn Bootstrap,
    /// Commands in jails.
    pub exec: &'a dyn JailExec,
}

/// What one applied step did, so that it can be undone.
#[derive(Debug, Clone)]
enum Undo {
    Unload(Vec<(String, KldFileId)>),
    Destroy(Vec<String>),
    Ruleset(devfs::RulesetId),
    Unmount(Vec<String>),
    RemoveJail(Jid),
    Files {
        root: String,
        files: Vec<String>,
    },
    Restore {
        root: String,
        rel: String,
        old: Option<Vec<u8>>,
    },
    /// A command run inside the jail (NVIDIA's uninstaller); its exit status is not checked.
    InJail {
        jail: jail::JailName,
        argv: Vec<String>,
    },
}

/// One step's outcome in a report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step id.
    pub id: &'static str,
    /// `applied`, `skipped (already done)`, `undone`.
    pub outcome: String,
}

fn prop(k: &str) -> PropName {
    PropName::cudajail(k).expect("static property names are valid")
}

/// The steps of `up`, in order.
pub const STEPS: [&str; 9] = [
    "host", "template", "dataset", "devfs", "mounts", "jail", "nvidia", "uvm", "verify",
];

/// Files the rootfs fixes write into a fresh Debian/Ubuntu tree (DESIGN §3 step 3).
pub fn rootfs_fixes(hostname: &str, resolv: Option<&[u8]>) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // No daemon may start inside the template while packages are installed.
        ("usr/sbin/policy-rc.d", b"#!/bin/sh\nexit 101\n".to_vec()),
        (
            "etc/hosts",
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{hostname}\n").into_bytes(),
        ),
        (
            "etc/resolv.conf",
            resolv.map_or_else(|| b"nameserver 127.0.0.1\n".to_vec(), <[u8]>::to_vec),
        ),
        ("etc/adjtime", b"0.0 0 0.0\n0\nUTC\n".to_vec()),
        (
            "etc/apt/apt.conf.d/99cudajail",
            b"APT::Cache-Start \"100000000\";\n".to_vec(),
        ),
    ]
}

/// Writes [`rootfs_fixes`] into a freshly bootstrapped tree.
///
/// # Errors
/// File errors (a symlink on the way is refused).
pub fn apply_rootfs_fixes(
    fs: &dyn RootFs,
    root: &str,
    resolv: Option<&[u8]>,
) -> anyhow::Result<()> {
    for (rel, data) in rootfs_fixes("cudajail", resolv) {
        if let Some((dir, _)) = rel.rsplit_once('/') {
            fs.mkdir_beneath(root, dir)?;
        }
        fs.write_beneath(root, rel, &data)?;
    }
    Ok(())
}

fn mountpoint(env: &Env<'_>, ds: &DatasetName) -> anyhow::Result<String> {
    env.zfs
        .get_prop(ds, &PropName::new("mountpoint")?)?
        .ok_or_else(|| anyhow!("{ds} has no mountpoint"))
}

fn host_driver_version(env: &Env<'_>) -> anyhow::Result<String> {
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
type HostLib = (String, String, String);

/// The Linux root (`compat.linux.emul_path`) and the NVIDIA Linux libraries in it.
fn host_nvidia_libs(env: &Env<'_>) -> anyhow::Result<(String, Vec<HostLib>)> {
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

/// A FreeBSD master.passwd-style `/etc/passwd` line (`name:*:uid:gid:class:change:expire:gecos:home:shell`,
/// or the 7-field form) → the Linux `passwd` line and the user's primary `group` line, with
/// `/bin/bash` as shell and no password (`x`). The group comes from the host's `/etc/group`
/// (by gid), else is named after the user.
pub fn linux_user_lines(freebsd: &str, host_group: &str) -> Option<(String, String)> {
    let f: Vec<&str> = freebsd.split(':').collect();
    let (name, uid, gid, gecos, home) = match f.len() {
        10 => (f[0], f[2], f[3], f[7], f[8]),
        7 => (f[0], f[2], f[3], f[4], f[5]),
        _ => return None,
    };
    if name.is_empty() || uid.parse::<u32>().is_err() || gid.parse::<u32>().is_err() {
        return None;
    }
    let gname = host_group
        .lines()
        .find(|l| l.split(':').nth(2) == Some(gid))
        .and_then(|l| l.split(':').next())
        .unwrap_or(name);
    Some((
        format!("{name}:x:{uid}:{gid}:{gecos}:{home}:/bin/bash"),
        format!("{gname}:x:{gid}:"),
    ))
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
fn install_nvidia(env: &Env<'_>, root: &str, files: &mut Vec<String>) -> anyhow::Result<String> {
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
    env.fs.mkdir_beneath(root, NV_LIB_DEST)?;
    for (dir, f, _) in wanted {
        let rel = format!("{NV_LIB_DEST}/{f}");
        if env.view.exists(&format!("{root}/{rel}")) {
            continue;
        }
        let data = env
            .fs
            .read(&format!("{dir}/{f}"))
            .ok_or_else(|| anyhow!("cannot read {dir}/{f}"))?;
        env.fs.write_beneath(root, &rel, &data)?;
        files.push(rel);
    }
    Ok(ver)
}

/// The jid of the plan's jail, which must be running.
fn running_jid(env: &Env<'_>, p: &Plan) -> anyhow::Result<jail::Jid> {
    Ok(env
        .jail
        .get(&p.jail.name)?
        .ok_or_else(|| anyhow!("jail {} is not running", p.name))?
        .jid)
}

/// A C program of ours built inside the jail with its own (Linux) compiler.
struct JailBuild<'a> {
    /// Where its source goes, relative to the root.
    source_rel: &'a str,
    /// The source.
    source: &'a str,
    /// The absolute path (inside the jail) of what the command builds.
    output: &'a str,
    /// The build command, run with `/bin/sh -c`.
    command: &'a str,
    /// What it is, for the error (`the uvm shim`).
    what: &'a str,
    /// Extra advice appended to the hint.
    also: &'a str,
}

/// Writes the source below `root` and runs the build in the jail; pushes every file it
/// created onto `files` (also on error, for the undo).
fn build_in_jail(
    env: &Env<'_>,
    root: &str,
    jid: jail::Jid,
    b: &JailBuild<'_>,
    files: &mut Vec<String>,
) -> anyhow::Result<()> {
    if let Some((dir, _)) = b.source_rel.rsplit_once('/') {
        env.fs.mkdir_beneath(root, dir)?;
    }
    env.fs
        .write_beneath(root, b.source_rel, b.source.as_bytes())?;
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

/// Runs the Linux `ldconfig` inside the running jail so the copied NVIDIA libraries get their
/// soname links (`libcuda.so.1` → `libcuda.so.<version>`, which is what CUDA programs load),
/// when `installed` is set or `libcuda.so.1` does not resolve. Returns whether it ran.
///
/// # Errors
/// The jail is not running, or ldconfig failed.
fn link_nvidia_libs(env: &Env<'_>, p: &Plan, installed: bool) -> anyhow::Result<bool> {
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

/// What to do about a failed CUDA check.
fn probe_hint(e: &crate::shim::ProbeFailure, ruleset: impl std::fmt::Display) -> String {
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
const NV_UNINSTALL: &[&str] = &["/usr/bin/nvidia-installer", "--uninstall", "--silent"];

/// Installs the NVIDIA userspace by running NVIDIA's `.run` installer inside the running jail:
/// refuses a version other than the kernel module's, copies the installer below the root's
/// `/tmp`, runs it with [`RUN_FLAGS`] and removes the copy. Returns whether it ran (it does not
/// when `libcuda.so.<version>` is already there); `ran` is set as soon as the installer started,
/// also on error, so that the caller can undo.
fn install_nvidia_run(env: &Env<'_>, p: &Plan, run: &str, ran: &mut bool) -> anyhow::Result<bool> {
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
    let rel = format!("tmp/cudajail-{file}");
    env.fs.mkdir_beneath(&p.root, "tmp")?;
    env.fs.copy_in(run, &p.root, &rel)?;
    let script = format!("/{rel}");
    let mut argv = vec!["/bin/sh", script.as_str()];
    argv.extend_from_slice(RUN_FLAGS);
    *ran = true;
    let res = env.exec.exec(jid, &argv);
    let removed = env.fs.remove_beneath(&p.root, &rel);
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

/// `cudajail stop`: removes the running jail and unmounts what is mounted below its root; the
/// dataset, ruleset and files stay, so `start` (a re-run of `up`) brings it back.
///
/// # Errors
/// Kernel errors; a busy mount is reported.
pub fn stop(env: &Env<'_>, p: &Plan) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    if let Some(j) = env.jail.get(&p.jail.name)? {
        env.jail.remove(j.jid)?;
        done.push(format!("removed jail {} (jid {})", p.name, j.jid));
    }
    for on in linuxulator::compat::unmount_all(env.mount, &p.root, false)? {
        done.push(format!("unmounted {on}"));
    }
    if done.is_empty() {
        done.push(format!("{} was not running", p.name));
    }
    Ok(done)
}

struct Run<'e, 'a> {
    env: &'e Env<'a>,
    v: &'e Valid,
    p: &'e Plan,
    undo: Vec<Undo>,
    report: Vec<StepReport>,
}

impl Run<'_, '_> {
    fn ds(&self) -> anyhow::Result<DatasetName> {
        Ok(DatasetName::new(&self.p.dataset)?)
    }

    fn done(&mut self, id: &'static str, skipped: bool) {
        self.report.push(StepReport {
            id,
            outcome: if skipped {
                "skipped (already done)".into()
            } else {
                "applied".into()
            },
        });
    }

    fn step(&mut self, id: &'static str) -> anyhow::Result<()> {
        let env = self.env;
        match id {
            "host" => {
                let r = kld::ensure_loaded(env.kld, HOST_MODULES)?;
                let mut skipped = r.loaded.is_empty();
                if !skipped {
                    self.undo.push(Undo::Unload(r.loaded));
                }
                if self.v.spec.persist_config {
                    // Like `sysrc linux_enable=YES kld_list+=…`: comments and order kept.
                    let old = env.fs.read("/etc/rc.conf");
                    let mut rc = linuxulator::rcconf::RcConf::parse(&String::from_utf8_lossy(
                        old.as_deref().unwrap_or_default(),
                    ));
                    let mut changed = rc.get("linux_enable") != Some("YES");
                    rc.set("linux_enable", "YES")?;
                    for m in HOST_MODULES {
                        if !matches!(*m, "linux" | "linux64" | "tmpfs" | "nullfs") {
                            changed |= rc.add_word("kld_list", m)?;
                        }
                    }
                    if changed {
                        // Writes are atomic: the undo is recorded once the file changed.
                        env.fs
                            .write_beneath("/", "etc/rc.conf", rc.to_string().as_bytes())?;
                        self.undo.push(Undo::Restore {
                            root: "/".into(),
                            rel: "etc/rc.conf".into(),
                            old,
                        });
                        skipped = false;
                    }
                }
                self.done(id, skipped);
            }
            "template" => {
                let snap = SnapshotName::new(&self.p.template)?;
                if env.zfs.exists(&snap.to_string())? {
                    self.done(id, true);
                    return Ok(());
                }
                let mut created = Vec::new();
                let res = (|| -> anyhow::Result<()> {
                    let tfs = snap.dataset().clone();
                    let parts: Vec<&str> = tfs.as_str().split('/').collect();
                    for i in 2..=parts.len() {
                        let d = DatasetName::new(&parts[..i].join("/"))?;
                        if !env.zfs.exists(d.as_str())? {
                            env.zfs.create(&d, &[])?;
                            created.push(d.to_string());
                        }
                    }
                    let mp = mountpoint(env, &tfs)?;
                    env.boot.bootstrap(self.v.suite, &mp).with_context(|| {
                        format!("bootstrapping {} into {mp}", self.v.suite.as_str())
                    })?;
                    apply_rootfs_fixes(env.fs, &mp, env.fs.read("/etc/resolv.conf").as_deref())?;
                    env.zfs.snapshot(std::slice::from_ref(&snap))?;
                    created.push(snap.to_string());
                    Ok(())
                })();
                self.undo.push(Undo::Destroy(created));
                res?;
                self.done(id, false);
            }
            "dataset" => {
                let ds = self.ds()?;
                if env.zfs.exists(ds.as_str())? {
                    if env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() != Some("on") {
                        bail!(
                            "{ds} exists and was not made by cudajail; pick another name or pool"
                        );
                    }
                    self.done(id, true);
                    return Ok(());
                }
                let snap = SnapshotName::new(&self.p.template)?;
                env.zfs.clone_snapshot(
                    &ds,
                    &snap,
                    &[
                        (prop("managed"), "on".into()),
                        (prop("ruleset"), self.p.ruleset.to_string()),
                    ],
                )?;
                self.undo.push(Undo::Destroy(vec![ds.to_string()]));
                self.mirror_users()?;
                self.done(id, false);
            }
            "devfs" => {
                let dev = Path::new("/dev");
                let have = env.devfs.rules(dev, self.p.rules.id)?;
                if have == self.p.rules.rules {
                    self.done(id, true);
                    return Ok(());
                }
                if !have.is_empty() {
                    bail!(
                        "devfs ruleset {} already has other rules; set `ruleset` in the spec",
                        self.p.rules.id
                    );
                }
                self.undo.push(Undo::Ruleset(self.p.rules.id));
                for r in &self.p.rules.rules {
                    env.devfs.add_rule(dev, self.p.rules.id, r)?;
                }
                self.done(id, false);
            }
            "mounts" => {
                let mounted = env.mount.mounts()?;
                let mut did = Vec::new();
                let res = (|| -> anyhow::Result<()> {
                    for m in &self.p.mounts {
                        let on = format!("{}/{}", self.p.root, m.target);
                        if mounted.iter().any(|x| x.on == on && x.fstype == m.fstype) {
                            continue;
                        }
                        // Mount points are created beneath the root, never through a symlink.
                        env.fs.mkdir_beneath(&self.p.root, &m.target)?;
                        did.push(env.mount.mount(&self.p.root, m)?);
                    }
                    Ok(())
                })();
                let skipped = did.is_empty() && res.is_ok();
                self.undo.push(Undo::Unmount(did));
                res?;
                self.done(id, skipped);
            }
            "jail" => {
                if env.jail.get(&self.p.jail.name)?.is_some() {
                    self.done(id, true);
                    return Ok(());
                }
                let jid = env.jail.create(&self.p.jail)?;
                self.undo.push(Undo::RemoveJail(jid));
                self.done(id, false);
            }
            "nvidia" => {
                let mut files = Vec::new();
                let installed = if let Some(run) = &self.p.nvidia_run {
                    let mut ran = false;
                    let res = install_nvidia_run(env, self.p, run, &mut ran);
                    if ran {
                        self.undo.push(Undo::InJail {
                            jail: self.p.jail.name.clone(),
                            argv: NV_UNINSTALL.iter().map(|a| (*a).to_string()).collect(),
                        });
                    }
                    res?
                } else {
                    let res = install_nvidia(env, &self.p.root, &mut files);
                    let installed = !files.is_empty();
                    self.undo.push(Undo::Files {
                        root: self.p.root.clone(),
                        files,
                    });
                    res?;
                    installed
                };
                let linked = link_nvidia_libs(env, self.p, installed)?;
                self.done(id, !installed && !linked);
            }
            "uvm" => {
                let root = self.p.root.clone();
                let preload = env.fs.read(&format!("{root}/etc/ld.so.preload"));
                let line = crate::shim::preload_line();
                let listed = preload
                    .as_deref()
                    .is_some_and(|p| String::from_utf8_lossy(p).contains(line.trim()));
                let src_rel = crate::shim::SHIM_SOURCE_REL;
                let so_rel = crate::shim::SHIM_PATH.trim_start_matches('/');
                let old_src = env.fs.read(&format!("{root}/{src_rel}"));
                let old_so = env.fs.read(&format!("{root}/{so_rel}"));
                // Built once, and again when this cudajail carries another version of the shim.
                let current = old_src.as_deref() == Some(crate::shim::UVM_SHIM_C.as_bytes())
                    && old_so.is_some();
                if listed && current {
                    self.done(id, true);
                    return Ok(());
                }
                if !current {
                    let jid = running_jid(env, self.p)?;
                    // A failed rebuild puts the working shim back (restores run after the new
                    // files are removed: the undo runs in reverse).
                    for (rel, old) in [(src_rel, old_src), (so_rel, old_so)] {
                        if old.is_some() {
                            self.undo.push(Undo::Restore {
                                root: root.clone(),
                                rel: rel.to_string(),
                                old,
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
                            source: crate::shim::UVM_SHIM_C,
                            output: crate::shim::SHIM_PATH,
                            command: crate::shim::BUILD_COMMAND,
                            what: "the uvm shim",
                            also: "",
                        },
                        &mut files,
                    );
                    self.undo.push(Undo::Files {
                        root: root.clone(),
                        files,
                    });
                    res?;
                }
                if !listed {
                    let mut text = preload.clone().unwrap_or_default();
                    text.extend_from_slice(line.as_bytes());
                    env.fs.write_beneath(&root, "etc/ld.so.preload", &text)?;
                    self.undo.push(Undo::Restore {
                        root: root.clone(),
                        rel: "etc/ld.so.preload".into(),
                        old: preload,
                    });
                }
                self.done(id, false);
            }
            "verify" => {
                let dev = format!("{}/dev", self.p.root);
                let mut need = vec!["nvidiactl".to_string()];
                let d = nvgpu::Driver::open(env.nv)?;
                let gpus = d.gpus()?;
                let selected: Vec<&nvgpu::GpuInfo> = gpus
                    .iter()
                    .filter(|g| match &self.v.gpus {
                        devfs::types::GpuSelection::All => true,
                        devfs::types::GpuSelection::Only(l) => {
                            l.iter().any(|n| u32::from(*n) == g.minor)
                        }
                    })
                    .collect();
                need.extend(selected.iter().map(|g| format!("nvidia{}", g.minor)));
                for n in &need {
                    if !env.view.exists(&format!("{dev}/{n}")) {
                        bail!(
                            "{dev}/{n} is not visible inside the jail: check devfs ruleset {}",
                            self.p.ruleset
                        );
                    }
                }
                if selected.is_empty() {
                    bail!("none of the selected GPUs exists on this host");
                }
                let outcome = if self.v.spec.cuda_check {
                    let r = self.cuda_check(&selected)?;
                    let names: Vec<String> = r
                        .gpus
                        .iter()
                        .map(|g| format!("{} ({}, {} MiB)", g.name, g.uuid, g.mem_mib))
                        .collect();
                    format!(
                        "applied: CUDA {} (driver {}) works inside the jail on {}",
                        r.cuda_version(),
                        d.version(),
                        names.join(", ")
                    )
                } else {
                    "applied (device nodes and GPUs; CUDA check off in the spec)".to_string()
                };
                self.report.push(StepReport { id, outcome });
            }
            _ => unreachable!("unknown step {id}"),
        }
        Ok(())
    }

    /// Builds (once) and runs the CUDA check inside the jail; it must see exactly the selected
    /// GPUs (by UUID) and create a context on each.
    fn cuda_check(
        &mut self,
        selected: &[&nvgpu::GpuInfo],
    ) -> anyhow::Result<crate::shim::ProbeReport> {
        use crate::shim;
        let env = self.env;
        let root = self.p.root.clone();
        let jid = running_jid(env, self.p)?;
        let mut files = Vec::new();
        let res = (|| -> anyhow::Result<shim::ProbeReport> {
            // Built once, and again when this cudajail carries another version of the source.
            let current = env
                .fs
                .read(&format!("{root}/{}", shim::PROBE_SOURCE_REL))
                .is_some_and(|src| src == shim::CUDA_PROBE_C.as_bytes());
            if !current || !env.view.exists(&format!("{root}{}", shim::PROBE_PATH)) {
                build_in_jail(
                    env,
                    &root,
                    jid,
                    &JailBuild {
                        source_rel: shim::PROBE_SOURCE_REL,
                        source: shim::CUDA_PROBE_C,
                        output: shim::PROBE_PATH,
                        command: shim::PROBE_BUILD_COMMAND,
                        what: "the CUDA check",
                        also: ", or set cuda_check = false in the spec",
                    },
                    &mut files,
                )?;
            }
            let (_, out) = env.exec.exec(jid, &[shim::PROBE_PATH])?;
            let r = shim::parse_probe(&out).map_err(|e| {
                anyhow!(
                    "CUDA does not work inside the jail: {e}\nhint: {}",
                    probe_hint(&e, self.p.ruleset)
                )
            })?;
            for g in selected {
                if !r.gpus.iter().any(|c| c.uuid.eq_ignore_ascii_case(&g.uuid)) {
                    bail!(
                        "CUDA inside the jail does not see GPU {} ({}, {}); check devfs ruleset {}",
                        g.minor,
                        g.name,
                        g.uuid,
                        self.p.ruleset
                    );
                }
            }
            if r.gpus.len() != selected.len() {
                bail!(
                    "CUDA inside the jail sees {} GPU(s), the spec selects {}: devfs ruleset {} shows more than it should",
                    r.gpus.len(),
                    selected.len(),
                    self.p.ruleset
                );
            }
            if let Some(g) = r.gpus.iter().find(|g| !g.ctx_ok) {
                bail!(
                    "CUDA could not create a context on {} inside the jail",
                    g.name
                );
            }
            Ok(r)
        })();
        self.undo.push(Undo::Files { root, files });
        res
    }

    /// Adds the spec's host users to the new root's passwd/group/shadow (the clone is ours, so
    /// destroying it undoes this).
    fn mirror_users(&self) -> anyhow::Result<()> {
        if self.v.spec.users.is_empty() {
            return Ok(());
        }
        let env = self.env;
        let host_pw =
            String::from_utf8_lossy(&env.fs.read("/etc/passwd").unwrap_or_default()).into_owned();
        let host_gr =
            String::from_utf8_lossy(&env.fs.read("/etc/group").unwrap_or_default()).into_owned();
        let root = &self.p.root;
        let mut files: Vec<(&str, String)> = ["etc/passwd", "etc/group", "etc/shadow"]
            .into_iter()
            .map(|f| {
                (
                    f,
                    String::from_utf8_lossy(
                        &env.fs.read(&format!("{root}/{f}")).unwrap_or_default(),
                    )
                    .into_owned(),
                )
            })
            .collect();
        for u in &self.v.spec.users {
            let line = host_pw
                .lines()
                .find(|l| l.split(':').next() == Some(u.as_str()))
                .ok_or_else(|| anyhow!("user {u} is not in the host's /etc/passwd"))?;
            let (pw, gr) = linux_user_lines(line, &host_gr)
                .ok_or_else(|| anyhow!("cannot read the host's entry for {u}"))?;
            let present =
                |text: &str, name: &str| text.lines().any(|l| l.split(':').next() == Some(name));
            let gname = gr.split(':').next().unwrap_or_default().to_string();
            if !present(&files[0].1, u) {
                files[0].1.push_str(&format!("{pw}\n"));
            }
            if !present(&files[1].1, &gname) {
                files[1].1.push_str(&format!("{gr}\n"));
            }
            if !present(&files[2].1, u) {
                files[2].1.push_str(&format!("{u}:!:19000:0:99999:7:::\n"));
            }
        }
        env.fs.mkdir_beneath(root, "etc")?;
        for (f, text) in files {
            env.fs.write_beneath(root, f, text.as_bytes())?;
        }
        Ok(())
    }

    /// [`Run::undo_all`], then the journal a re-run rewrote goes back to `old` (when the
    /// dataset is still there).
    fn undo_with_journal(&mut self, old: Option<&str>) -> Vec<String> {
        let mut errors = self.undo_all();
        if let (Some(old), Ok(ds)) = (old, self.ds()) {
            if self.env.zfs.exists(ds.as_str()).unwrap_or(false) {
                if let Err(e) = self.env.zfs.set_prop(&ds, &prop("journal"), old) {
                    errors.push(format!("restoring the journal: {e}"));
                }
            }
        }
        errors
    }

    fn undo_all(&mut self) -> Vec<String> {
        let env = self.env;
        let mut errors = Vec::new();
        while let Some(u) = self.undo.pop() {
            let r: anyhow::Result<()> = (|| {
                match u {
                    Undo::Unload(v) => {
                        for (_, id) in v.iter().rev() {
                            env.kld.unload(*id, false)?;
                        }
                    }
                    Undo::Destroy(v) => {
                        for d in v.iter().rev() {
                            env.zfs.destroy(d)?;
                        }
                    }
                    Undo::Ruleset(id) => {
                        devfs::delete_ruleset(env.devfs, Path::new("/dev"), id)?;
                    }
                    Undo::Unmount(v) => {
                        for on in v.iter().rev() {
                            env.mount.unmount(on, linuxulator::MountFlags::empty())?;
                        }
                    }
                    Undo::RemoveJail(j) => env.jail.remove(j)?,
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
                    Undo::Restore { root, rel, old } => match old {
                        Some(d) => env.fs.write_beneath(&root, &rel, &d)?,
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
}

/// `cudajail up`: applies every step not done yet; on failure undoes what this run applied.
///
/// # Errors
/// The first failing step, with any undo failure appended.
pub fn up(env: &Env<'_>, v: &Valid, p: &Plan) -> anyhow::Result<Vec<StepReport>> {
    up_with_progress(env, v, p, &mut |_| {})
}

/// [`up`], calling `progress` with each step's id before it runs (for a progress bar).
///
/// # Errors
/// As [`up`].
pub fn up_with_progress(
    env: &Env<'_>,
    v: &Valid,
    p: &Plan,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<StepReport>> {
    // Preflight: what can be checked before anything changes.
    if !env.zfs.exists(v.pool.as_str())? {
        bail!(
            "pool {} does not exist (see `zpool list`); set `pool` in the spec",
            v.pool
        );
    }
    if p.ruleset_provisional {
        bail!("the devfs ruleset number was not checked against this host; plan with the host's rulesets");
    }
    let mut run = Run {
        env,
        v,
        p,
        undo: Vec::new(),
        report: Vec::new(),
    };
    // A re-run rewrites the journal as it goes; a failed re-run puts the old one back.
    let old_journal = match run.ds() {
        Ok(ds) if env.zfs.exists(ds.as_str())? => env.zfs.get_prop(&ds, &prop("journal"))?,
        _ => None,
    };
    for id in STEPS {
        progress(id);
        let r = run.step(id).and_then(|()| {
            if id == "dataset" || id == "jail" {
                let ds = run.ds()?;
                let journal: Vec<&str> = run.report.iter().map(|r| r.id).collect();
                env.zfs
                    .set_prop(&ds, &prop("journal"), &journal.join(","))?;
            }
            Ok(())
        });
        if let Err(e) = r {
            let undo_errors = run.undo_with_journal(old_journal.as_deref());
            let mut msg = format!("step {id} failed: {e:#}");
            if !undo_errors.is_empty() {
                msg.push_str(&format!("\nundo also failed: {}", undo_errors.join("; ")));
            } else {
                msg.push_str("\neverything this run changed was undone");
            }
            return Err(anyhow!(msg));
        }
    }
    let ds = run.ds()?;
    if let Err(e) = env.zfs.set_prop(&ds, &prop("journal"), &STEPS.join(",")) {
        let undo_errors = run.undo_with_journal(old_journal.as_deref());
        return Err(anyhow!(
            "recording the journal failed: {e}{}",
            if undo_errors.is_empty() {
                String::new()
            } else {
                format!("\nundo also failed: {}", undo_errors.join("; "))
            }
        ));
    }
    Ok(run.report)
}

/// The plan for this host: the devfs ruleset is the one the jail already has (from its
/// dataset's `cudajail:ruleset`), else the first number ≥ 100 that no ruleset uses.
///
/// # Errors
/// Kernel or ZFS errors while looking.
pub fn plan(env: &Env<'_>, v: &Valid) -> anyhow::Result<Plan> {
    let mut used = env.devfs.rulesets(Path::new("/dev"))?;
    let ds = v.pool.child("cudajail")?.child(v.name.as_str())?;
    let mut spec = v.clone();
    if spec.spec.ruleset.is_none() && env.zfs.exists(ds.as_str())? {
        if let Some(r) = env
            .zfs
            .get_prop(&ds, &prop("ruleset"))?
            .and_then(|r| r.parse::<u16>().ok())
        {
            spec.spec.ruleset = Some(r);
            used.retain(|u| u.0 != r);
        }
    }
    crate::plan::build(&spec, &used, true)
}

/// `cudajail destroy`: removes the jail, its mounts, its devfs ruleset and its dataset —
/// exactly what `up` made. Never deletes files itself: everything mounted below the root
/// (nullfs binds of host data included) is unmounted before the dataset is destroyed.
///
/// # Errors
/// A dataset not made by cudajail (unless `force`); any failing step.
pub fn destroy(env: &Env<'_>, v: &Valid, p: &Plan, force: bool) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let ds = DatasetName::new(&p.dataset)?;
    let exists = env.zfs.exists(ds.as_str())?;
    let managed = exists && env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() == Some("on");
    if exists && !managed && !force {
        bail!("{ds} was not created by cudajail; refusing to destroy it (use --force if you are sure)");
    }
    let name = JailName::new(&p.name)?;
    if let Some(j) = env.jail.get(&name)? {
        env.jail.remove(j.jid)?;
        done.push(format!("removed jail {} (jid {})", p.name, j.jid));
    }
    for on in linuxulator::compat::unmount_all(env.mount, &p.root, false)? {
        done.push(format!("unmounted {on}"));
    }
    let rs = if exists {
        env.zfs
            .get_prop(&ds, &prop("ruleset"))?
            .and_then(|r| r.parse::<u16>().ok())
            .map(devfs::RulesetId)
    } else {
        None
    };
    if let Some(rs) = rs {
        let n = devfs::delete_ruleset(env.devfs, Path::new("/dev"), rs)?;
        done.push(format!("deleted devfs ruleset {rs} ({n} rules)"));
    }
    if exists {
        for c in env.zfs.children(&ds)? {
            env.zfs.destroy(&c)?;
        }
        env.zfs.destroy(ds.as_str())?;
        done.push(format!("destroyed {ds}"));
    }
    let _ = v;
    Ok(done)
}

/// One jail as `status`/`list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct JailStatus {
    /// Name.
    pub name: String,
    /// Dataset.
    pub dataset: String,
    /// Running jail id.
    pub jid: Option<i32>,
    /// Mounts below its root.
    pub mounts: usize,
    /// devfs ruleset.
    pub ruleset: Option<String>,
    /// Steps recorded as done.
    pub journal: Option<String>,
}

/// The cudajail jails on this host (datasets under `<pool>/cudajail` marked managed).
///
/// # Errors
/// Kernel or ZFS errors.
pub fn list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<JailStatus>> {
    let base = pool.child("cudajail")?;
    if !env.zfs.exists(base.as_str())? {
        return Ok(Vec::new());
    }
    let mounts = env.mount.mounts()?;
    let mut out = Vec::new();
    for c in env.zfs.children(&base)? {
        if c.contains('@') {
            continue;
        }
        let ds = DatasetName::new(&c)?;
        if env.zfs.get_prop(&ds, &prop("managed"))?.as_deref() != Some("on") {
            continue;
        }
        let name = c.rsplit('/').next().unwrap_or(&c).to_string();
        let root = mountpoint(env, &ds)?;
        let jid = JailName::new(&name)
            .ok()
            .and_then(|n| env.jail.get(&n).ok().flatten())
            .map(|j| j.jid.0);
        out.push(JailStatus {
            name,
            dataset: c.clone(),
            jid,
            mounts: mounts
                .iter()
                .filter(|m| m.on.starts_with(&format!("{root}/")))
                .count(),
            ruleset: env.zfs.get_prop(&ds, &prop("ruleset"))?,
            journal: env.zfs.get_prop(&ds, &prop("journal"))?,
        });
    }
    Ok(out)
}

/// A template as `template list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    /// The suite (`noble`).
    pub suite: String,
    /// Its snapshot, if built.
    pub snapshot: Option<String>,
    /// Jails cloned from it.
    pub clones: Vec<String>,
}

fn templates_root(pool: &DatasetName) -> anyhow::Result<DatasetName> {
    Ok(pool.child("cudajail")?.child("templates")?)
}

/// `cudajail template list`.
///
/// # Errors
/// ZFS errors.
pub fn template_list(env: &Env<'_>, pool: &DatasetName) -> anyhow::Result<Vec<TemplateInfo>> {
    let root = templates_root(pool)?;
    if !env.zfs.exists(root.as_str())? {
        return Ok(Vec::new());
    }
    let jails_root = pool.child("cudajail")?;
    let jails: Vec<String> = env
        .zfs
        .children(&jails_root)?
        .into_iter()
        .filter(|c| !c.contains('@') && *c != root.as_str())
        .collect();
    let origin = PropName::new("origin")?;
    let mut out = Vec::new();
    for t in env.zfs.children(&root)? {
        if t.contains('@') {
            continue;
        }
        let snap = format!("{t}@base");
        let built = env.zfs.exists(&snap)?;
        let mut clones = Vec::new();
        for j in &jails {
            if env.zfs.get_prop(&DatasetName::new(j)?, &origin)?.as_deref() == Some(snap.as_str()) {
                clones.push(j.clone());
            }
        }
        out.push(TemplateInfo {
            suite: t.rsplit('/').next().unwrap_or(&t).to_string(),
            snapshot: built.then_some(snap),
            clones,
        });
    }
    Ok(out)
}

/// `cudajail template build`: the template step alone (bootstrap, fixes, snapshot), undone on
/// failure.
///
/// # Errors
/// As the step.
pub fn template_build(env: &Env<'_>, v: &Valid, p: &Plan) -> anyhow::Result<StepReport> {
    if !env.zfs.exists(v.pool.as_str())? {
        bail!(
            "pool {} does not exist (see `zpool list`); set `pool` in the spec",
            v.pool
        );
    }
    let mut run = Run {
        env,
        v,
        p,
        undo: Vec::new(),
        report: Vec::new(),
    };
    if let Err(e) = run.step("template") {
        let undo = run.undo_all();
        bail!(
            "{e:#}{}",
            if undo.is_empty() {
                String::new()
            } else {
                format!("\nundo also failed: {}", undo.join("; "))
            }
        );
    }
    run.report.pop().ok_or_else(|| anyhow!("no report"))
}

/// `cudajail template rm SUITE`: destroys a template that no jail was cloned from.
///
/// # Errors
/// Jails still cloned from it (they are named); ZFS errors.
pub fn template_rm(env: &Env<'_>, pool: &DatasetName, suite: Suite) -> anyhow::Result<Vec<String>> {
    let t = templates_root(pool)?.child(suite.as_str())?;
    let Some(info) = template_list(env, pool)?
        .into_iter()
        .find(|i| i.suite == suite.as_str())
    else {
        bail!("no template for {} on {pool}", suite.as_str());
    };
    if !info.clones.is_empty() {
        bail!(
            "jails are cloned from {}: {}; destroy them first (cudajail destroy)",
            t,
            info.clones.join(", ")
        );
    }
    let none = |_: &str| Vec::new();
    Ok(zfs::destroy_recursive(env.zfs, &t, false, &none)?)
}

/// What `cudajail run` needs on the host for a Linux CUDA program under the Linuxulator, without
/// a jail (the nv-sglrun route): the Linux ABI and file systems, NVIDIA's Linux libraries of the
/// kernel module's version under `compat.linux.emul_path`, tmpfs on its `/dev/shm`, and the uvm
/// shim preloaded through `<emul_path>/etc/ld.so.preload` (read by Linux's dynamic linker only,
/// so FreeBSD programs never load it). Installs what is missing and can be installed; returns
/// what it did.
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
        env.fs.mkdir_beneath(&emul, &spec.target)?;
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
    let preload_path = format!("{}/etc/ld.so.preload", emul.trim_end_matches('/'));
    let old = env.fs.read(&preload_path);
    let line = crate::shim::preload_line();
    if !old
        .as_deref()
        .is_some_and(|p| String::from_utf8_lossy(p).contains(line.trim()))
    {
        let mut text = old.unwrap_or_default();
        text.extend_from_slice(line.as_bytes());
        env.fs.mkdir_beneath(&emul, "etc")?;
        env.fs.write_beneath(&emul, "etc/ld.so.preload", &text)?;
        did.push(format!("added the uvm shim to {preload_path}"));
    }
    Ok(did)
}
