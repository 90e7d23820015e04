//! Privileged tests on a real FreeBSD kernel: `sudo cargo test -p kld-rs -- --ignored`.
#![cfg(target_os = "freebsd")]

use kld::{ErrorKind, KldHost, KldOps};
use sysabi::testing::{require_root, skip};

/// A small base-system module that GENERIC does not load: the discard network interface.
const MODULE: &str = "if_disc";

#[test]
#[ignore = "root: loads and unloads a kernel module"]
fn load_find_list_unload() {
    require_root();
    let h = KldHost;
    if h.find(MODULE).unwrap().is_some() {
        return skip("if_disc is already loaded; not touching a module someone else uses");
    }
    let id = h.load(MODULE).unwrap();
    assert_eq!(h.find(MODULE).unwrap(), Some(id));
    assert!(h.modfind("if_disc").unwrap());
    let files = h.list().unwrap();
    assert_eq!(files[0].name, "kernel");
    assert!(files
        .iter()
        .any(|f| f.id == id && f.path.ends_with("if_disc.ko")));
    assert_eq!(h.load(MODULE).unwrap_err().kind(), ErrorKind::AlreadyExists);
    h.unload(id, false).unwrap();
    assert_eq!(h.find(MODULE).unwrap(), None);
    assert_eq!(h.unload(id, false).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
#[ignore = "root: asks the kernel to load a module that does not exist"]
fn unknown_module_is_not_found() {
    require_root();
    assert_eq!(
        KldHost.load("cudajail_no_such_module").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn listing_needs_no_privilege() {
    let files = KldHost.list().unwrap();
    assert_eq!(files[0].id.0, 1, "the kernel is file 1");
    assert!(files[0].modules.iter().any(|m| !m.is_empty()));
}
