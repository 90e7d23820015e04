//! The uvm shim: its C source, embedded so `cudajail up` can build it inside the jail with the
//! jail's own (Linux) compiler, and how it is wired in.
//!
//! It is loaded through the Linux root's `/etc/ld.so.preload`, which only Linux's dynamic
//! linker reads: FreeBSD programs never see it (the `LD_PRELOAD` leak that breaks FreeBSD
//! binaries with "Shared object libdl.so.2 not found" cannot happen).

/// The shim's C source.
pub const UVM_SHIM_C: &str = include_str!("../shim/uvm_shim.c");

/// Where the shim goes inside the Linux root.
pub const SHIM_PATH: &str = "/usr/local/lib/cudajail/libcudajail_uvm.so";

/// The command that builds it inside the jail (run by `up` through `jexec`).
pub const BUILD_COMMAND: &str =
    "cc -shared -fPIC -O2 -o /usr/local/lib/cudajail/libcudajail_uvm.so /usr/local/lib/cudajail/uvm_shim.c -ldl";

/// The line added to the Linux root's `/etc/ld.so.preload`.
pub fn preload_line() -> String {
    format!("{SHIM_PATH}\n")
}
