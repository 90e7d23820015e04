//! Generates the bindings with bindgen from the OpenZFS headers of the build machine.

use std::path::{Path, PathBuf};

const HINT: &str = "OpenZFS development headers not found. On Debian/Ubuntu install \
libzfslinux-dev (bookworm: from bookworm-backports) and libclang-dev; on FreeBSD build with the \
OpenZFS sources (/usr/src/sys/contrib/openzfs). Set CUDAJAIL_NO_LIBZFS=1 to build without the \
libzfs backend (the zfs crate then uses zfs(8)).";

fn main() {
    println!("cargo:rustc-check-cfg=cfg(has_libzfs)");
    println!("cargo:rerun-if-env-changed=CUDAJAIL_NO_LIBZFS");
    println!("cargo:rerun-if-env-changed=LIBZFS_INCLUDE_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if std::env::var_os("CUDAJAIL_NO_LIBZFS").is_some() {
        println!("cargo:warning=libzfs backend disabled by CUDAJAIL_NO_LIBZFS");
        return;
    }
    // A documentation build (docs.rs sets DOCS_RS) has no OpenZFS headers and needs none: the
    // crate documents itself as empty, and the zfs crate's docs describe both backends.
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    if std::env::var_os("DOCS_RS").is_some() {
        return;
    }
    if target != host {
        // A cross build (FreeBSD from Linux): the host's headers describe the host's libraries;
        // the FreeBSD link is gated and the zfs crate falls back to zfs(8).
        return;
    }
    let candidates: Vec<PathBuf> = std::env::var_os("LIBZFS_INCLUDE_DIR")
        .map(|d| vec![PathBuf::from(d)])
        .unwrap_or_else(|| {
            vec![
                PathBuf::from("/usr/include"),
                PathBuf::from("/usr/local/include"),
                PathBuf::from("/usr/src/sys/contrib/openzfs/include"),
            ]
        });
    let Some(base) = candidates
        .iter()
        .find(|d| d.join("libzfs/libzfs_core.h").exists() || d.join("libzfs_core.h").exists())
    else {
        panic!("{HINT}");
    };
    let (zfs_inc, spl_inc) = if base.join("libzfs/libzfs_core.h").exists() {
        (base.join("libzfs"), base.join("libspl"))
    } else {
        (base.clone(), base.join("../lib/libspl/include"))
    };
    let header = write_wrapper();
    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("-I{}", zfs_inc.display()))
        .clang_arg(format!("-I{}", spl_inc.display()))
        .clang_arg("-D_GNU_SOURCE")
        .allowlist_function("lzc_.*")
        .allowlist_function("libzfs_core_(init|fini)")
        .allowlist_function("nvlist_(alloc|free|add_boolean|add_string|add_uint64|add_nvlist|lookup_int32|lookup_string|lookup_nvlist|next_nvpair|exists)")
        .allowlist_function("nvpair_(name|type|value_int32|value_string|value_uint64|value_nvlist)")
        .allowlist_function("libzfs_(init|fini|errno|error_description)")
        .allowlist_function("zfs_(open|close|prop_set|prop_get|get_user_props|iter_filesystems_v2|iter_snapshots_v2|iter_filesystems|iter_snapshots|get_name|name_to_prop|prop_to_name|mount|unmount|is_mounted)")
        .allowlist_type("lzc_dataset_type|data_type_t|boolean_t|zfs_type_t|zprop_source_t|zfs_prop_t")
        .allowlist_var("NV_UNIQUE_NAME|ZFS_MAXPROPLEN|ZFS_MAX_DATASET_NAME_LEN")
        .rustified_enum("lzc_dataset_type")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| panic!("bindgen over {}: {e}\n{HINT}", zfs_inc.display()));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("bindings.rs");
    bindings.write_to_file(&out).expect("writing bindings");
    println!("cargo:rustc-link-lib=zfs_core");
    println!("cargo:rustc-link-lib=zfs");
    println!("cargo:rustc-link-lib=nvpair");
    println!("cargo:rustc-cfg=has_libzfs");
    println!("cargo:has_libzfs=1");
    println!("cargo:rerun-if-changed=build.rs");
}

fn write_wrapper() -> PathBuf {
    let p = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("wrapper.h");
    std::fs::write(
        &p,
        "#include <libzfs_core.h>\n#include <libnvpair.h>\n#include <libzfs.h>\n",
    )
    .expect("writing wrapper.h");
    p
}
