//! Real-Linux tier: the uvm shim preloaded into a real program. Ignored in the plain test run;
//! `cargo xtask ci` runs these as the real-linux tier (`cargo test -p cudajail --test uvm_shim -- --ignored`).
#![cfg(target_os = "linux")]

use std::process::Command;

fn probe(preload: bool) -> String {
    let mut c = Command::new(env!("CUDAJAIL_UVM_PROBE"));
    if preload {
        c.env("LD_PRELOAD", env!("CUDAJAIL_UVM_SO"));
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
#[ignore = "real-linux: runs a program with and without the shim"]
fn without_the_shim_there_is_no_uvm_device() {
    let out = probe(false);
    if std::path::Path::new("/dev/nvidia-uvm").exists() {
        println!("SKIP: this machine has a real /dev/nvidia-uvm");
        return;
    }
    assert!(out.contains("open_uvm -1 errno 2"), "{out}");
    assert!(out.contains("comm_fopen 0") || out.contains("comm_fopen 1"));
}

#[test]
#[ignore = "real-linux: runs a program with and without the shim"]
fn with_the_shim_uvm_opens_dev_null_and_initialize_says_not_supported() {
    let out = probe(true);
    // A descriptor number past 65536 (the old shim's fixed table ended there) needs a higher
    // RLIMIT_NOFILE, which root may set.
    if out.contains("high_fd_skipped") {
        println!("SKIP: high descriptor numbers (cannot raise RLIMIT_NOFILE to 70001 here)");
    } else {
        assert!(out.contains("high_fd_init rc 0 status 0x56"), "{out}");
    }
    for line in [
        "open_uvm 0 errno 0",
        "uvm_is_devnull 1",
        "uvm_init rc 0 status 0x56",
        "uvm_deinit rc 0",
        // Other requests on the same descriptor reach the real ioctl (/dev/null: ENOTTY).
        "uvm_other_ioctl rc -1 errno 25",
        // The UVM request on a descriptor the shim did not open goes through too.
        "devnull_init rc -1 errno 25 status 0xffffffff",
        // Copies of the uvm descriptor answer as it does, whatever their number.
        "dup_init rc 0 status 0x56",
        "dup2_init rc 0 status 0x56",
        "dup3_init rc 0 status 0x56",
        "fcntl_dupfd_init rc 0 status 0x56",
        // Closed ones (close, close_range) are forgotten, and a dup2 over a copy replaces it:
        // /dev/null's own answer (ENOTTY, status untouched).
        "after_close_range_init rc -1 status 0xffffffff",
        "dup2_over_copy_init rc -1 status 0xffffffff",
        "stale_after_close_range_init rc -1 status 0xffffffff",
        // Other opens are untouched.
        "passthrough_open -1 errno 2",
        // CUDA's thread-naming write goes to /dev/null.
        "comm_fopen 1",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn the_shim_source_is_embedded_for_building_inside_a_jail() {
    assert!(cudajail::shim::UVM_SHIM_C.contains("CJ_UVM_INITIALIZE 0x30000001UL"));
    assert!(cudajail::shim::BUILD_COMMAND.contains("-shared"));
}
