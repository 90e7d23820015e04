//! The task supervisor: a small process of the driver's own binary (`nomad-driver-cudajail
//! supervise …`) in a session of its own, which starts the task, records its pid, waits for it
//! and records how it ended. It outlives the driver, so a restarted driver (and Nomad's
//! `RecoverTask`) finds the task's fate in its state directory: `pid`, then `exit.json`.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::{Command, Stdio};

/// How a task ended (or failed to start), as the supervisor records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// Exit status (0 when killed by a signal).
    pub exit_code: i32,
    /// The signal that killed it (0: none).
    pub signal: i32,
    /// Why it could not start (the command is missing…); `exit_code` is then 127.
    pub error: Option<String>,
    /// When it ended (seconds since the epoch).
    pub at: u64,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The recorded end of the task in `dir`, if it has ended.
pub fn exit_of(dir: &Path) -> Option<Exit> {
    use std::io::Read;
    let mut b = Vec::new();
    std::fs::File::open(dir.join("exit.json"))
        .ok()?
        .take(64 << 10)
        .read_to_end(&mut b)
        .ok()?;
    serde_json::from_slice(&b).ok()
}

/// The task's pid (its process group), once started: a number above 1 (a pid of 0 or 1 would
/// make the group signal of `StopTask` hit this process's group or every process).
pub fn pid_of(dir: &Path) -> Option<i32> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(dir.join("pid"))
        .ok()?
        .take(32)
        .read_to_string(&mut s)
        .ok()?;
    s.trim().parse().ok().filter(|p| *p > 1)
}

fn open_out(path: &str) -> std::io::Result<std::fs::File> {
    if path.is_empty() {
        return std::fs::OpenOptions::new().write(true).open("/dev/null");
    }
    // Nomad's log FIFOs, or files; opened for writing without truncating.
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

/// `supervise DIR STDOUT STDERR [--as UID:GID] -- ARGV…`: the supervisor's main (`--as`: the
/// simulated backend's user switch, see `Backend::sim_ids`). Returns its exit status.
pub fn main(args: &[String]) -> i32 {
    let usage = || {
        eprintln!(
            "usage: nomad-driver-cudajail supervise DIR STDOUT STDERR [--as UID:GID] -- COMMAND [ARG…]"
        );
        2
    };
    let (Some(dir), Some(out), Some(err)) = (args.first(), args.get(1), args.get(2)) else {
        return usage();
    };
    let (ids, rest) = match args.get(3).map(String::as_str) {
        Some("--") => (None, &args[4..]),
        Some("--as") => {
            let ids = args.get(4).and_then(|a| {
                let (u, g) = a.split_once(':')?;
                Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?))
            });
            match (ids, args.get(5).map(String::as_str)) {
                (Some(ids), Some("--")) => (Some(ids), &args[6..]),
                _ => return usage(),
            }
        }
        _ => return usage(),
    };
    let dir = Path::new(dir);
    let argv = rest;
    let record = |e: &Exit| {
        let _ = write_atomic(dir, "exit.json", &serde_json::to_vec(e).unwrap_or_default());
    };
    let fail = |why: String| {
        record(&Exit {
            exit_code: 127,
            signal: 0,
            error: Some(why),
            at: now(),
        });
        1
    };
    let Some((prog, rest)) = argv.split_first() else {
        return fail("no command".into());
    };
    let (stdout, stderr) = match (open_out(out), open_out(err)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(format!("opening the task's log: {e}")),
    };
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut cmd = Command::new(prog);
    cmd.args(rest)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group: StopTask signals the whole group.
        .process_group(0);
    if let Some((uid, gid)) = ids {
        // std drops root's supplementary groups when it switches (setgroups(0)).
        cmd.uid(uid).gid(gid);
    }
    let child = cmd.spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail(format!("{prog}: {e}")),
    };
    let _ = write_atomic(dir, "pid", child.id().to_string().as_bytes());
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return fail(format!("waiting for the task: {e}")),
        }
    };
    record(&Exit {
        exit_code: status.code().unwrap_or(0),
        signal: status.signal().unwrap_or(0),
        error: None,
        at: now(),
    });
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_of_0_or_1_or_junk_is_no_pid() {
        let d = std::env::temp_dir().join(format!("supervise-pid-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for (text, want) in [
            ("1234\n", Some(1234)),
            ("1", None),
            ("0", None),
            ("-5", None),
            ("x", None),
        ] {
            std::fs::write(d.join("pid"), text).unwrap();
            assert_eq!(pid_of(&d), want, "{text:?}");
        }
        std::fs::write(d.join("pid"), "9".repeat(100)).unwrap();
        assert_eq!(pid_of(&d), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
