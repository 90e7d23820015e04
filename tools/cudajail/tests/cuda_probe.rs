//! The CUDA check `up` runs inside the jail (`shim/cuda_probe.c`), as a real program.
//! real-linux tier: on a machine without the NVIDIA driver it must fail cleanly at dlopen.
//! gpu tier: on a machine with an NVIDIA GPU it must agree with nvidia-smi and create a context.
#![cfg(target_os = "linux")]

mod common;

use cudajail::shim::{parse_probe, ProbeFailure};
use std::path::Path;
use std::process::Command;

/// The built programs; the environment may point elsewhere (a copy on another machine).
fn built(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn run_probe(preload: Option<&str>) -> (i32, String) {
    let mut c = Command::new(built("CUDAJAIL_CUDA_PROBE", env!("CUDAJAIL_CUDA_PROBE")));
    if let Some(p) = preload {
        c.env("LD_PRELOAD", p);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn has_libcuda() -> bool {
    Command::new("/sbin/ldconfig")
        .arg("-p")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libcuda.so.1"))
}

#[test]
#[ignore = "real-linux: runs the CUDA check on this machine"]
fn without_the_nvidia_driver_the_check_fails_at_dlopen() {
    if has_libcuda() {
        println!("SKIP: this machine has libcuda.so.1 (the gpu test covers it)");
        return;
    }
    let (code, out) = run_probe(None);
    assert_eq!(code, 3, "{out}");
    match parse_probe(&out) {
        Err(ProbeFailure::Cuda { step, name, .. }) => {
            assert_eq!(step, "dlopen");
            assert!(name.contains("libcuda.so.1"), "{name}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
#[ignore = "gpu: runs the CUDA check against the real driver and nvidia-smi"]
fn on_a_gpu_machine_the_check_agrees_with_nvidia_smi() {
    if !Path::new("/dev/nvidiactl").exists() {
        println!("SKIP: no /dev/nvidiactl on this machine");
        return;
    }
    let (code, out) = run_probe(None);
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    let r = parse_probe(&out).unwrap();
    common::assert_agrees_with_nvidia_smi(&r);
    // What the same check does with the uvm shim preloaded on Linux, where a real nvidia-uvm
    // exists (the shim is meant for FreeBSD, which has none): printed, not asserted.
    let so = built("CUDAJAIL_UVM_SO", env!("CUDAJAIL_UVM_SO"));
    let (code, out) = run_probe(Some(&so));
    println!("with the uvm shim preloaded (Linux, informational): exit {code}\n{out}");
}

/// Runs `script` in a private mount namespace where `/dev` is a read-only copy holding the
/// NVIDIA nodes except `nvidia-uvm*` — FreeBSD's situation: the same Linux libcuda, no UVM device,
/// and no way for libcuda's nvidia-modprobe to create one. `None` when the namespace cannot be
/// made (not root, no unshare).
fn without_uvm(script: &str) -> Option<String> {
    let setup = r#"set -e
d=$(mktemp -d)
mount -t tmpfs none "$d"
for n in /dev/nvidia*; do case $n in *uvm*) ;; *) cp -a "$n" "$d/" ;; esac; done
for n in null zero urandom random full tty; do cp -a /dev/$n "$d/" 2>/dev/null || true; done
mkdir -p "$d/shm"
mount -t tmpfs none "$d/shm"
mount --bind "$d" /dev
mount -o remount,bind,ro /dev
test ! -e /dev/nvidia-uvm
echo READY
set +e
"#;
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup}{script}"))
        .output()
        .ok()?;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let ready = out.lines().position(|l| l == "READY")?;
    Some(out.lines().skip(ready + 1).collect::<Vec<_>>().join("\n") + "\n")
}

#[test]
#[ignore = "gpu: root, reproduces FreeBSD's missing nvidia-uvm on Linux"]
fn without_nvidia_uvm_cuda_fails_and_the_uvm_shim_makes_it_work() {
    if !Path::new("/dev/nvidiactl").exists() {
        println!("SKIP: no /dev/nvidiactl on this machine");
        return;
    }
    let probe = built("CUDAJAIL_CUDA_PROBE", env!("CUDAJAIL_CUDA_PROBE"));
    let so = built("CUDAJAIL_UVM_SO", env!("CUDAJAIL_UVM_SO"));
    let Some(plain) = without_uvm(&format!("'{probe}'")) else {
        println!("SKIP: cannot make a private /dev without nvidia-uvm (needs root and unshare)");
        return;
    };
    println!("without nvidia-uvm, no shim:\n{plain}");
    match parse_probe(&plain) {
        Err(ProbeFailure::Cuda { step, .. }) => assert_eq!(step, "cuInit", "{plain}"),
        other => panic!("CUDA worked without nvidia-uvm and without the shim: {other:?}"),
    }
    let shimmed = without_uvm(&format!("LD_PRELOAD='{so}' '{probe}'")).unwrap();
    println!("without nvidia-uvm, uvm shim preloaded:\n{shimmed}");
    let r = parse_probe(&shimmed).unwrap();
    assert!(!r.gpus.is_empty());
    assert!(r.gpus.iter().all(|g| g.ctx_ok), "{shimmed}");
}
