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
    // jail(8): `path: variable "nope" not found` (config.c).
    assert!(e.contains("v.conf:2:3: variable \"nope\" not found"), "{e}");
    let c = JailConf::parse("$a = \"$b\"; $b = \"$a\"; j { path = $a; }", "loop.conf").unwrap();
    assert!(c
        .resolve("j")
        .unwrap_err()
        .to_string()
        .contains("variable loop"));
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

/// Every jail of `c` as `jail -e ' '` prints it.
fn jail_e_lines(c: &JailConf) -> Vec<String> {
    c.resolve_all()
        .unwrap()
        .iter()
        .map(|r| r.exhibit(" "))
        .collect()
}

/// The resolved parameters of a one-file config (without the implied `name`).
fn params_of(text: &str, jail: &str) -> Vec<(String, Option<Vec<String>>)> {
    let c = JailConf::parse(text, "t.conf").unwrap();
    c.resolve(jail)
        .unwrap()
        .params
        .into_iter()
        .filter(|(n, _)| n != "name")
        .collect()
}

fn one(n: &str, v: &[&str]) -> (String, Option<Vec<String>>) {
    (n.into(), Some(v.iter().map(|s| (*s).to_string()).collect()))
}

/// Each rule below is jail(8)'s, from usr.sbin/jail/{jaillex.l,jailparse.y,config.c}; the
/// expected values are written by hand from those rules, not produced by this resolver.
#[test]
fn jail8_nested_blocks_inherit_nothing() {
    // config.c: each block is its own record; `a.b` gets globals and wildcards only.
    let text = "a { x = 1; $v = 2; children.max = 3; b { y = 4; } }";
    assert_eq!(params_of(text, "a.b"), [one("y", &["4"])]);
    let c = JailConf::parse("a { $v = 2; b { z = $v; } }", "t.conf").unwrap();
    let e = c.resolve("a.b").unwrap_err().to_string();
    assert!(e.contains("variable \"v\" not found"), "{e}");
}

#[test]
fn jail8_escapes_in_every_kind_of_string() {
    // jaillex.l text2lval: octal (1-3 digits), \x (1-2 hex digits), C escapes; in double and
    // single quotes and in bare words alike.
    let text = r#"j { a = "\x41\101\t"; b = 'it\'s'; c = x\x42y; d = "\q"; e = 'a\nb'; }"#;
    assert_eq!(
        params_of(text, "j"),
        [
            one("a", &["AA\t"]),
            one("b", &["it's"]),
            one("c", &["xBy"]),
            one("d", &["q"]),
            one("e", &["a\nb"]),
        ]
    );
}

