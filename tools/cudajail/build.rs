//! Builds the uvm shim (a Linux shared object), its probe program and the CUDA check when the target is Linux,
//! for the real-Linux tests. On FreeBSD the shim is built inside the jail by its own compiler
//! from the embedded source (`shim/uvm_shim.c`), since it must be a Linux object.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=shim/uvm_shim.c");
    println!("cargo:rerun-if-changed=shim/uvm_probe.c");
    println!("cargo:rerun-if-changed=shim/cuda_probe.c");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let cc = cc::Build::new().get_compiler();
    let so = out.join("libcudajail_uvm.so");
    let status = cc
        .to_command()
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&so)
        .arg("shim/uvm_shim.c")
        .arg("-ldl")
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "building the uvm shim failed");
    let probe = out.join("uvm_probe");
    let status = Command::new(cc.path())
        .args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&probe)
        .arg("shim/uvm_probe.c")
        .status()
        .expect("cc");
    assert!(status.success(), "building the uvm probe failed");
    // The CUDA check `up` builds inside the jail, built here with the same warnings-as-errors
    // so a C mistake fails the build, and run by the real-linux and gpu tests.
    let cuda_probe = out.join("cuda-probe");
    let status = Command::new(cc.path())
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&cuda_probe)
        .arg("shim/cuda_probe.c")
        .arg("-ldl")
        .status()
        .expect("cc");
    assert!(status.success(), "building the CUDA check failed");
    println!(
        "cargo:rustc-env=CUDAJAIL_CUDA_PROBE={}",
        cuda_probe.display()
    );
    println!("cargo:rustc-env=CUDAJAIL_UVM_SO={}", so.display());
    println!("cargo:rustc-env=CUDAJAIL_UVM_PROBE={}", probe.display());
}
