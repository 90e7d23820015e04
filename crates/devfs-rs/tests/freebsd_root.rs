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

/// Files loaded through FreeBSD's own rc.subr (`devfs_rulesets_from_file`) into scratch
/// rulesets 64001…, then read back from the kernel: every rule devfs::load says loads must be
/// there with the same bytes (`struct devfs_rule`), and a file it says stops at a line must
/// make rc.subr fail with exactly the rules before that line loaded.
#[test]
#[ignore = "root: loads devfs.rules files with rc.subr into rulesets 64001-64010"]
fn rc_subr_loads_what_devfs_load_says() {
    use devfs::codec::RawRule;
    use devfs::load::{Loader, NameLookup, NameTable};
    use devfs::{Action, RuleId};
    require_root();
    let names = NameTable::from_files(
        &std::fs::read_to_string("/etc/passwd").unwrap(),
        &std::fs::read_to_string("/etc/group").unwrap(),
    );
    let cases = [
        "[t_a=64001]\nadd path 'a\\*b' unhide\nadd path \"a\\\\*b\" hide\nadd path nvidia0 \\\n  unhide mode u=rw,g=rw group operator\n",
        "[t_b=64002]\nadd 0\nadd path null user -1\nadd type disk path 'da*' unhide mode 0640\nadd include $devfsrules_unhide_basic\n# c\nadd path web#1 unhide # t\n",
        "[t_c=64003]\nadd path x unhide\nadd path y group no_such_group_here\nadd path z unhide\n",
        "[t_d=64004]\nadd path x unhide\nadd unhide path y\nadd path z unhide\n",
        "[t_e=64005]\nadd 100 hide\nadd 100 unhide\n",
    ];
    let dev = Path::new("/dev");
    for text in cases {
        let file = std::env::temp_dir().join(unique("devfs.rules"));
        std::fs::write(&file, text).unwrap();
        let mut l = Loader::new(Some(&names as &dyn NameLookup));
        l.load_stock();
        let r = l.load(text.as_bytes());
        let st = std::process::Command::new("/bin/sh")
            .arg("-c")
            // The stock names as devfs_init_rulesets leaves them, without reloading 1-5.
            .arg(
                ". /etc/rc.subr; devfsrules_hide_all=1; devfsrules_unhide_basic=2; \
                 devfsrules_unhide_login=3; devfsrules_jail=4; devfsrules_jail_vnet=5; \
                 devfs_rulesets_from_file \"$1\"",
            )
            .arg("sh")
            .arg(&file)
            .status()
            .unwrap();
        assert_eq!(st.success(), r.loads_at_boot(), "{text}: {:?}", r.problems);
        for set in &r.sets {
            let want: Vec<[u8; 236]> = set
                .rules
                .iter()
                .filter(|x| r.stops_at.is_none_or(|s| x.line < s))
                .map(|x| {
                    let mut rule = x.rule.clone();
                    rule.number = Some(x.number);
                    for a in &mut rule.actions {
                        match a {
                            Action::UserName(n) => *a = Action::User(names.uid(n).unwrap()),
                            Action::GroupName(n) => *a = Action::Group(names.gid(n).unwrap()),
                            _ => {}
                        }
                    }
                    let id = RuleId {
                        ruleset: set.id,
                        rule: x.number,
                    };
                    RawRule::from_rule(&rule, id).unwrap().to_bytes()
                })
                .collect();
            let got: Vec<[u8; 236]> = DevfsHost
                .rules(dev, set.id)
                .unwrap_or_default()
                .iter()
                .map(|k| {
                    let id = RuleId {
                        ruleset: set.id,
                        rule: k.number.unwrap(),
                    };
                    RawRule::from_rule(k, id).unwrap().to_bytes()
                })
                .collect();
            assert_eq!(got, want, "{text}");
            // And `devfs rule show` prints what show_line says it prints.
            let shown = std::process::Command::new("/sbin/devfs")
                .args(["rule", "-s", &set.id.0.to_string(), "show"])
                .output()
                .unwrap();
            let shown = String::from_utf8_lossy(&shown.stdout);
            let ours: Vec<String> = set
                .rules
                .iter()
                .filter(|x| r.stops_at.is_none_or(|s| x.line < s))
                .map(|x| devfs::load::show_line(&x.rule, x.number, &names))
                .collect();
            assert_eq!(shown.lines().collect::<Vec<_>>(), ours, "{text}");
            let _ = devfs::delete_ruleset(&DevfsHost, dev, set.id);
        }
        std::fs::remove_file(&file).unwrap();
    }
}
