//! The parser, resolver and printer against hand-written cases and properties.
use super::*;
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

fn corpus() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(DIR)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "conf"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_corpus_parses_resolves_round_trips_and_formats_stably() {
    let files = corpus();
    assert!(files.len() >= 15, "{} files", files.len());
    for (name, text) in files {
        let c = JailConf::parse(&text, &name).unwrap_or_else(|e| panic!("{e}"));
        let printed = c.to_string();
        let again = JailConf::parse(&printed, &name)
            .unwrap_or_else(|e| panic!("{name} reprinted: {e}\n{printed}"));
        assert_eq!(again, c, "{name}: print → parse");
        assert_eq!(again.to_string(), printed, "{name}: fmt is stable");
        let c = c.expand_includes(DIR, &StdConfFs).unwrap();
        let jails = c.jails();
        assert!(
            !jails.is_empty() || name.contains("include"),
            "{name}: no jails"
        );
        for j in jails {
            let r = c.resolve(&j).unwrap_or_else(|e| panic!("{name}/{j}: {e}"));
            r.to_spec().unwrap_or_else(|e| panic!("{name}/{j}: {e}"));
        }
    }
}

#[test]
fn globals_wildcard_block_variables_and_appends() {
    let c = JailConf::parse(
        &std::fs::read_to_string(format!("{DIR}/03-thin.conf")).unwrap(),
        "03",
    )
    .unwrap();
    let r = c.resolve("www").unwrap();
    let get = |r: &Resolved, k: &str| {
        r.params
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.clone())
    };
    assert_eq!(get(&r, "path"), Some(vec!["/jails/www".to_string()]));
    assert_eq!(
        get(&r, "host.hostname"),
        Some(vec!["www.example.org".to_string()])
    );
    let c = JailConf::parse(
        &std::fs::read_to_string(format!("{DIR}/07-variables.conf")).unwrap(),
        "07",
    )
    .unwrap();
    let r = c.resolve("web").unwrap();
    assert_eq!(
        get(&r, "path"),
        Some(vec!["/usr/local/jails/web".to_string()])
    );
    assert_eq!(
        get(&r, "ip4.addr"),
        Some(vec!["198.51.100.5".to_string(), "198.51.100.6".to_string()])
    );
    let c = JailConf::parse(
        &std::fs::read_to_string(format!("{DIR}/06-wildcard.conf")).unwrap(),
        "06",
    )
    .unwrap();
    assert_eq!(
        get(&c.resolve("b").unwrap(), "enforce_statfs"),
        Some(vec!["1".to_string()]),
        "own block wins"
    );
    assert_eq!(
        get(&c.resolve("a").unwrap(), "enforce_statfs"),
        Some(vec!["2".to_string()])
    );
    let (spec, _) = c.resolve("a").unwrap().to_spec().unwrap();
    assert_eq!(
        spec.get("allow.nomount"),
        Some(&crate::ParamValue::Bool(true))
    );
    let c = JailConf::parse(
        &std::fs::read_to_string(format!("{DIR}/05-nested.conf")).unwrap(),
        "05",
    )
    .unwrap();
    assert_eq!(c.jails(), ["parent", "parent.child"]);
    assert_eq!(
        get(&c.resolve("parent.child").unwrap(), "path"),
        Some(vec!["/jails/parent/root/child".to_string()])
    );
}

#[test]
fn includes_are_expanded_in_glob_order() {
    let c = JailConf::parse(
        &std::fs::read_to_string(format!("{DIR}/12-include.conf")).unwrap(),
        "12",
    )
    .unwrap();
    let c = c.expand_includes(DIR, &StdConfFs).unwrap();
    assert_eq!(c.jails(), ["alpha", "beta"]);
    let r = c.resolve("alpha").unwrap();
    assert!(
        r.params.iter().any(|(n, v)| n == "persist" && v.is_none()),
        "globals of the including file apply"
    );
}

