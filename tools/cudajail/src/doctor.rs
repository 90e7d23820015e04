//! `cudajail doctor`: is this FreeBSD host ready for CUDA jails? Each check says what it looked
//! at and the exact command that fixes it. The Linux ABI's own checks come from
//! `linuxulator::readiness`; the kernel modules (kld) and the NVIDIA driver (nvgpu) are checked
//! here.

use kld::KldOps;
use linuxulator::readiness::{check, linux_checks, Check, FsView, Status, LINUX_MODULES};
use linuxulator::{MountOps, SysctlOps};

/// Kernel modules (file names) a CUDA jail needs: the Linux ABI's and NVIDIA's.
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

/// Where NVIDIA's Linux libraries may live below the Linux root.
const NV_LIB_DIRS: &[&str] = &["usr/lib64", "usr/lib/x86_64-linux-gnu", "lib64"];

/// The version in a library file name such as `libnvidia-ml.so.580.95.05`.
#[must_use]
pub fn lib_version(file: &str) -> Option<&str> {
    let v = file
        .strip_prefix("libnvidia-ml.so.")
        .or_else(|| file.strip_prefix("libcuda.so."))?;
    (v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(v)
}

/// Runs every readiness check, in this order: modules, rc.conf, the Linux root, the
/// devfs.rules files boot loads, the NVIDIA driver version, `/dev/nvidiactl`, the Linux root's
/// `/dev/shm`, NVIDIA's Linux libraries, and whether the uvm shim is preloaded host-wide.
pub fn doctor(
    kld: &dyn KldOps,
    sysctl: &dyn SysctlOps,
    mounts: &dyn MountOps,
    fs: &dyn FsView,
) -> Vec<Check> {
    debug_assert!(LINUX_MODULES.iter().all(|m| REQUIRED_MODULES.contains(m)));
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
                format!(
                    "neither {m}.ko nor its module {} is loaded",
                    kld::module_name(m)
                )
            },
            Status::Fail,
            &format!("kldload {m}"),
        ));
    }
    let (linux, root) = linux_checks(sysctl, mounts, fs);
    let mut linux = linux.into_iter();
    out.extend(linux.by_ref().take(2)); // rc.conf, emul_path
    out.push(devfs_rules(fs));
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
    out.extend(linux); // the Linux root's /dev/shm
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
    let preload = format!("{}/etc/ld.so.preload", root.trim_end_matches('/'));
    let global = fs
        .read_to_string(&preload)
        .is_some_and(|t| t.lines().any(|l| l.trim() == crate::shim::SHIM_PATH));
    out.push(check(
        "uvm-shim:host-wide",
        !global,
        if global {
            format!(
                "{preload} preloads the uvm shim into every Linux program on this host (`cudajail \
                 run --install-shim`)"
            )
        } else {
            "not preloaded host-wide; `cudajail run` preloads it into the programs it starts".into()
        },
        Status::Warn,
        "cudajail run --uninstall-shim (if no program needs it host-wide)",
    ));
    out
}

