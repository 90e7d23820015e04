//! gpu tier (#13): the template `up` builds passes the CUDA check in a chroot standing in for
//! the jail, with the host's NVIDIA user-space libraries copied in the way `up` copies them.
//!
//! The template is the one the real-linux tier debootstraps (minbase + `TEMPLATE_PACKAGES`, the
//! rootfs fixes, the uvm shim and the CUDA check built inside by the template's own compiler),
//! exported by `cargo xtask gpu-kit` because a GPU machine may have no network to debootstrap.
//! Inside the chroot `/dev` holds only NVIDIA's nodes without `nvidia-uvm` (FreeBSD has none)
//! and the basic character devices, read-only (no node can be made, as in a jail's devfs), `/dev/shm` is a tmpfs, and `/proc` and `/sys` are mounted,
//! as the Linux mount set gives a jail linprocfs and linsysfs. Then, as `up` does: the libraries
//! of exactly the driver's version are copied beneath the root (`rootfs::Beneath::copy_in`),
//! `ldconfig` runs inside, the CUDA check runs without the shim (it must fail at `cuInit`, as
//! on FreeBSD) and with `/etc/ld.so.preload` naming the shim (it must pass and agree with
//! `nvidia-smi`).
//!
//! `CUDAJAIL_GPU_ROOT=<root.tar.xz> cargo test -p cudajail --test gpu_root -- --ignored`
//! (root; a machine with an NVIDIA GPU).
#![cfg(target_os = "linux")]

mod common;

use cudajail::engine::{nvidia_lib_version, RootFs, NV_LIB_DEST};
use cudajail::shim::{self, parse_probe, ProbeFailure};
use rootfs::{Beneath, Perm};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the host's `libcuda.so.1`, as the host's `ldconfig -p` knows it.
fn host_libcuda_dir() -> Option<PathBuf> {
    let o = Command::new("/sbin/ldconfig").arg("-p").output().ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let path = text
        .lines()
        .filter(|l| l.trim_start().starts_with("libcuda.so.1 ") && l.contains("x86-64"))
        .find_map(|l| l.split("=> ").nth(1))?;
    std::fs::canonicalize(path.trim())
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

/// Runs `script` in a private mount namespace after making the root's `/dev`, `/proc`, `/sys`
/// (unmounted when the namespace ends); what it printed after the set-up.
fn in_namespace(root: &str, script: &str) -> String {
    let setup = format!(
        r#"set -e
r='{root}'
mount -t tmpfs -o mode=755 none "$r/dev"
for n in /dev/nvidia*; do [ -e "$n" ] || continue; case $n in *uvm*) ;; *) cp -a "$n" "$r/dev/" ;; esac; done
for n in null zero urandom random full tty; do cp -a /dev/$n "$r/dev/" 2>/dev/null || true; done
mkdir -p "$r/dev/shm"
mount -t tmpfs -o mode=1777 none "$r/dev/shm"
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys" 2>/dev/null || mount --rbind /sys "$r/sys"
test ! -e "$r/dev/nvidia-uvm"
mount -o remount,ro "$r/dev"
echo READY
set +e
"#
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup}{script}"))
        .output()
        .expect("unshare");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let ready = out
        .lines()
        .position(|l| l == "READY")
        .unwrap_or_else(|| panic!("setting up the chroot's mounts failed:\n{out}\n{err}"));
    out.lines().skip(ready + 1).collect::<Vec<_>>().join("\n") + "\n"
}

fn chroot_cmd(root: &str, cmd: &str) -> String {
    format!("chroot '{root}' /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c '{cmd}'")
}

