//! Privileged tests on a real FreeBSD kernel: `sudo cargo test -p devfs-rs -- --ignored`.
#![cfg(target_os = "freebsd")]

use devfs::{DevfsHost, DevfsOps, Rule, RulesetId};
use linuxulator::{LinuxHost, MountFlags, MountOps, MountSpec};
use std::path::Path;
use sysabi::testing::{require_root, unique};

#[test]
#[ignore = "root: creates a devfs ruleset and a devfs mount"]
fn ruleset_on_a_private_devfs_mount() {
    require_root();
    let root = std::env::temp_dir().join(unique("devfsroot"));
    std::fs::create_dir_all(root.join("dev")).unwrap();
    let spec = MountSpec {
        fstype: "devfs".into(),
        from: "devfs".into(),
        target: "dev".into(),
        options: vec![],
        flags: MountFlags::empty(),
    };
    let dev = LinuxHost.mount(root.to_str().unwrap(), &spec).unwrap();
    let mp = Path::new(&dev);
    let used = DevfsHost.rulesets(mp).unwrap();
    let rs = devfs::types::first_free(&used, 1000).unwrap();
    DevfsHost.add_rule(mp, rs, &Rule::hide_all()).unwrap();
    let id = DevfsHost.add_rule(mp, rs, &Rule::unhide("null")).unwrap();
    assert_eq!(id.rule, 200, "the kernel numbers rules last + 100");
    assert_eq!(DevfsHost.rules(mp, rs).unwrap().len(), 2);
    DevfsHost.use_ruleset(mp, rs).unwrap();
    DevfsHost.apply_ruleset(mp, rs).unwrap();
    let names: Vec<String> = std::fs::read_dir(mp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["null"], "only null is visible");
    // Live re-apply after widening the ruleset.
    DevfsHost.add_rule(mp, rs, &Rule::unhide("zero")).unwrap();
    DevfsHost.apply_ruleset(mp, rs).unwrap();
    assert!(mp.join("zero").exists());
    assert_eq!(devfs::delete_ruleset(&DevfsHost, mp, rs).unwrap(), 3);
    LinuxHost.unmount(&dev, MountFlags::empty()).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let _ = RulesetId(0);
}