#[test]
fn jail8_variables() {
    // `$` not followed by a name is literal (jaillex.l's single-character rule).
    assert_eq!(
        params_of(r#"j { p = "costs $5"; q = a$; }"#, "j"),
        [one("p", &["costs $5"]), one("q", &["a$"])]
    );
    // config.c add_param: a variable may not share a parameter's name.
    let c = JailConf::parse("$path = /x; j { path = /y; }", "t.conf").unwrap();
    assert!(c
        .resolve("j")
        .unwrap_err()
        .to_string()
        .contains("cannot have the same name as a parameter"));
    // A list in a longer string: "array cannot be substituted inline"; alone it expands.
    let c = JailConf::parse("$l = a, b; j { x = \"p$l\"; }", "t.conf").unwrap();
    assert!(c
        .resolve("j")
        .unwrap_err()
        .to_string()
        .contains("array cannot be substituted inline"));
    assert_eq!(
        params_of("$l = a, b; j { x = $l; }", "j"),
        [one("x", &["a", "b"])]
    );
    // Any parameter is a variable: ${path}, $name.
    assert_eq!(
        params_of(
            "j { path = /jails/$name; exec.start = \"${path}/start\"; }",
            "j"
        ),
        [
            one("path", &["/jails/j"]),
            one("exec.start", &["/jails/j/start"])
        ]
    );
}

#[test]
fn jail8_wildcards_and_globals_apply_by_position() {
    // config.c: wildcard records before the jail's own block apply first, later ones after.
    assert_eq!(
        params_of("* { x = w; } j { x = own; }", "j"),
        [one("x", &["own"])]
    );
    assert_eq!(
        params_of("j { x = own; } * { x = w; }", "j"),
        [one("x", &["w"])]
    );
    // A wildcard is by whole components: `j*` matches no jail.
    assert_eq!(
        params_of("j { x = own; } \"j*\" { x = w; }", "j"),
        [one("x", &["own"])]
    );
    // Top-level parameters are one `*` section where the first appears (FreeBSD 14+).
    assert_eq!(
        params_of("j { x = own; } x = global;", "j"),
        [one("x", &["global"])]
    );
    assert_eq!(
        params_of("x = global; j { x = own; }", "j"),
        [one("x", &["own"])]
    );
    // A quoted partial wildcard applies by components (wild_jail_match) and is no jail.
    let text = "\"web.*\" { w = 1; } web.a { } webx { }";
    assert_eq!(params_of(text, "web.a"), [one("w", &["1"])]);
    assert_eq!(params_of(text, "webx"), []);
    let c = JailConf::parse(text, "t.conf").unwrap();
    assert_eq!(c.jails(), ["web.a", "webx"]);
    // Unquoted, `web.*` is two tokens: not a name.
    assert!(JailConf::parse("web.* { }", "t.conf").is_err());
}

#[test]
fn jail8_comment_starters_inside_bare_words() {
    // jaillex.l: `#`, `//` and `/*` start comments even in the middle of an unquoted word.
    for bad in [
        "j { path = /usr//local; }",
        "j { x = web#1; }",
        "j { x = a/*b; }",
    ] {
        assert!(JailConf::parse(bad, "t.conf").is_err(), "{bad}");
    }
    assert_eq!(
        params_of(
            "j { path = \"/usr//local\"; x = \"web#1\"; y = a/b*c; }",
            "j"
        ),
        [
            one("path", &["/usr//local"]),
            one("x", &["web#1"]),
            one("y", &["a/b*c"]),
        ]
    );
    // Characters outside the unquoted-word set must be quoted.
    assert!(JailConf::parse("j { x = josé; }", "t.conf").is_err());
    assert_eq!(params_of("j { x = \"josé\"; }", "j"), [one("x", &["josé"])]);
}

#[test]
fn jail8_no_forms_are_one_parameter_and_the_last_wins() {
    // config.c equalopts: `allow.mount` and `allow.nomount` are the same parameter.
    assert_eq!(
        params_of("j { allow.mount; allow.nomount; }", "j"),
        [("allow.nomount".to_string(), None)]
    );
    assert_eq!(
        params_of("j { nopersist; persist; }", "j"),
        [("persist".to_string(), None)]
    );
}

#[test]
fn jail8_duplicate_blocks_are_separate_records_and_name_value_needs_no_equals() {
    let c = JailConf::parse("j { x = 1; } j { y = 2; }", "t.conf").unwrap();
    let all = c.resolve_all().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].params[1..], [one("x", &["1"])]);
    assert_eq!(all[1].params[1..], [one("y", &["2"])]);
    // jailparse.y: `name value;` is `name = value;`.
    assert_eq!(params_of("j { path /x; }", "j"), [one("path", &["/x"])]);
    // The name is immutable: `name = other` is refused; a number names the jid.
    let c = JailConf::parse("j { name = other; }", "t.conf").unwrap();
    assert!(c
        .resolve("j")
        .unwrap_err()
        .to_string()
        .contains("cannot redefine"));
    let c = JailConf::parse("7 { }", "t.conf").unwrap();
    assert_eq!(c.resolve("7").unwrap().params[0], one("jid", &["7"]));
    // A number as strtol(3) reads it: sign and leading zeros allowed, 0 is no jid.
    for (name, implied) in [
        ("007", "jid"),
        ("+5", "jid"),
        ("-3", "jid"),
        ("0", "name"),
        ("00", "name"),
        ("5a", "name"),
        ("+", "name"),
    ] {
        let c = JailConf::parse(&format!("\"{name}\" {{ }}"), "t.conf").unwrap();
        assert_eq!(
            c.resolve(name).unwrap().params[0],
            one(implied, &[name]),
            "{name}"
        );
    }
}

