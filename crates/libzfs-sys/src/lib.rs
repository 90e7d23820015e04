//! Raw bindings to OpenZFS `libzfs_core`, `libnvpair` and a few `libzfs` calls, generated at
//! build time by bindgen from the headers installed on the build machine (no foreign header text
//! is committed). Use the `zfs` crate's safe API instead of this one.
//!
//! The bindings exist when the build script found the headers (`has_libzfs`); when it did not
//! (a cross build for FreeBSD from Linux, or `CUDAJAIL_NO_LIBZFS=1`), this crate is empty and the
//! `zfs` crate uses its `zfs(8)` backend. The build fails, naming the package to install, when a
//! native build cannot find the headers.
//!
//! # References
//! OpenZFS `include/libzfs_core.h`, `include/sys/nvpair.h`, `include/libzfs.h`.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::all
)]
#![allow(unsafe_code, unsafe_op_in_unsafe_fn)]

#[cfg(has_libzfs)]
include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
