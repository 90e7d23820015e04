//! Host readiness checks (`cudajail doctor`): each says what it looked at and the exact command
//! that fixes it.

use crate::ops::{MountOps, SysctlOps};
use crate::rcconf::RcConf;
use kld::KldOps;
use serde::Serialize;

/// Read-only view of files, so checks run against the host or a simulated one.
pub trait FsView {
    /// Whether the path exists (following symlinks).
    fn exists(&self, path: &str) -> bool;
    /// The file's text, if readable.
    fn read_to_string(&self, path: &str) -> Option<String>;
    /// Names in a directory (empty when it does not exist).
    fn read_dir(&self, path: &str) -> Vec<String>;
}

/// [`FsView`] over the real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

impl FsView for StdFs {
    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }
    fn read_to_string(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
    fn read_dir(&self, path: &str) -> Vec<String> {
        std::fs::read_dir(path)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ready.
    Ok,
    /// Works now, but not after a reboot, or only matters for one route.
    Warn,
    /// Blocks the CUDA jail.
    Fail,
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short id (`module:linux64`, `nvidia-version`…).
    pub id: String,
    /// Outcome.
    pub status: Status,
    /// What was seen.
    pub evidence: String,
    /// The command that fixes it, when not ok.
    pub fix: Option<String>,
}

/// Kernel modules (file names) the CUDA jail needs.
pub const REQUIRED_MODULES: &[&str] = &[
    "linux",
    "linux64",
    "fdescfs",
    "linprocfs",
    "linsysfs",
    "tmpfs",
    "pty",
    "nullfs",
    "nvidia",
    "nvidia-modeset",
];

fn check(id: impl Into<String>, ok: bool, evidence: String, fail: Status, fix: &str) -> Check {
    Check {
        id: id.into(),
        status: if ok { Status::Ok } else { fail },
        evidence,
        fix: (!ok).then(|| fix.to_string()),
    }
}

/// Where NVIDIA's Linux libraries may live below the Linux root.
const NV_LIB_DIRS: &[&str] = &["usr/lib64", "usr/lib/x86_64-linux-gnu", "lib64"];

/// The version in a library file name such as `libnvidia-ml.so.580.95.05`.
pub fn lib_version(file: &str) -> Option<&str> {
    let v = file
        .strip_prefix("libnvidia-ml.so.")
        .or_else(|| file.strip_prefix("libcuda.so."))?;
    (v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(v)
}

/// Runs every readiness check.
pub fn doctor(
    kld: &dyn KldOps,
    sysctl: &dyn SysctlOps,
    mounts: &dyn MountOps,
    fs: &dyn FsView,
) -> Vec<Check> {
    let mut out = Vec::new();
    for m in REQUIRED_MODULES {
        let loaded = kld.find(m).ok().flatten().is_some()
            || kld.modfind(kld::module_name(m)).unwrap_or(false);
        out.push(check(
            format!("module:{m}"),
            loaded,
            if loaded {
                format!("{m} is loaded")
            } else {
                format!("neither {m}.ko nor a module {m} is loaded")
            },
            Status::Fail,
            &format!("kldload {m}"),
        ));
    }
    let rc = fs.read_to_string("/etc/rc.conf").map(|t| RcConf::parse(&t));
    let linux_enable = rc
        .as_ref()
        .and_then(|c| c.get("linux_enable").map(str::to_string));
    let on = linux_enable
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    out.push(check(
        "rc.conf:linux_enable",
        on,
        format!(
            "linux_enable={}",
            linux_enable.as_deref().unwrap_or("(unset)")
        ),
        Status::Warn,
        "sysrc linux_enable=YES",
    ));
    let emul = sysctl.get("compat.linux.emul_path").ok().flatten();
    let emul_ok = emul.as_deref().is_some_and(|p| fs.exists(p));
    out.push(check(
        "emul_path",
        emul_ok,
        match &emul {
            Some(p) => format!(
                "compat.linux.emul_path={p} ({})",
                if fs.exists(p) { "exists" } else { "missing" }
            ),
            None => "compat.linux.emul_path unreadable: is linux64 loaded?".into(),
        },
        Status::Fail,
        &match &emul {
            Some(p) => format!("mkdir -p {p}"),
            None => "kldload linux64".to_string(),
        },
    ));
    let nv = sysctl.get("hw.nvidia.version").ok().flatten();
    let kver = nv.as_deref().and_then(nvgpu::codec::parse_sysctl_version);
    out.push(check(
        "nvidia-version",
        kver.is_some(),
        nv.clone()
            .unwrap_or_else(|| "hw.nvidia.version unreadable".into()),
        Status::Fail,
        "pkg install nvidia-driver && kldload nvidia-modeset",
    ));
    let ctl = fs.exists("/dev/nvidiactl");
    out.push(check(
        "dev:nvidiactl",
        ctl,
        format!("/dev/nvidiactl {}", if ctl { "present" } else { "missing" }),
        Status::Fail,
        "kldload nvidia",
    ));
    let root = emul.clone().unwrap_or_else(|| "/compat/linux".into());
    let shm = format!("{}/dev/shm", root.trim_end_matches('/'));
    let shm_ok = mounts
        .mounts()
        .map(|v| v.iter().any(|m| m.on == shm && m.fstype == "tmpfs"))
        .unwrap_or(false);
    out.push(check(
        "linuxulator:dev/shm",
        shm_ok,
        format!(
            "tmpfs on {shm}: {}",
            if shm_ok {
                "mounted"
            } else {
                "not mounted (needed by `cudajail run` only)"
            }
        ),
        Status::Warn,
        &format!("mount -t tmpfs -o mode=1777 tmpfs {shm}"),
    ));
    let mut libs: Vec<String> = Vec::new();
    for d in NV_LIB_DIRS {
        let dir = format!("{}/{d}", root.trim_end_matches('/'));
        libs.extend(
            fs.read_dir(&dir)
                .into_iter()
                .filter_map(|f| lib_version(&f).map(|v| format!("{dir}/{f} ({v})"))),
        );
    }
    let versions: Vec<&str> = libs
        .iter()
        .filter_map(|l| l.rsplit_once(" (").map(|(_, v)| v.trim_end_matches(')')))
        .collect();
    let status = match (&kver, versions.is_empty()) {
        (_, true) => Status::Warn,
        (Some(k), false) if versions.iter().all(|v| v == k) => Status::Ok,
        _ => Status::Fail,
    };
    out.push(Check {
        id: "nvidia-linux-libs".into(),
        status,
        evidence: if libs.is_empty() {
            format!("no NVIDIA Linux libraries under {root} (needed by `cudajail run`)")
        } else {
            format!(
                "kernel module {}; libraries: {}",
                kver.as_deref().unwrap_or("?"),
                libs.join(", ")
            )
        },
        fix: (status != Status::Ok).then(|| {
            "pkg install linux-nvidia-libs (the same version as nvidia-driver)".to_string()
        }),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_versions() {
        assert_eq!(lib_version("libnvidia-ml.so.580.95.05"), Some("580.95.05"));
        assert_eq!(lib_version("libcuda.so.1"), None);
        assert_eq!(lib_version("libcuda.so.580.95"), Some("580.95"));
        assert_eq!(lib_version("libnvidia-ml.so"), None);
    }
}
