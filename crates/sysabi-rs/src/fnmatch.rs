//! `fnmatch(3)` with `FNM_PATHNAME`, pure: devfs rule patterns and jail.conf `.include` globs.

/// `fnmatch(pattern, name, FNM_PATHNAME)`: `*` and `?` never match `/`, `[...]` classes (with
/// `!` or `^` negation and ranges) never match `/`, `\` escapes the next character. A malformed
/// class (no closing `]`) matches a literal `[`, as fnmatch(3) does.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => {
                let rest = &p[1..];
                // Try every split that does not cross a '/'.
                let mut i = 0;
                loop {
                    if go(rest, &n[i..]) {
                        return true;
                    }
                    if i >= n.len() || n[i] == '/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some('?') => !n.is_empty() && n[0] != '/' && go(&p[1..], &n[1..]),
            Some('[') => match class(&p[1..]) {
                Some((set, neg, used)) => {
                    !n.is_empty()
                        && n[0] != '/'
                        && (in_class(&set, n[0]) != neg)
                        && go(&p[1 + used..], &n[1..])
                }
                None => !n.is_empty() && n[0] == '[' && go(&p[1..], &n[1..]),
            },
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && go(&p[2..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && go(&p[1..], &n[1..]),
        }
    }
    /// A parsed `[...]`: ranges, negated, characters consumed including `]`.
    type Class = (Vec<(char, char)>, bool, usize);
    /// Parses a class body after '['.
    fn class(p: &[char]) -> Option<Class> {
        let mut i = 0;
        let neg = matches!(p.first(), Some('!') | Some('^'));
        if neg {
            i += 1;
        }
        let mut set = Vec::new();
        let mut first = true;
        while i < p.len() {
            let c = p[i];
            if c == ']' && !first {
                return Some((set, neg, i + 1));
            }
            first = false;
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                set.push((c, p[i + 2]));
                i += 3;
            } else {
                set.push((c, c));
                i += 1;
            }
        }
        None
    }
    fn in_class(set: &[(char, char)], c: char) -> bool {
        set.iter().any(|(a, b)| *a <= c && c <= *b)
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}
