//! File modes as devfs(8) reads them: `setmode(3)` then `getmode(set, 0)`.
//!
//! devfs(8)'s `mode` argument is not only octal: `sbin/devfs/rule.c` (`rulespec_intok`) hands it
//! to `setmode(3)` (`lib/libc/gen/setmode.c`), which also takes chmod(1)'s symbolic clauses
//! (`u=rw,g=rw`, `a+r`, `go-w`, `ug=rw,o=`), and keeps the result of applying it to mode 0.
//! This is an independent reading of that function's rules, not a copy:
//!
//! - a text starting with a digit is an octal number (`strtol` base 8); any other character after
//!   it, or a bit outside `07777`, is an error;
//! - otherwise clauses separated by `,`; each is `[ugoa]*` then one or more `op perms` pairs,
//!   op one of `+ - =`, perms from `rwxXst` or one of `ugo` (copy those bits of the mode so far);
//! - with no `ugoa`, the bits are masked by the process umask (`=` still clears all);
//! - `s` is ignored when only `o` is named; `t` likewise;
//! - `X` adds execute only if the old mode (here 0) has execute or is a directory: never here.
//!
//! rc(8) runs devfs(8) with the umask init and rc leave, `022`; [`BOOT_UMASK`].
//!
//! # References
//! [setmode(3)](https://man.freebsd.org/cgi/man.cgi?query=setmode&sektion=3),
//! [chmod(1)](https://man.freebsd.org/cgi/man.cgi?query=chmod&sektion=1)

/// The umask devfs(8) runs under when rc.subr loads devfs.rules at boot.
pub const BOOT_UMASK: u16 = 0o022;

const S_ISUID: u16 = 0o4000;
const S_ISGID: u16 = 0o2000;
const S_ISTXT: u16 = 0o1000;
const S_IRWXU: u16 = 0o700;
const S_IRWXG: u16 = 0o070;
const S_IRWXO: u16 = 0o007;
const STANDARD: u16 = S_ISUID | S_ISGID | S_IRWXU | S_IRWXG | S_IRWXO;
const R: u16 = 0o444;
const W: u16 = 0o222;
const X: u16 = 0o111;

/// The mode `setmode(text)` then `getmode(_, 0)` give under `umask`, or `None` where
/// `setmode` fails (devfs(8): "invalid mode").
pub fn parse_mode(text: &str, umask: u16) -> Option<u16> {
    let b = text.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b[0].is_ascii_digit() {
        // strtol(p, &ep, 8): digits 0-7; anything after them fails (`*ep`).
        if !b.iter().all(|c| (b'0'..=b'7').contains(c)) {
            return None;
        }
        let digits = text.trim_start_matches('0');
        if digits.len() > 5 {
            return None;
        }
        let v = u32::from_str_radix(if digits.is_empty() { "0" } else { digits }, 8).ok()?;
        if v & !u32::from(STANDARD | S_ISTXT) != 0 {
            return None;
        }
        return Some(v as u16);
    }
    let mask = !umask & 0o7777;
    let mut mode: u16 = 0;
    let mut i = 0;
    loop {
        let mut who: u16 = 0;
        while let Some(c) = b.get(i) {
            match c {
                b'a' => who |= STANDARD,
                b'u' => who |= S_ISUID | S_IRWXU,
                b'g' => who |= S_ISGID | S_IRWXG,
                b'o' => who |= S_IRWXO,
                _ => break,
            }
            i += 1;
        }
        let mut equal_done = false;
        loop {
            // getop
            let op = *b.get(i)?;
            if !matches!(op, b'+' | b'-' | b'=') {
                return None;
            }
            i += 1;
            if op == b'=' {
                equal_done = false;
            }
            who &= !S_ISTXT;
            let mut perm: u16 = 0;
            loop {
                match b.get(i) {
                    Some(b'r') => perm |= R,
                    Some(b'w') => perm |= W,
                    Some(b'x') => perm |= X,
                    Some(b'X') => {} // the old mode is 0: `X` never applies
                    Some(b's') => {
                        if who == 0 || who & !S_IRWXO != 0 {
                            perm |= S_ISUID | S_ISGID;
                        }
                    }
                    Some(b't') => {
                        if who == 0 || who & !S_IRWXO != 0 {
                            who |= S_ISTXT;
                            perm |= S_ISTXT;
                        }
                    }
                    Some(&c @ (b'u' | b'g' | b'o')) => {
                        if perm != 0 {
                            mode = bits_cmd(mode, op, who, perm, mask);
                            perm = 0;
                        }
                        if op == b'=' {
                            equal_done = true;
                        }
                        mode = copy_cmd(mode, c, op, who, mask);
                    }
                    _ => {
                        if perm != 0 || (op == b'=' && !equal_done) {
                            if op == b'=' {
                                equal_done = true;
                            }
                            mode = bits_cmd(mode, op, who, perm, mask);
                        }
                        break;
                    }
                }
                i += 1;
            }
            match b.get(i) {
                None => return Some(mode),
                Some(b',') => {
                    i += 1;
                    break;
                }
                Some(_) => {} // another op for the same who
            }
        }
    }
}

