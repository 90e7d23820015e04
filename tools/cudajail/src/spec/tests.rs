//! The spec's validation, field by field.
use super::*;

#[test]
fn default_spec_is_valid() {
    let v = Spec::default().validate(None).unwrap();
    assert_eq!(v.name.as_str(), "cuda");
    assert_eq!(v.pool.as_str(), "zroot");
    assert_eq!(v.osrelease.to_string(), "6.8.0");
    assert_eq!(parse("").unwrap(), Spec::default());
}

#[test]
fn hostile_specs_get_short_clear_errors() {
    let deep = format!("x = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = parse(&deep).unwrap_err();
    assert!(
        e.contains("recursion limit") && e.len() < 1000,
        "{}",
        e.len()
    );
    let big = format!("name = \"a\"\n#{}\n", "x".repeat(MAX_SPEC_BYTES));
    assert!(parse(&big).unwrap_err().contains("more than"));
}

#[test]
fn bind_targets_may_not_overlap_what_cudajail_manages() {
    for bad in [
        "dev",
        "/dev/x",
        "usr",
        "usr/lib",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib/x86_64-linux-gnu/sub",
        "etc/ssl",
        "tmp",
        "proc",
        "usr/local",
        "sys/fs",
    ] {
        let e = parse(&format!(
            "[[binds]]\nhost = \"/data\"\ntarget = \"{bad}\"\n"
        ))
        .unwrap()
        .validate(None)
        .unwrap_err();
        assert_eq!(e[0].field, "binds[0].target", "{bad}");
        assert!(e[0].to_string().contains("overlaps"), "{bad}: {}", e[0]);
    }
    for good in [
        "models",
        "mnt/data",
        "srv/x",
        "usr/share/models",
        "devices",
        "etcetera",
        "home/alice/data",
    ] {
        assert!(
            parse(&format!(
                "[[binds]]\nhost = \"/data\"\ntarget = \"{good}\"\n"
            ))
            .unwrap()
            .validate(None)
            .is_ok(),
            "{good}"
        );
    }
    // The list names what the engine really manages.
    assert!(MANAGED_PATHS.contains(&crate::engine::NV_LIB_DEST));
    assert!(overlapping_managed_path(crate::shim::SHIM_PATH.trim_start_matches('/')).is_some());
    assert!(overlapping_managed_path(crate::shim::PROBE_PATH.trim_start_matches('/')).is_some());
}

#[test]
fn all_problems_at_once_with_field_paths() {
    let s = parse(
        r#"
name = "a/b"
suite = "sid"
gpus = "some"
ruleset = 4
osrelease = "5"
shm_size = "lots"
ip4 = "maybe"
[[binds]]
host = "relative"
target = "../x"
"#,
    )
    .unwrap();
    let errs = s.validate(None).unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "suite",
            "gpus",
            "ruleset",
            "osrelease",
            "shm_size",
            "binds[0].host",
            "binds[0].target",
            "ip4"
        ]
    );
}

#[test]
fn nvidia_run_must_be_nvidias_installer_by_absolute_path() {
    let check = |r: &str| {
        Spec {
            nvidia_run: Some(r.into()),
            ..Spec::default()
        }
        .validate(None)
        .map(|v| v.spec.nvidia_run.unwrap())
        .map_err(|e| e[0].to_string())
    };
    assert!(check("/root/NVIDIA-Linux-x86_64-580.95.05.run").is_ok());
    for bad in [
        "NVIDIA-Linux-x86_64-580.95.05.run",
        "/root/../etc/NVIDIA-Linux-x86_64-580.95.05.run",
        "/root/NVIDIA-Linux-aarch64-580.95.05.run",
        "/root/NVIDIA-Linux-x86_64-580.run",
        "/root/NVIDIA-Linux-x86_64-580.95.05.run.sh",
        "/root/evil; rm -rf /",
    ] {
        let e = check(bad).unwrap_err();
        assert!(e.starts_with("nvidia_run: "), "{bad}: {e}");
    }
    assert_eq!(
        run_file_version("/x/NVIDIA-Linux-x86_64-580.95.05.run"),
        Some("580.95.05")
    );
}

proptest::proptest! {
    #[test]
    fn run_file_version_never_panics_and_round_trips(
        s in "\\PC*",
        parts in proptest::collection::vec(0u32..100_000, 2..4),
    ) {
        let _ = run_file_version(&s);
        let v = parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        let path = format!("/d/NVIDIA-Linux-x86_64-{v}.run");
        proptest::prop_assert_eq!(run_file_version(&path), Some(v.as_str()));
    }
}

#[test]
fn unknown_fields_are_refused() {
    assert!(parse("nmae = \"x\"").unwrap_err().contains("unknown field"));
}

#[test]
fn osrelease_may_carry_a_suffix_as_linux_map_osrel_allows() {
    let v = parse("osrelease = \"6.8.0-45-generic\"")
        .unwrap()
        .validate(None)
        .unwrap();
    assert_eq!(v.osrelease.to_string(), "6.8.0-45-generic");
    assert_eq!(v.osrelease.version, linuxulator::LinuxRelease(6, 8, 0));
    let p = crate::plan::build(&v, &[], false).unwrap();
    assert!(p.to_string().contains("6.8.0-45-generic"), "{p}");
    let e = parse("osrelease = \"6.8.0-\"")
        .unwrap()
        .validate(None)
        .unwrap_err();
    assert_eq!(e[0].field, "osrelease");
}

#[test]
fn low_osrelease_for_the_suite() {
    let s = parse("osrelease = \"2.6.32\"").unwrap();
    let e = s.validate(None).unwrap_err();
    assert!(e[0].message.contains("minimum kernel"), "{:?}", e);
}

#[test]
fn gpus_of_the_wrong_shape_say_what_to_write() {
    for (text, want) in [
        ("gpus = 0", "for one GPU write gpus = [0]"),
        ("gpus = [0, \"a\"]", "\"a\" is not a GPU minor"),
        ("gpus = [300]", "300 is not a GPU minor"),
        ("gpus = true", "expected \"all\" or a list of GPU minors"),
    ] {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
        assert!(!e.contains("untagged enum"), "{text}: {e}");
    }
    assert_eq!(parse("gpus = [0, 2]").unwrap().gpus, Gpus::List(vec![0, 2]));
    assert_eq!(
        parse("gpus = \"all\"").unwrap().gpus,
        Gpus::Word("all".into())
    );
}

#[test]
fn network_says_what_it_does_and_the_old_ip4_is_refused_with_the_new_spelling() {
    let v = parse("network = \"none\"").unwrap().validate(None).unwrap();
    assert_eq!(crate::plan::jail_net(&v.spec.network), "new");
    let e = parse("ip4 = \"new\"").unwrap().validate(None).unwrap_err();
    assert!(
        e.iter()
            .any(|p| p.field == "ip4" && p.message.contains("network = \"none\"")),
        "{e:?}"
    );
    let e = parse("network = \"new\"")
        .unwrap()
        .validate(None)
        .unwrap_err();
    assert!(e[0].message.contains("\"inherit\""), "{e:?}");
}
