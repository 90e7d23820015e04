//! Enables the libzfs_core backend (`cfg(has_libzfs)`) when libzfs-sys generated bindings.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_libzfs)");
    if std::env::var_os("DEP_ZFS_CORE_HAS_LIBZFS").is_some() {
        println!("cargo:rustc-cfg=has_libzfs");
    }
}