/// `+`, `-` or `=` of permission bits (`addcmd`): with no who, the umask limits what is set.
fn bits_cmd(mode: u16, op: u8, who: u16, perm: u16, mask: u16) -> u16 {
    let sel = if who != 0 { who } else { mask };
    match op {
        b'+' => mode | (sel & perm),
        b'-' => mode & !(sel & perm),
        _ => {
            let clear = if who != 0 { who } else { STANDARD };
            (mode & !clear) | (sel & perm)
        }
    }
}

/// `u`, `g` or `o` as a permission: copy that class's rwx bits of the mode so far to the
/// classes in `who` (all classes, limited by the umask, when none is named).
fn copy_cmd(mode: u16, class: u8, op: u8, who: u16, mask: u16) -> u16 {
    let value = match class {
        b'u' => (mode & S_IRWXU) >> 6,
        b'g' => (mode & S_IRWXG) >> 3,
        _ => mode & S_IRWXO,
    };
    let (classes, bits) = if who != 0 {
        (class_bits(who), 0o7777)
    } else {
        (S_IRWXU | S_IRWXG | S_IRWXO, mask)
    };
    let spread = |v: u16| ((v << 6) | (v << 3) | v) & classes & bits;
    let mut m = mode;
    if op != b'+' {
        let clr = if op == b'=' { 0o7 } else { value };
        m &= !spread(clr);
    }
    if op != b'-' {
        m |= spread(value);
    }
    m
}

/// The rwx bits of the classes named in `who`.
fn class_bits(who: u16) -> u16 {
    let mut v = 0;
    if who & S_IRWXU != 0 {
        v |= S_IRWXU;
    }
    if who & S_IRWXG != 0 {
        v |= S_IRWXG;
    }
    if who & S_IRWXO != 0 {
        v |= S_IRWXO;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn octal_as_strtol_base_8_reads_it() {
        assert_eq!(parse_mode("0660", BOOT_UMASK), Some(0o660));
        assert_eq!(parse_mode("660", BOOT_UMASK), Some(0o660));
        assert_eq!(parse_mode("7777", BOOT_UMASK), Some(0o7777));
        assert_eq!(parse_mode("00000000000644", BOOT_UMASK), Some(0o644));
        for bad in ["", "8", "0668", "17777", "0o660", "66 0", "0660x"] {
            assert_eq!(parse_mode(bad, BOOT_UMASK), None, "{bad:?}");
        }
    }

    #[test]
    fn symbolic_as_chmod_reads_it() {
        // Hand-computed from chmod(1)'s rules, applied to mode 0.
        let cases = [
            ("u=rw,g=rw", 0o660),
            ("ug=rw,o=r", 0o664),
            ("a=rw", 0o666),
            ("a+r", 0o444),
            ("u=rwx,go=rx", 0o755),
            ("u+rw,g+r,o-rwx", 0o640),
            ("=rw", 0o644),      // no who: masked by umask 022
            ("+w", 0o200),       // likewise
            ("u=rw,g=u", 0o660), // copy the user bits
            ("u=rw,go=u-w", 0o644),
            ("u+s", 0o4000),
            ("o+s", 0), // set-id ignored for other alone
            ("+t", 0o1000),
            ("u=rw+x", 0o700),
            ("a=X", 0), // X needs an executable or directory old mode
        ];
        for (text, want) in cases {
            assert_eq!(parse_mode(text, BOOT_UMASK), Some(want), "{text:?}");
        }
        for bad in ["u", "u=rw,", "rw", "u=rw g=r", "u:rw", "-1", "z=rw"] {
            assert_eq!(parse_mode(bad, BOOT_UMASK), None, "{bad:?}");
        }
        assert_eq!(parse_mode("=rw", 0o077), Some(0o600));
    }

    proptest! {
        #[test]
        fn never_panics(s in "[ugoa=+,rwxXst0-9-]{0,12}|\\PC{0,12}") {
            let _ = parse_mode(&s, BOOT_UMASK);
        }

        #[test]
        fn octal_round_trips(m in 0u16..=0o7777) {
            prop_assert_eq!(parse_mode(&format!("{m:04o}"), BOOT_UMASK), Some(m));
        }
    }
}
