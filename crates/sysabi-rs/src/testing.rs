//! Guards for the privileged test tier (FreeBSD, root): `cargo test -- --ignored`.
//!
//! Decision, written down as STYLE.md asks: a privileged test run explicitly with `--ignored`
//! **fails** when not root (a silent pass would claim a proof that did not happen); a missing
//! optional kernel feature **skips**, printing `SKIP: <reason>`.

use std::sync::atomic::{AtomicU32, Ordering};

/// Whether the process runs as root (asks `id -u`, so no system call binding is needed).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The POSIX shells installed here that the real-shell oracles run (dash, bash `--posix`,
/// busybox sh: FreeBSD's sh is, like dash and busybox, an Almquist shell), each as a command
/// line; a shell counts when it runs `probe` successfully.
pub fn posix_shells(probe: &str) -> Vec<Vec<&'static str>> {
    [vec!["dash"], vec!["bash", "--posix"], vec!["busybox", "sh"]]
        .into_iter()
        .filter(|sh| {
            std::process::Command::new(sh[0])
                .args(&sh[1..])
                .arg("-c")
                .arg(probe)
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect()
}

/// Fails the test unless running as root.
///
/// # Panics
/// When not root, with the command to run instead.
pub fn require_root() {
    assert!(is_root(), "these tests change the kernel's state: run `sudo cargo test -- --ignored` on a FreeBSD host");
}

/// Prints why a test skips; the caller returns right after.
pub fn skip(reason: &str) {
    eprintln!("SKIP: {reason}");
}

/// A name unique to this process and call: `<prefix>_<pid>_<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_names_differ() {
        assert_ne!(super::unique("t"), super::unique("t"));
    }
}