#[test]
#[ignore = "gpu: root, the exported template (CUDAJAIL_GPU_ROOT) and an NVIDIA GPU"]
fn the_template_passes_the_cuda_check_in_a_chroot() {
    if !Path::new("/dev/nvidiactl").exists() {
        println!("SKIP: no /dev/nvidiactl on this machine");
        return;
    }
    let Ok(tarball) = std::env::var("CUDAJAIL_GPU_ROOT") else {
        println!(
            "SKIP: CUDAJAIL_GPU_ROOT is not set (make the template with `cargo xtask gpu-kit`)"
        );
        return;
    };
    assert!(
        sysabi::testing::is_root(),
        "this test mounts and chroots: run it as root"
    );
    // The kernel driver's version, asked as `up` asks it (nvgpu's version escape).
    let version = nvgpu::Driver::open(nvgpu::NativeTransport::new())
        .expect("opening the NVIDIA driver")
        .version()
        .to_string();
    let libdir = host_libcuda_dir().expect("the host's libcuda.so.1 (ldconfig -p)");
    let dir = std::env::temp_dir().join(format!("cudajail-gpu-root-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.to_str().unwrap().to_string();
    let t = std::time::Instant::now();
    let st = Command::new("tar")
        .args(["-C", &root, "--numeric-owner", "-xJf", &tarball])
        .status()
        .unwrap();
    assert!(st.success(), "unpacking {tarball}");
    println!("template unpacked in {:.1?}", t.elapsed());
    assert!(
        dir.join(shim::PROBE_PATH.trim_start_matches('/')).exists(),
        "the template has no CUDA check built inside: export it again"
    );

    // The libraries of exactly the driver's version, copied beneath the root as `up` copies
    // them (host_nvidia_libs + install_nvidia: the same name filter, mode 0644).
    let fs = Beneath;
    let mut copied = Vec::new();
    for e in std::fs::read_dir(&libdir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if nvidia_lib_version(&name) == Some(version.as_str()) {
            let src = libdir.join(&name);
            fs.copy_in(
                src.to_str().unwrap(),
                &root,
                &format!("{NV_LIB_DEST}/{name}"),
                Perm::FILE,
            )
            .unwrap();
            copied.push(name);
        }
    }
    copied.sort();
    println!(
        "driver {version}: copied {} libraries from {}: {}",
        copied.len(),
        libdir.display(),
        copied.join(" ")
    );
    assert!(
        copied.iter().any(|f| f.starts_with("libcuda.so.")),
        "no libcuda.so.{version} in {}",
        libdir.display()
    );

    // ldconfig inside (the `nvidia` step), then the check without the shim: no nvidia-uvm, so
    // cuInit must fail as it does on FreeBSD.
    let probe = shim::PROBE_PATH;
    let out = in_namespace(
        &root,
        &format!(
            "{}\necho LDCONFIG $?\n{}\n",
            chroot_cmd(&root, "/sbin/ldconfig"),
            chroot_cmd(&root, probe)
        ),
    );
    println!("ldconfig, then the CUDA check without the shim:\n{out}");
    assert!(out.contains("LDCONFIG 0"), "{out}");
    let link = dir.join(format!("{NV_LIB_DEST}/libcuda.so.1"));
    let target = std::fs::read_link(&link).expect("ldconfig made libcuda.so.1");
    assert_eq!(target.to_string_lossy(), format!("libcuda.so.{version}"));
    let plain = out
        .split_once("LDCONFIG 0\n")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();

    // The uvm step's preload line: every Linux program in the root loads the shim.
    fs.write_beneath(
        &root,
        "etc/ld.so.preload",
        shim::preload_line().as_bytes(),
        Perm::FILE,
    )
    .unwrap();
    let out = in_namespace(&root, &chroot_cmd(&root, probe));
    println!("the CUDA check with the shim preloaded (/etc/ld.so.preload):\n{out}");
    let r = parse_probe(&out).unwrap_or_else(|e| panic!("{e:?}\n{out}"));
    common::assert_agrees_with_nvidia_smi(&r);
    // Asserted after the shim's result, so that a surprise here cannot hide that one.
    match parse_probe(&plain) {
        Err(ProbeFailure::Cuda { step, .. }) => assert_eq!(step, "cuInit", "{plain}"),
        other => panic!("CUDA worked without nvidia-uvm and without the shim: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
