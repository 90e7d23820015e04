//! The pure `fnmatch` against the C library's, with `FNM_PATHNAME`, on generated patterns.
#![cfg(unix)]

mod sys;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn agrees_with_libc(p in "[ab/*?]{0,8}|[ab/*?\\[\\]!-]{0,8}", n in "[ab/-]{0,8}") {
        if let Some(want) = sys::fnmatch_pathname(&p, &n) {
            prop_assert_eq!(devfs::eval::fnmatch(&p, &n), want, "pattern {:?} name {:?}", p, n);
        }
    }
}

#[test]
fn table_from_the_man_page() {
    // fnmatch(3): `*` and `?` and bracket expressions never match `/` with FNM_PATHNAME.
    for (p, n) in [
        ("nvidia*", "nvidia0"),
        ("dri/*", "dri/card0"),
        ("dri*", "dri/card0"),
        ("[!x]y", "/y"),
        ("a?c", "a/c"),
        ("*", ""),
    ] {
        assert_eq!(
            devfs::eval::fnmatch(p, n),
            sys::fnmatch_pathname(p, n).unwrap(),
            "{p} {n}"
        );
    }
}
