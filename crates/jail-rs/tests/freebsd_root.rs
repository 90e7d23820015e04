//! Privileged tests on a real FreeBSD kernel: `sudo cargo test -p jail-rs -- --ignored`.
#![cfg(target_os = "freebsd")]

use jail::{ErrorKind, JailCommandExt, JailHost, JailName, JailOps, JailSpec, ParamValue};
use sysabi::testing::{require_root, unique};

struct Guard(Option<jail::Jid>);
impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(j) = self.0.take() {
            let _ = JailHost.remove(j);
        }
    }
}

#[test]
#[ignore = "root: creates jails"]
fn create_get_list_update_attach_remove() {
    require_root();
    let root = std::env::temp_dir().join(unique("jailroot"));
    std::fs::create_dir_all(&root).unwrap();
    let name = JailName::new(&unique("rstest")).unwrap();
    let spec = JailSpec::new(name.clone(), root.to_str().unwrap())
        .param("persist", ParamValue::Bool(true))
        .param("host.hostname", ParamValue::Str("rstest".into()));
    let jid = JailHost.create(&spec).unwrap();
    let mut g = Guard(Some(jid));
    let got = JailHost.get(&name).unwrap().unwrap();
    assert_eq!(got.jid, jid);
    assert_eq!(got.path, root.to_str().unwrap());
    assert!(JailHost
        .list()
        .unwrap()
        .iter()
        .any(|j| j.jid == jid && j.name == name.as_str()));
    assert_eq!(
        JailHost.create(&spec).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    JailHost
        .update(
            jid,
            &[("host.hostname".into(), ParamValue::Str("renamed".into()))],
        )
        .unwrap();
    let got = JailHost.get(&name).unwrap().unwrap();
    assert!(
        got.params
            .contains(&("host.hostname".into(), ParamValue::Str("renamed".into()))),
        "{:?}",
        got.params
    );
    assert!(got
        .params
        .contains(&("persist".into(), ParamValue::Bool(true))));
    JailHost.remove(jid).unwrap();
    g.0 = None;
    assert!(JailHost.get(&name).unwrap().is_none());
    assert_eq!(
        JailHost.remove(jid).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
#[ignore = "root: asks the kernel to create jails it must refuse"]
fn the_kernel_refuses_bad_roots_and_params_and_says_why() {
    require_root();
    let file = std::env::temp_dir().join(unique("notadir"));
    std::fs::write(&file, b"x").unwrap();
    let name = JailName::new(&unique("rsbad")).unwrap();
    let e = JailHost
        .create(
            &JailSpec::new(name.clone(), file.to_str().unwrap())
                .param("persist", ParamValue::Bool(true)),
        )
        .unwrap_err();
    assert_eq!(e.errno(), Some(jail::Errno::ENOTDIR), "{e}");
    std::fs::remove_file(&file).unwrap();
    assert!(JailHost.get(&name).unwrap().is_none(), "nothing created");
}

#[test]
#[ignore = "root: creates a jail and runs a command in it"]
fn a_command_runs_inside_the_jail() {
    require_root();
    // Rooted at / so that /bin/hostname exists inside; host=new gives it its own hostname.
    let name = JailName::new(&unique("rsexec")).unwrap();
    let spec = JailSpec::new(name, "/")
        .param("persist", ParamValue::Bool(true))
        .param("host", ParamValue::Sys(jail::JailSys::New))
        .param("host.hostname", ParamValue::Str("rsexec-host".into()));
    let jid = JailHost.create(&spec).unwrap();
    let _g = Guard(Some(jid));
    let out = std::process::Command::new("/bin/hostname")
        .jail(jid)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "rsexec-host");
}

#[test]
#[ignore = "root: creates an unnamed jail with jail(8)"]
fn a_foreign_unnamed_jail_is_listed_by_its_jid_name() {
    // jail(8) without `name=` makes a jail the kernel names by its jid (kern_jail.c,
    // kern_jail_set: "If there is no name, use the jid"). JailName refuses all-digit names, so
    // listing used to fail on such a host.
    require_root();
    let root = std::env::temp_dir().join(unique("unnamed"));
    std::fs::create_dir_all(&root).unwrap();
    let out = std::process::Command::new("jail")
        .args(["-i", "-c", "persist"])
        .arg(format!("path={}", root.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let g = Guard(Some(jail::Jid(jid)));
    let all = JailHost.list().unwrap();
    let j = all.iter().find(|j| j.jid.0 == jid).expect("listed");
    assert_eq!(j.name, jid.to_string());
    assert!(
        j.jail_name().is_none(),
        "not a name this crate would create"
    );
    drop(g);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
#[ignore = "root: compares the resolver with jail(8) -e on the rule corpus"]
fn the_rule_corpus_resolves_like_jail_e() {
    // jail -f FILE -e SEP prints each jail's parameters as jail(8) resolved them, quoted by
    // jail.c's quoted_print; `Resolved::exhibit` must print the same bytes.
    require_root();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/jail8");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
    {
        let out = std::process::Command::new("jail")
            .arg("-f")
            .arg(f)
            .args(["-e", " "])
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let c = jail::conf::JailConf::parse(&text, &f.display().to_string()).unwrap();
        let ours: Vec<String> = c
            .resolve_all()
            .unwrap()
            .iter()
            .map(|r| r.exhibit(" "))
            .collect();
        assert_eq!(
            ours.join("\n"),
            theirs,
            "{}: jail -e says\n{theirs}",
            f.display()
        );
    }
}
