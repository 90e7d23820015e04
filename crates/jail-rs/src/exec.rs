//! Running a program on behalf of host root: a clean environment, a time limit, and bounded
//! output (what the jail's programs print is untrusted and may be endless). [`run_bounded`]
//! is what `JailHost`'s (FreeBSD) [`crate::JailExec`] runs after `jail_attach(2)`; it is plain
//! process handling, so it runs (and is tested) on any Unix.

use crate::error::{Error, Op, Result};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sysabi::ErrorKind;

/// The whole environment a program run in a jail gets: nothing of cudajail's own (no tokens,
/// proxies or `LD_*` of the admin's shell leak into the jail).
pub const JAIL_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("TERM", "dumb"),
    ("DEBIAN_FRONTEND", "noninteractive"),
];

/// How much of a program's output is kept (the end of it, where errors are): 64 KiB.
pub const OUTPUT_CAP: usize = 64 << 10;

/// The time limit for one program in a jail: 30 minutes (NVIDIA's installer is the slowest,
/// a few minutes on a slow disk).
pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Keeps the last `cap` bytes of what `r` yields, reading it all; returns them and how many
/// bytes were dropped before them.
fn tail(mut r: impl Read, cap: usize) -> (Vec<u8>, u64) {
    let mut keep: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        keep.extend(&buf[..n]);
        while keep.len() > cap {
            let over = keep.len() - cap;
            keep.drain(..over);
            dropped += over as u64;
        }
    }
    (keep.into_iter().collect(), dropped)
}

/// Runs `cmd` with the environment [`JAIL_ENV`] only, standard input from `/dev/null`, its
/// output (standard output then standard error) cut to the last `cap` bytes each, killed after
/// `timeout`. Returns the exit code (-1 for a signal) and the output.
///
/// # Errors
/// The program cannot be started, or ran past `timeout` (it is killed; the error holds the end
/// of what it printed).
pub fn run_bounded(cmd: &mut Command, timeout: Duration, cap: usize) -> Result<(i32, String)> {
    use std::os::unix::process::CommandExt;
    // Its own process group, so that a timeout kills what it started too (a shell's children
    // hold the output pipes open).
    cmd.process_group(0)
        .env_clear()
        .envs(JAIL_ENV.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{:?}", cmd.get_program());
    let failed = |e: std::io::Error| {
        Error::new(Op::Attach, ErrorKind::Other, format!("cannot run it: {e}")).subject(&what)
    };
    let mut child = cmd.spawn().map_err(failed)?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(failed(std::io::ErrorKind::BrokenPipe.into()));
    };
    let out_t = std::thread::spawn(move || tail(out, cap));
    let err_t = std::thread::spawn(move || tail(err, cap));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(failed)? {
            break Some(st);
        }
        if start.elapsed() >= timeout {
            // kill(1) with a negative pid signals the whole group (kill(2) from Rust would need libc here).
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20).min(timeout));
    };
    let join = |t: std::thread::JoinHandle<(Vec<u8>, u64)>| t.join().unwrap_or_default();
    let (o, od) = join(out_t);
    let (e, ed) = join(err_t);
    let mut text = String::new();
    for (bytes, dropped) in [(o, od), (e, ed)] {
        if dropped > 0 {
            text.push_str(&format!("[… {dropped} bytes of output cut …]\n"));
        }
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    match status {
        Some(st) => Ok((st.code().unwrap_or(-1), text)),
        None => Err(Error::new(
            Op::Attach,
            ErrorKind::Other,
            format!(
                "ran past {} s and was killed; its last output:\n{}",
                timeout.as_secs(),
                text.lines()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        )
        .subject(&what)),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_exactly_the_list() {
        // cargo runs tests with CARGO_* variables set: none may reach the program.
        assert!(std::env::vars().any(|(k, _)| k.starts_with("CARGO")));
        let (code, out) = run_bounded(Command::new("/usr/bin/env").arg("-0"), TIMEOUT, OUTPUT_CAP)
            .or_else(|_| run_bounded(&mut Command::new("env"), TIMEOUT, OUTPUT_CAP))
            .unwrap();
        assert_eq!(code, 0);
        let mut got: Vec<&str> = out.split(['\0', '\n']).filter(|l| !l.is_empty()).collect();
        got.sort_unstable();
        let mut want: Vec<String> = JAIL_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect();
        want.sort();
        assert_eq!(got, want);
        assert!(!out.contains("CARGO"));
    }

    #[test]
    fn output_is_capped_at_its_end_and_a_hang_is_killed() {
        let (code, out) = run_bounded(
            Command::new("/bin/sh").args([
                "-c",
                "head -c 1000000 /dev/zero | tr '\\\\0' x; echo; echo the-end; exit 3",
            ]),
            TIMEOUT,
            1000,
        )
        .unwrap();
        assert_eq!(code, 3);
        assert!(out.len() < 1100, "{}", out.len());
        assert!(
            out.contains("bytes of output cut") && out.trim_end().ends_with("the-end"),
            "{out}"
        );
        let t = Instant::now();
        let e = run_bounded(
            Command::new("/bin/sh").args(["-c", "echo started; sleep 30"]),
            Duration::from_millis(300),
            1000,
        )
        .unwrap_err()
        .to_string();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(e.contains("was killed") && e.contains("started"), "{e}");
        // Standard input is /dev/null: a program waiting for input ends at once.
        let (code, _) = run_bounded(
            Command::new("/bin/sh").args(["-c", "read x; exit 0"]),
            Duration::from_secs(10),
            1000,
        )
        .unwrap();
        assert_eq!(code, 0);
    }
}