#[test]
fn errors_carry_file_line_and_column() {
    let cases = [
        ("a {\n\tpath = /x\n}\n", "t.conf:3:1: expected , or ;"),
        ("a { path = \"x; }", "unterminated \""),
        ("a {\n", "missing } at end of file"),
        ("}\n", "t.conf:1:1: unexpected }"),
        ("a = ;", "t.conf:1:5: expected a value for a"),
        ("/* open", "t.conf:1:1: unterminated /* comment"),
        ("x { path = \"${y\"; }", "unterminated ${"),
    ];
    for (text, want) in cases {
        let e = JailConf::parse(text, "t.conf").unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
    let c = JailConf::parse("j {\n  path = \"/j/$nope\";\n}\n", "v.conf").unwrap();
    let e = c.resolve("j").unwrap_err().to_string();
    assert!(e.contains("v.conf:2:3: undefined variable $nope"), "{e}");
    let c = JailConf::parse("$a = \"$b\"; $b = \"$a\"; j { path = $a; }", "loop.conf").unwrap();
    assert!(c
        .resolve("j")
        .unwrap_err()
        .to_string()
        .contains("refers to itself"));
}

#[test]
fn hostile_jails_are_refused_naming_the_field() {
    let cases = [
        ("\"a/b\" { path = /j; persist; }", "a/b", "contains '/'"),
        ("\"..\" { path = /j; persist; }", "..", "empty component"),
        ("x { path = \"/j/../etc\"; persist; }", "x", "'..'"),
        (
            "x { path = /j; persist; frobnicate = 1; }",
            "x",
            "frobnicate: unknown parameter",
        ),
        ("LONGHOST", "x", "longer than 255"),
        (
            "x { path = /j; persist; enforce_statfs = lots; }",
            "x",
            "enforce_statfs: value",
        ),
        ("x { persist; }", "x", "path: missing"),
        ("x { path = \"/j\u{0}\"; persist; }", "x", "NUL"),
    ];
    let long = format!(
        "x {{ path = /j; persist; host.hostname = \"{}\"; }}",
        "h".repeat(300)
    );
    for (text, jail, want) in cases {
        let text = if text == "LONGHOST" {
            long.as_str()
        } else {
            text
        };
        let c = JailConf::parse(text, "h.conf").unwrap_or_else(|e| panic!("{text}: {e}"));
        let e = c.resolve(jail).and_then(|r| r.to_spec()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{text}");
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        prop_oneof![
            "[ -~\t\n]{1,12}".prop_map(Part::Lit),
            "[a-z_][a-z0-9_.]{0,6}".prop_map(Part::Var)
        ],
        1..4,
    )
    .prop_map(|parts| {
        let mut v = Value::default();
        for p in parts {
            match p {
                Part::Lit(l) => v.push_lit(&l),
                Part::Var(n) => v.push_var(&n),
            }
        }
        v
    })
}

fn arb_param() -> impl Strategy<Value = Item> {
    (
        "[a-z][a-z0-9_.]{0,12}|\\$[a-z][a-z0-9_]{0,6}",
        prop_oneof![
            Just(AssignOp::Flag),
            Just(AssignOp::Set),
            Just(AssignOp::Append)
        ],
        proptest::collection::vec(arb_value(), 1..3),
    )
        .prop_map(|(name, op, values)| {
            let values = if op == AssignOp::Flag { vec![] } else { values };
            Item::Param(Param {
                name,
                op,
                values,
                pos: Pos::default(),
            })
        })
}

fn arb_item() -> impl Strategy<Value = Item> {
    let leaf = prop_oneof![
        arb_param(),
        "#[ -~]{0,20}".prop_map(|c| Item::Comment(c.trim_end().to_string()))
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        (
            "[a-z][a-z0-9_]{0,8}|\\*",
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(name, items)| Item::Jail {
                name,
                items,
                pos: Pos::default(),
            })
    })
}

#[test]
fn nesting_and_size_are_bounded() {
    // 5,000 nested blocks (15 KB) overflowed the stack and aborted the process.
    let deep = format!("{}{}", "a {".repeat(5000), "}".repeat(5000));
    let e = JailConf::parse(&deep, "deep.conf").unwrap_err().to_string();
    assert!(
        e.contains("nested more than 64 deep") && e.contains("deep.conf:1:"),
        "{e}"
    );
    let ok = format!("{}{}", "a {".repeat(MAX_NESTING), "}".repeat(MAX_NESTING));
    assert!(JailConf::parse(&ok, "ok.conf").is_ok());
}

proptest! {
    #[test]
    fn no_panic_on_any_text(s in "\\PC{0,300}") {
        if let Ok(c) = JailConf::parse(&s, "fuzz") {
            for j in c.jails() {
                if let Ok(r) = c.resolve(&j) {
                    let _ = r.to_spec();
                }
            }
            let _ = JailConf::parse(&c.to_string(), "fuzz2");
        }
    }

    #[test]
    fn print_parse_round_trip(items in proptest::collection::vec(arb_item(), 0..6)) {
        let c = JailConf { items };
        let text = c.to_string();
        let again = JailConf::parse(&text, "rt").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(again, c);
    }
}