proptest! {
    /// `fmt` never changes meaning: whatever parses and resolves resolves the same after
    /// printing and parsing again.
    #[test]
    fn printing_preserves_the_resolved_meaning(items in proptest::collection::vec(arb_item(), 0..6)) {
        let c = JailConf { items };
        let text = c.to_string();
        let Ok(again) = JailConf::parse(&text, "p.conf") else {
            return Err(TestCaseError::fail(format!("reprinted text does not parse:\n{text}")));
        };
        let before = c.resolve_all().map_err(|e| e.to_string());
        let after = again.resolve_all().map_err(|e| e.to_string());
        if let Ok(b) = &before {
            prop_assert_eq!(Ok(b.clone()), after, "{}", text);
        }
    }
}

/// tests/corpus/jail8: one small file per jail(8) rule, with the `jail -e ' '`-style line per
/// jail written by hand from usr.sbin/jail/{jaillex.l,jailparse.y,config.c}. Each file also
/// resolves the same after `fmt`.
#[test]
fn the_jail8_rule_corpus_resolves_as_written_down() {
    let dir = format!("{DIR}/jail8");
    let mut n = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let want = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let c = JailConf::parse(&text, &path.display().to_string()).unwrap();
        assert_eq!(
            jail_e_lines(&c).join("\n"),
            want.trim_end_matches('\n'),
            "{}",
            path.display()
        );
        let again = JailConf::parse(&c.to_string(), "fmt").unwrap();
        assert_eq!(
            again.resolve_all().unwrap(),
            c.resolve_all().unwrap(),
            "fmt of {}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn jail8_include_of_a_missing_file_fails_and_an_empty_glob_includes_nothing() {
    struct Fs;
    impl ConfFs for Fs {
        fn read(&self, path: &str) -> Option<String> {
            (path == "/e/there.conf").then(|| "t { x = 1; }".to_string())
        }
        fn list(&self, _dir: &str) -> Vec<String> {
            vec!["there.conf".into()]
        }
    }
    let c = |t: &str| {
        JailConf::parse(t, "/e/jail.conf")
            .unwrap()
            .expand_includes("/e", &Fs)
    };
    assert!(c(".include \"missing.conf\";")
        .unwrap_err()
        .to_string()
        .contains("cannot read /e/missing.conf"));
    assert_eq!(
        c(".include \"*.nothing\";").unwrap().jails(),
        Vec::<String>::new()
    );
    assert_eq!(c(".include \"there.conf\";").unwrap().jails(), ["t"]);
    assert_eq!(c(".include \"*.conf\";").unwrap().jails(), ["t"]);
    // Unquoted, `/*` starts a comment: the glob must be quoted.
    assert!(JailConf::parse(".include jail.conf.d/*.conf;", "x").is_err());
}

/// Every position in the tree, in order (positions take no part in `==`).
fn positions(items: &[Item], out: &mut Vec<String>) {
    for it in items {
        match it {
            Item::Param(p) => out.push(p.pos.to_string()),
            Item::Include { pos, .. } => out.push(pos.to_string()),
            Item::Jail { items, pos, .. } => {
                out.push(pos.to_string());
                positions(items, out);
            }
            Item::Comment(_) => {}
        }
    }
}

/// What one text gives, as something comparable: the tree with its positions, the jails and
/// every resolved record, or the error message.
fn outcome(
    parsed: crate::error::Result<JailConf>,
    resolve: impl Fn(&JailConf) -> crate::error::Result<Vec<Resolved>>,
) -> String {
    match parsed {
        Err(e) => format!("parse error: {e}"),
        Ok(c) => {
            let mut pos = Vec::new();
            positions(&c.items, &mut pos);
            let r = match resolve(&c) {
                Ok(r) => format!("{r:?}"),
                Err(e) => format!("resolve error: {e}"),
            };
            format!("{c:?}\n{pos:?}\n{r}")
        }
    }
}

/// Pieces of jail.conf text, joined at random by the differential tests: every token kind,
/// escapes, variables, comments, non-ASCII letters and blanks, in and out of place.
const PIECES: &[&str] = &[
    "a",
    "b.c",
    "web",
    "\"web.*\"",
    "*",
    "path",
    "name",
    "jid",
    "7",
    "allow.mount",
    "allow.nomount",
    "persist",
    "ip4.addr",
    "$v",
    "${v}",
    "$name",
    "${path}",
    "$5",
    "$",
    "\"x y\"",
    "'q $v'",
    "\"$a$b\"",
    "\"a\"\"b\"",
    "\\n",
    "\\101",
    "\\377",
    "\\x4g",
    "\\\n",
    "\\\u{e9}",
    "\"\\t\\\"\"",
    "{",
    "}",
    ";",
    ",",
    "=",
    "+=",
    "# c\n",
    "// c  \n",
    "/* c */",
    "/*/ x */",
    ".include",
    "\"f*.conf\"",
    " ",
    "\n",
    "\t",
    "\r\n",
    "\u{e9}",
    "+",
    "/",
    "-",
    "é.x",
    "\"${ba\"",
    "${}",
    "=\"\"",
    "\"",
];

fn arb_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

/// Pieces of values: every kind of string jail(8)'s lexer joins into one.
const VALUE_PIECES: &[&str] = &[
    "x",
    "/j/",
    "192.0.2.1",
    "$name",
    "${name}",
    "$v",
    "${v}",
    "$w",
    "$path",
    "$5",
    "$",
    "\"q $v\"",
    "'q $v'",
    "'\\''",
    "\"a\"\"b\"",
    "\"\\101\\377\\x4g\\t\\\"\"",
    "\\n",
    "\\\n",
    "\"\u{e9}\u{2028}\"",
    "*",
    "+",
    "/",
    "-.:",
    "\"${ba}\"",
    "\"\"",
    "\"x y\"",
];

/// Files in jail.conf's shape with random names, operators, values, comments and nesting,
/// and now and then a stray piece: most parse, so the resolver is compared too.
fn arb_valid_text() -> impl Strategy<Value = String> {
    let name = proptest::sample::select(
        &[
            "path",
            "$v",
            "$w",
            "${v}",
            "host.hostname",
            "allow.mount",
            "allow.nomount",
            "persist",
            "ip4.addr",
            "name",
            "jid",
            "exec.start",
            "\"quoted.name\"",
            "securelevel",
        ][..],
    );
    let value = proptest::collection::vec(proptest::sample::select(VALUE_PIECES), 1..4)
        .prop_map(|v| v.concat());
    let op = proptest::sample::select(&[" = ", " += ", " ", "=", ";"][..]);
    let junk = proptest::option::weighted(0.05, proptest::sample::select(PIECES));
    let line = (
        name,
        op,
        proptest::collection::vec(value, 1..3),
        junk.clone(),
    )
        .prop_map(|(n, op, vals, junk)| {
            let body = if op == ";" {
                String::new()
            } else {
                format!("{op}{}", vals.join(", "))
            };
            format!("{n}{body}{};", junk.unwrap_or(""))
        });
    let comment =
        proptest::sample::select(&["# note", "// note", "/* a\nb */"][..]).prop_map(str::to_string);
    let line = prop_oneof![4 => line, 1 => comment];
    let block = (
        proptest::sample::select(&["a", "b", "\"*\"", "\"a.*\"", "\"*.c\"", "12", "0"][..]),
        proptest::collection::vec(line.clone(), 0..5),
        proptest::option::of(proptest::collection::vec(line.clone(), 0..3)),
        junk,
    )
        .prop_map(|(n, ls, child, junk)| {
            let inner = child
                .map(|c| format!("c {{ {} }}", c.join(" ")))
                .unwrap_or_default();
            format!(
                "{n} {{\n{}\n{inner}{}\n}}",
                ls.join("\n"),
                junk.unwrap_or("")
            )
        });
    proptest::collection::vec(prop_oneof![line, block], 0..8).prop_map(|v| v.join("\n"))
}

/// Texts where the flat lexer follows jaillex.l and the tree lexer did not: `/*/` (an open
/// comment), blanks other than space, tab, CR and LF (refused), and `${…}` names holding `{`,
/// `\\` (an escape) or, outside double quotes, `"`.
fn changed_since_the_tree_parser(t: &str) -> bool {
    if t.contains("/*/") || t.contains(['\u{a0}', '\u{b}', '\u{c}']) {
        return true;
    }
    t.match_indices("${").any(|(i, _)| {
        let name = &t[i + 2..];
        let end = name.find('}').unwrap_or(name.len());
        name[..end].contains(['{', '\\', '"'])
    })
}

proptest! {
    // About a quarter of the random texts hit a deliberate change and are skipped: room for
    // that many rejects whatever PROPTEST_CASES asks for.
    #![proptest_config(ProptestConfig { cases: 2000, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    /// The in-place parser and resolver against the tree parser and resolver they replaced
    /// (kept in `legacy`): the same tree, positions, resolved jails and error messages.
    #[test]
    fn flat_parser_and_resolver_agree_with_the_tree_ones(t in prop_oneof![arb_text(), arb_valid_text()]) {
        prop_assume!(!changed_since_the_tree_parser(&t));
        let new = outcome(JailConf::parse(&t, "d.conf"), |c| c.resolve_all());
        let flat = match FlatConf::parse(&t, "d.conf") {
            Ok(f) => {
                let all = f.resolve_all();
                outcome(Ok(f.to_conf()), |_| all.clone())
            }
            Err(e) => outcome(Err(e), |_| unreachable!()),
        };
        let old = outcome(legacy::parse(&t, "d.conf"), |c| {
            legacy::resolve::Old(c).resolve_all()
        });
        prop_assert_eq!(&new, &old, "text {:?}", t);
        if let (Ok(c), Ok(f)) = (JailConf::parse(&t, "d.conf"), FlatConf::parse(&t, "d.conf")) {
            prop_assert_eq!(c.jails(), f.jails());
            prop_assert_eq!(c.to_string(), f.to_string());
        }
        prop_assert_eq!(&flat, &old, "text {:?}", t);
    }
}

#[test]
fn a_slash_star_slash_does_not_close_the_comment() {
    // jaillex.l: `"/*"` starts the comment state, which `"*/"` ends: the `*` of `/*` is not
    // the `*` of a closing `*/`.
    let c = JailConf::parse("/*/ a { } */ b { path = /x; }", "c.conf").unwrap();
    assert_eq!(c.jails(), ["b"]);
    let e = JailConf::parse("/*/ a { }", "c.conf")
        .unwrap_err()
        .to_string();
    assert!(e.contains("c.conf:1:1: unterminated /* comment"), "{e}");
}

#[test]
fn flat_resolve_each_matches_resolve_all_and_resolve() {
    let text = std::fs::read_to_string(format!("{DIR}/06-wildcard.conf")).unwrap();
    let f = FlatConf::parse(&text, "06").unwrap();
    let mut each = Vec::new();
    f.resolve_each(|r| {
        each.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(each, f.resolve_all().unwrap());
    for r in &each {
        assert_eq!(&f.resolve(&r.name).unwrap(), r);
    }
    assert_eq!(
        f.jails(),
        each.iter().map(|r| r.name.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        f.to_string(),
        JailConf::parse(&text, "06").unwrap().to_string()
    );
    // `f`'s error stops the walk and is returned.
    let mut n = 0;
    let e = f
        .resolve_each(|_| {
            n += 1;
            Err(Error::new(Op::Validate, ErrorKind::Other, "enough"))
        })
        .unwrap_err();
    assert_eq!((n, e.detail_str()), (1, Some("enough")));
    assert!(f
        .resolve("nope")
        .unwrap_err()
        .to_string()
        .contains("no jail"));
}

#[test]
fn a_flat_conf_holds_less_than_twice_its_text() {
    // The budget behind `cargo xtask bench`'s "heap peak ≤ 3x input": 20-byte nodes, 8-byte
    // parts, 4-byte values, strings left in the text.
    assert_eq!(std::mem::size_of::<flat::Node>(), 20);
    let mut text = String::from("path = \"/jails/$name\";\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "j{i} {{ host.hostname = \"j{i}.example.org\"; ip4.addr = 10.0.{}.{}; persist; }}\n",
            i / 256,
            i % 256
        ));
    }
    let f = FlatConf::parse(&text, "big.conf").unwrap();
    assert!(
        f.heap_bytes() < 2 * text.len(),
        "{} for {}",
        f.heap_bytes(),
        text.len()
    );
    assert_eq!(f.side.len(), 0, "nothing copied");
    let mut n = 0;
    f.resolve_each(|r| {
        n += 1;
        assert_eq!(r.params.len(), 5, "{r:?}");
        Ok(())
    })
    .unwrap();
    assert_eq!(n, 2000);
}

#[test]
fn jaillex_whitespace_and_variable_names() {
    // jaillex.l `<_>[ \t\r\n]+`: CR is a blank (CRLF files read), a form feed or a
    // non-breaking space is not.
    let c = JailConf::parse("a {\r\n\tpath = /x;\r\n}\r\n", "w.conf").unwrap();
    assert_eq!(c.jails(), ["a"]);
    for bad in [
        "a { path = /x;\u{c} }",
        "a\u{a0}{ path = /x; }",
        "a { path\u{b}= /x; }",
    ] {
        let e = JailConf::parse(bad, "w.conf").unwrap_err().to_string();
        assert!(e.contains("unexpected character"), "{bad:?}: {e}");
    }
    // Quoted, any character is text.
    let c = JailConf::parse("j { path = \"/x\u{a0}\u{c}\"; }", "w.conf").unwrap();
    assert_eq!(
        c.resolve("j").unwrap().params[1].1,
        Some(vec!["/x\u{a0}\u{c}".to_string()])
    );
    // `${…}`: an escape is decoded into the name; `{` ends it in error; `"` is allowed
    // outside double quotes only.
    let c = JailConf::parse("$a}b = 1;\nj { path = ${a\\}b}; }", "v.conf");
    assert!(c.is_err(), "`$a}}b` is not one name");
    let c = JailConf::parse("${a\\}b} = /x;\nj { path = ${a\\}b}; }", "v.conf").unwrap();
    assert_eq!(
        c.resolve("j").unwrap().params[1],
        ("path".to_string(), Some(vec!["/x".to_string()]))
    );
    let e = JailConf::parse("j { path = ${a{b}; }", "v.conf")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unterminated ${"), "{e}");
    let e = JailConf::parse("j { path = \"${a\"b}\"; }", "v.conf")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unterminated ${"), "{e}");
    let c = JailConf::parse("${a\"b} = /y;\nj { path = ${a\"b}; }", "v.conf").unwrap();
    assert_eq!(
        c.resolve("j").unwrap().params[1],
        ("path".to_string(), Some(vec!["/y".to_string()]))
    );
}

#[test]
fn config_c_wildcards_equalopts_and_variables_named_like_parameters() {
    // `web*` is an ordinary (if odd) name, not a wildcard for `webx`.
    let c = JailConf::parse("\"web*\" { persist; }\nwebx { path = /x; }\n", "w.conf").unwrap();
    assert_eq!(c.jails(), ["web*", "webx"]);
    assert!(
        !params_of("\"web*\" { persist; }\nwebx { path = /x; }\n", "webx")
            .iter()
            .any(|(n, _)| n == "persist")
    );
    // `allow.nomount.zfs` is `allow.mount.zfs` negated: one parameter, the last one written.
    assert_eq!(
        params_of("j { allow.mount.zfs; allow.nomount.zfs; }", "j"),
        [("allow.nomount.zfs".to_string(), None)]
    );
    // add_param: a variable named like one of jail(8)'s parameters is an error even alone.
    let c = JailConf::parse("$path = /x;\nj { persist; }\n", "v.conf").unwrap();
    let e = c.resolve("j").unwrap_err().to_string();
    assert!(
        e.contains("v.conf:1:1: variable \"$path\" cannot have the same name as a parameter."),
        "{e}"
    );
    // A variable of another name is fine.
    assert!(
        JailConf::parse("$base = /x;\nj { path = $base; }\n", "v.conf")
            .unwrap()
            .resolve("j")
            .is_ok()
    );
}

#[test]
fn config_c_substitution_order_and_unused_variables() {
    // load_config moves a parameter whose values still hold variables in front of the first
    // one that refers to it: `jail -e` prints path before host.hostname here.
    let names: Vec<String> = params_of(
        "j {\n  host.hostname = \"${path}.x\";\n  path = \"/j/$name\";\n  persist;\n}\n",
        "j",
    )
    .into_iter()
    .map(|(n, _)| n)
    .collect();
    assert_eq!(names, ["path", "host.hostname", "persist"]);
    // Through a variable: $root holds a variable, path refers to $root, mount.fstab refers
    // to path: path moves in front of mount.fstab.
    let p = params_of(
        "$root = \"/j/$name\";\nj { mount.fstab = \"${path}/fstab\"; path = \"$root\"; }\n",
        "j",
    );
    assert_eq!(
        p,
        [one("path", &["/j/j"]), one("mount.fstab", &["/j/j/fstab"])]
    );
    // Without variables nothing moves.
    let names: Vec<String> = params_of("j { b.x = 1; a.x = 2; }", "j")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["b.x", "a.x"]);
    // A variable nobody uses is still substituted: a missing name there fails the jail.
    let c = JailConf::parse("$v = \"$nope\";\nj { persist; }\n", "u.conf").unwrap();
    let e = c.resolve("j").unwrap_err().to_string();
    assert!(e.contains("u.conf:1:1: variable \"nope\" not found"), "{e}");
}

/// `jail -e` (jail.c `print_jail`, `print_param`, `quoted_print`): `jid` is not printed, a
/// parameter without a value is its name, each value is quoted by what it holds.
#[test]
fn exhibit_prints_what_jail_e_prints() {
    for (raw, printed) in [
        ("plain", "plain"),
        ("", "\"\""),
        ("it's", "\"it's\""),
        ("say \"hi\"", "'say \"hi\"'"),
        ("a b", "\"a b\""),
        ("a\tb", "\"a\tb\""),
        ("a\\b", "a\\\\b"),
        ("it's \"x\"", "\"it's \\\"x\\\"\""),
        ("q\"\\", "'q\"\\\\'"),
        ("$5,x", "$5,x"),
    ] {
        assert_eq!(quote_value(raw), printed, "{raw:?}");
    }
    let c = JailConf::parse(
        "7 { persist; x = \"\"; y = a, \"b c\"; }\nj { host.hostname = \"it's\"; }",
        "t.conf",
    )
    .unwrap();
    assert_eq!(
        jail_e_lines(&c),
        [
            "persist x=\"\" y=a,\"b c\"",
            "name=j host.hostname=\"it's\""
        ]
    );
}

proptest! {
    /// A quoted value, read back by the jail.conf parser, is the value (but for `$`, which
    /// jail.conf substitutes inside double quotes and `jail -e` does not escape).
    #[test]
    fn quoted_values_read_back(v in "[ -~\t]{0,24}") {
        let q = quote_value(&v);
        prop_assume!(q.starts_with(['"', '\'']) && !v.contains('$'));
        let c = JailConf::parse(&format!("j {{ x = {q}; }}"), "t.conf").unwrap();
        let got = params_of(&c.to_string(), "j");
        prop_assert_eq!(got, vec![one("x", &[v.as_str()])]);
    }
}
