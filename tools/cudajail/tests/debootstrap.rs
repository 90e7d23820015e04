//! Real-Linux tier: debootstrap a Debian suite into a temporary directory through the same
//! rootfs code `up` uses (two stages, then the rootfs fixes). Needs root, debootstrap and the
//! machine's Debian mirror; ignored in the plain test run, run by `cargo xtask ci`.
#![cfg(target_os = "linux")]

use cudajail::engine::{apply_rootfs_fixes, Bootstrap};
use cudajail::rootfs::{Debootstrap, StdRootFs};
use linuxulator::Suite;
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
    .bootstrap(Suite::Bookworm, &d);
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
        "debootstrap bookworm minbase: {:.0?}, {n} packages, {} progress updates",
        t.elapsed(),
        seen.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_first_stage_command_line() {
    let a = cudajail::rootfs::debootstrap_args(Suite::Trixie, "/t", true, None);
    assert_eq!(
        a,
        [
            "--arch=amd64",
            "--variant=minbase",
            "--foreign",
            "--exclude=usr-is-merged",
            "trixie",
            "/t"
        ]
    );
    let a = cudajail::rootfs::debootstrap_args(
        Suite::Noble,
        "/t",
        false,
        Some("http://mirror.invalid/ubuntu"),
    );
    assert_eq!(
        a.last().map(String::as_str),
        Some("http://mirror.invalid/ubuntu")
    );
    assert!(!a.iter().any(|x| x.contains("usr-is-merged")));
}
