//! Real-Linux tier: debootstrap a Debian suite into a temporary directory through the same
//! rootfs code `up` uses (two stages, then the rootfs fixes). Needs root, debootstrap and the
//! machine's Debian mirror; ignored in the plain test run, run by `cargo xtask ci`.
#![cfg(target_os = "linux")]

use cudajail::engine::{apply_rootfs_fixes, Bootstrap};
use cudajail::rootfs::Debootstrap;
use linuxulator::Suite;
use rootfs::Beneath as StdRootFs;
use std::process::Command;

static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn record(status: &str) {
    SEEN.lock().unwrap().push(status.to_string());
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The first mirror of the machine's own Debian source (read at run time).
fn machine_mirror() -> Option<String> {
    let src = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").ok()?;
    src.lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|v| v.split_whitespace().next())
        .map(String::from)
}

fn unmount_below(dir: &str) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut below: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| m.starts_with(dir))
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in below {
        let _ = Command::new("umount").arg(m).status();
    }
}

#[test]
#[ignore = "real-linux: debootstraps Debian bookworm (root, network to the machine's Debian mirror)"]
fn debootstrap_bookworm_through_the_rootfs_code() {
    if !is_root() {
        println!("SKIP: debootstrap needs root");
        return;
    }
    if !Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("SKIP: debootstrap is not installed");
        return;
    }
    let Some(mirror) = machine_mirror() else {
        println!("SKIP: no Debian mirror configured on this machine");
        return;
    };
    let dir = std::env::temp_dir().join(format!("cudajail-debootstrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_string();
    let t = std::time::Instant::now();
    let r = Debootstrap {
        mirror: Some(mirror),
        progress: Some(record),
    }
    .bootstrap(
        Suite::Bookworm.as_str(),
        &d,
        cudajail::engine::TEMPLATE_PACKAGES,
    );
    unmount_below(&d);
    if let Err(e) = &r {
        let msg = format!("{e:#}");
        // An unreachable mirror says nothing about our code.
        if [
            "Failed getting release file",
            "Couldn't download",
            "Temporary failure",
            "Could not resolve",
        ]
        .iter()
        .any(|m| msg.contains(m))
        {
            println!("SKIP: the Debian mirror is unreachable: {msg}");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
    }
    r.unwrap();
    apply_rootfs_fixes(&StdRootFs, &d, Some(b"nameserver 192.0.2.1\n")).unwrap();
    let os = std::fs::read_to_string(dir.join("etc/os-release")).unwrap();
    assert!(os.contains("bookworm"), "{os}");
    assert!(dir.join("etc/passwd").exists(), "second stage ran");
    assert_eq!(
        std::fs::read(dir.join("usr/sbin/policy-rc.d")).unwrap(),
        b"#!/bin/sh\nexit 101\n"
    );
    assert_eq!(
        std::fs::read(dir.join("etc/resolv.conf")).unwrap(),
        b"nameserver 192.0.2.1\n"
    );
    assert!(!dir
        .join("var/cache/apt/archives/usr-is-merged_all.deb")
        .exists());
    // The progress followed the real output of both stages.
    let seen = SEEN.lock().unwrap().clone();
    let last = seen.last().cloned().unwrap_or_default();
    let n: usize = last
        .strip_prefix("debootstrap: ")
        .and_then(|r| r.strip_suffix(" packages installed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last status {last:?}"));
    assert!(n > 20, "{n} packages");
    for phase in ["extracting", "unpacking", "configuring"] {
        assert!(
            seen.iter()
                .any(|l| l.contains(phase) && l.contains(&format!("/{n} ["))),
            "no {phase} bar in {} statuses",
            seen.len()
        );
    }
    eprintln!(
        "debootstrap bookworm minbase + {}: {:.0?}, {n} packages, {} progress updates",
        cudajail::engine::TEMPLATE_PACKAGES.join(","),
        t.elapsed(),
        seen.len()
    );
    let t = std::time::Instant::now();
    in_jail_steps(&d);
    eprintln!("in-jail steps in a chroot: {:.1?}", t.elapsed());
    unmount_below(&d);
    if let Ok(to) = std::env::var("CUDAJAIL_EXPORT_ROOT") {
        export_root(&d, &to);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the exported root leaves out: the compiler and headers (the shim and the CUDA check are
/// already built inside, by them), documentation and apt's caches. Nothing a Linux program
/// needs at run time.
pub const EXPORT_LEAVES_OUT: &[&str] = &[
    "usr/lib/gcc",
    "usr/libexec/gcc",
    "usr/include",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/gcc",
    "var/cache/apt",
    "var/lib/apt/lists",
];

/// Writes the template, with the uvm shim and the CUDA check built inside it by its own
/// compiler, to `to` (`.tar.xz`), for the gpu tier's in-chroot CUDA check on a machine that
/// cannot debootstrap (no network): `cargo xtask gpu-kit` asks for it.
fn export_root(root: &str, to: &str) {
    let dir = std::path::Path::new(root);
    // The stand-in libcuda `in_jail_steps` built for the ldconfig check is no driver.
    let libdir = dir.join(cudajail::engine::NV_LIB_DEST);
    for e in std::fs::read_dir(&libdir).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("libcuda.so") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    for rel in EXPORT_LEAVES_OUT {
        let p = dir.join(rel);
        if p.exists() {
            std::fs::remove_dir_all(&p).unwrap();
        }
    }
    let o = Command::new("tar")
        .args([
            "-C",
            root,
            "--numeric-owner",
            "--one-file-system",
            "-cJf",
            to,
            ".",
        ])
        .env("XZ_OPT", "-9 -T0")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!(
        "exported the template (without {}) to {to}: {} bytes",
        EXPORT_LEAVES_OUT.join(", "),
        std::fs::metadata(to).unwrap().len()
    );
}

/// Runs `sh -c cmd` inside `root` (chroot standing in for `jail_attach`); exit code and output.
fn in_root(root: &str, env: &[(&str, &str)], cmd: &str) -> (i32, String) {
    let o = Command::new("chroot")
        .arg(root)
        .args(["/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
        .args(env.iter().map(|(k, v)| format!("{k}={v}")))
        .args(["/bin/sh", "-c", cmd])
        .output()
        .unwrap();
    let mut out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), out)
}

/// What `up` does inside the jail, for real, in the template debootstrap just built: the
/// template has the compiler the steps use; the uvm shim and the CUDA check build with the
/// jail's own compiler and the exact commands the engine runs; the CUDA check fails cleanly at
/// dlopen without a driver; ldconfig makes the `libcuda.so.1` link from a library whose soname
/// it is; the jail's `/etc/ld.so.preload` makes every Linux program load the shim; a mirrored
/// user line is one glibc reads.
fn in_jail_steps(root: &str) {
    use cudajail::engine::RootFs;
    use cudajail::shim;
    let fs = StdRootFs;
    let dir = std::path::Path::new(root);
    // debootstrap's minbase has no compiler; TEMPLATE_PACKAGES brings one.
    assert!(dir.join("usr/bin/cc").exists(), "no cc in the template");
    fs.mkdir_beneath(root, "usr/local/lib/cudajail", rootfs::Perm::DIR)
        .unwrap();
    for (rel, src, cmd, out) in [
        (
            shim::SHIM_SOURCE_REL,
            shim::UVM_SHIM_C,
            shim::BUILD_COMMAND,
            shim::SHIM_PATH,
        ),
        (
            shim::PROBE_SOURCE_REL,
            shim::CUDA_PROBE_C,
            shim::PROBE_BUILD_COMMAND,
            shim::PROBE_PATH,
        ),
    ] {
        fs.write_beneath(root, rel, src.as_bytes(), rootfs::Perm::FILE)
            .unwrap();
        let (code, text) = in_root(root, &[], cmd);
        assert_eq!(code, 0, "{cmd}: {text}");
        assert!(dir.join(out.trim_start_matches('/')).exists(), "{out}");
    }
    // No driver here: the check fails at dlopen, and says so in its own format.
    let (_, text) = in_root(root, &[], shim::PROBE_PATH);
    match shim::parse_probe(&text) {
        Err(shim::ProbeFailure::Cuda { step, .. }) => assert_eq!(step, "dlopen", "{text}"),
        other => panic!("expected a dlopen failure, got {other:?} from {text}"),
    }
    // ldconfig inside the root links libcuda.so.1 to the versioned library by its soname.
    let lib = format!("/{}/libcuda.so.580.95.05", cudajail::engine::NV_LIB_DEST);
    let (code, text) = in_root(
        root,
        &[],
        &format!("echo 'int cuInit(int f){{return f;}}' > /tmp/c.c && cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o {lib} /tmp/c.c && /sbin/ldconfig"),
    );
    assert_eq!(code, 0, "{text}");
    let link = dir.join(format!("{}/libcuda.so.1", cudajail::engine::NV_LIB_DEST));
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_string_lossy(),
        "libcuda.so.580.95.05"
    );
    // The preload line the uvm step writes: every dynamically linked Linux program loads it.
    fs.write_beneath(
        root,
        "etc/ld.so.preload",
        shim::preload_line().as_bytes(),
        rootfs::Perm::FILE,
    )
    .unwrap();
    let (code, text) = in_root(root, &[("LD_DEBUG", "libs")], "/bin/true");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("libcudajail_uvm.so"),
        "the shim was not loaded: {text}"
    );
    fs.remove_beneath(root, "etc/ld.so.preload").unwrap();
    // A mirrored user, as the dataset step writes it, is one glibc's getent reads back.
    let (pw, gr) = cudajail::engine::linux_user_lines(
        "alice:*:1001:1001:default:0:0:Alice:/home/alice:/bin/sh",
        "alice:*:1001:\n",
    )
    .unwrap();
    let mut passwd = std::fs::read(dir.join("etc/passwd")).unwrap();
    passwd.extend_from_slice(format!("{pw}\n").as_bytes());
    fs.write_beneath(root, "etc/passwd", &passwd, rootfs::Perm::FILE)
        .unwrap();
    let mut group = std::fs::read(dir.join("etc/group")).unwrap();
    group.extend_from_slice(format!("{gr}\n").as_bytes());
    fs.write_beneath(root, "etc/group", &group, rootfs::Perm::FILE)
        .unwrap();
    let (code, text) = in_root(root, &[], "getent passwd alice && id alice");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("alice:x:1001:1001:Alice:/home/alice:/bin/bash"),
        "{text}"
    );
    assert!(text.contains("uid=1001(alice)"), "{text}");
}

#[test]
fn the_first_stage_command_line() {
    let a = cudajail::rootfs::debootstrap_args(
        Suite::Trixie,
        "/t",
        true,
        cudajail::engine::TEMPLATE_PACKAGES,
        None,
    );
    assert_eq!(
        a,
        [
            "--arch=amd64",
            "--variant=minbase",
            "--foreign",
            "--include=gcc,libc6-dev",
            "--exclude=usr-is-merged",
            "trixie",
            "/t"
        ]
    );
    let a = cudajail::rootfs::debootstrap_args(
        Suite::Noble,
        "/t",
        false,
        &[],
        Some("http://mirror.invalid/ubuntu"),
    );
    assert_eq!(
        a.last().map(String::as_str),
        Some("http://mirror.invalid/ubuntu")
    );
    assert!(!a.iter().any(|x| x.contains("usr-is-merged")));
}