/// The devfs.rules files rc(8) loads at boot (`devfs_rulesets`, default
/// `/etc/defaults/devfs.rules /etc/devfs.rules`), loaded as rc.subr and devfs(8) would, with
/// this host's users and groups: a line that fails stops rc.subr from loading the rest of its
/// file, so jails that use those rulesets boot with the wrong devices. Said now, not at the
/// next reboot.
pub fn devfs_rules(fs: &dyn FsView) -> Check {
    use devfs::load::{Loader, NameLookup, NameTable, Verdict};
    let rc = linuxulator::readiness::host_rc_conf(fs);
    let files = rc
        .value("devfs_rulesets")
        .ok()
        .flatten()
        .unwrap_or_else(|| "/etc/defaults/devfs.rules /etc/devfs.rules".into());
    let names = match (
        fs.read_to_string("/etc/passwd"),
        fs.read_to_string("/etc/group"),
    ) {
        (None, None) => None,
        (p, g) => Some(NameTable::from_files(
            &p.unwrap_or_default(),
            &g.unwrap_or_default(),
        )),
    };
    let mut loader = Loader::new(names.as_ref().map(|n| n as &dyn NameLookup));
    let mut status = Status::Ok;
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    let mut first_bad: Option<String> = None;
    for f in files.split_whitespace().take(64) {
        let Some(text) = fs.read_to_string(f) else {
            continue; // rc.subr skips a missing file
        };
        let r = loader.load(text.as_bytes());
        let rules: usize = r.sets.iter().map(|s| s.rules.len()).sum();
        seen.push(format!("{f} ({} rulesets, {rules} rules)", r.sets.len()));
        if !r.is_clean() {
            first_bad.get_or_insert_with(|| f.to_string());
        }
        if r.stops_at.is_some() {
            status = Status::Fail;
        } else if !r.is_clean() && status == Status::Ok {
            status = Status::Warn;
        }
        problems.extend(
            r.problems
                .iter()
                .filter(|p| p.verdict == Verdict::Fails)
                .chain(r.problems.iter().filter(|p| p.verdict == Verdict::Refused))
                .map(|p| format!("{f}:{p}")),
        );
    }
    let evidence = if problems.is_empty() {
        format!("loads at boot: {}", seen.join(", "))
    } else {
        let more = problems.len().saturating_sub(3);
        let mut e = problems
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if more > 0 {
            e.push_str(&format!("; and {more} more"));
        }
        e
    };
    Check {
        id: "devfs.rules".into(),
        status,
        evidence,
        fix: first_bad.map(|f| format!("cudajail devfs check {f}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hostsim::SimHost;

    #[test]
    fn library_versions() {
        assert_eq!(lib_version("libnvidia-ml.so.580.95.05"), Some("580.95.05"));
        assert_eq!(lib_version("libcuda.so.1"), None);
        assert_eq!(lib_version("libcuda.so.580.95"), Some("580.95"));
        assert_eq!(lib_version("libnvidia-ml.so"), None);
    }

    #[test]
    fn doctor_on_a_fresh_and_a_ready_host() {
        let h = SimHost::freebsd14_with_gpus(1);
        let checks = doctor(&h, &h, &h, &h);
        let get = |c: &[Check], id: &str| c.iter().find(|x| x.id == id).unwrap().clone();
        let l = get(&checks, "module:linux64");
        assert_eq!(l.status, Status::Fail);
        assert_eq!(l.fix.as_deref(), Some("kldload linux64"));
        assert_eq!(
            get(&checks, "module:tmpfs").status,
            Status::Ok,
            "compiled into the kernel"
        );
        assert_eq!(
            get(&checks, "rc.conf:linux_enable").fix.as_deref(),
            Some("sysrc linux_enable=YES")
        );
        assert_eq!(get(&checks, "emul_path").status, Status::Fail);
        assert_eq!(get(&checks, "nvidia-version").status, Status::Ok);
        assert_eq!(
            get(&checks, "dev:nvidiactl").status,
            Status::Ok,
            "devfs shows it"
        );
        let ids: Vec<&str> = checks
            .iter()
            .map(|c| c.id.as_str())
            .skip(REQUIRED_MODULES.len())
            .collect();
        assert_eq!(
            ids,
            [
                "rc.conf:linux_enable",
                "emul_path",
                "devfs.rules",
                "nvidia-version",
                "dev:nvidiactl",
                "linuxulator:dev/shm",
                "nvidia-linux-libs",
                "uvm-shim:host-wide"
            ]
        );
        kld::ensure_loaded(&h, REQUIRED_MODULES).unwrap();
        h.with_state(|s| {
            s.write_file("/etc/rc.conf", b"linux_enable=\"YES\"\n")
                .unwrap();
            s.write_file("/compat/linux/usr/lib64/libnvidia-ml.so.580.95.05", b"")
                .unwrap();
        });
        let checks = doctor(&h, &h, &h, &h);
        for c in &checks {
            if c.id != "linuxulator:dev/shm" {
                assert_eq!(c.status, Status::Ok, "{c:?}");
            }
        }
        assert_eq!(get(&checks, "linuxulator:dev/shm").status, Status::Warn);
    }

    #[test]
    fn a_devfs_rules_line_that_fails_at_boot_is_reported_now() {
        let h = SimHost::freebsd14_with_gpus(1);
        let get = || {
            doctor(&h, &h, &h, &h)
                .into_iter()
                .find(|c| c.id == "devfs.rules")
                .unwrap()
        };
        assert_eq!(get().status, Status::Ok, "{:?}", get());
        h.with_state(|s| {
            s.write_file("/etc/group", b"wheel:*:0:root\nvideo:*:44:\n")
                .unwrap();
            s.write_file(
                "/etc/devfs.rules",
                b"[gpu=100]\nadd path dsp* unhide group audio\nadd path nvidia0 unhide group video\n",
            )
            .unwrap();
        });
        let c = get();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence
                .contains("/etc/devfs.rules:line 2: fails at boot: group \"audio\""),
            "{c:?}"
        );
        assert_eq!(
            c.fix.as_deref(),
            Some("cudajail devfs check /etc/devfs.rules")
        );
    }

    #[test]
    fn a_crlf_rc_conf_is_reported_off_with_the_reason() {
        let h = SimHost::freebsd14_cuda_ready(1);
        h.with_state(|s| {
            s.write_file("/etc/rc.conf", b"linux_enable=\"YES\"\r\n")
                .unwrap()
        });
        let c = doctor(&h, &h, &h, &h)
            .into_iter()
            .find(|c| c.id == "rc.conf:linux_enable")
            .unwrap();
        assert_eq!(c.status, Status::Warn);
        assert!(c.evidence.contains("CR"), "{}", c.evidence);
        // The idiom that builds on the defaults is read as rc(8) reads it.
        h.with_state(|s| {
            s.write_file("/etc/defaults/rc.conf", b"linux_enable=\"NO\"\n")
                .unwrap();
            s.write_file("/etc/rc.conf", b"x=YES\nlinux_enable=\"${x}\"\n")
                .unwrap();
        });
        let c = doctor(&h, &h, &h, &h)
            .into_iter()
            .find(|c| c.id == "rc.conf:linux_enable")
            .unwrap();
        assert_eq!(c.status, Status::Ok, "{}", c.evidence);
    }

    #[test]
    fn the_ready_preset_passes_doctor() {
        let h = SimHost::freebsd14_cuda_ready(2);
        for c in doctor(&h, &h, &h, &h) {
            assert_eq!(c.status, Status::Ok, "{c:?}");
        }
    }
}
