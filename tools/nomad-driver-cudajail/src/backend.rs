//! Where the driver's jails live: the FreeBSD host (cudajail's native seams, tasks started with
//! jexec(8)), or a simulated FreeBSD host kept in a file (`NOMAD_CUDAJAIL_SIM_STATE`), for tests
//! and demonstrations: there the jails, datasets and rulesets are simulated, and the task's
//! program runs on this machine as a real process (no jail).

use cudajail::engine::Env;
use std::path::PathBuf;
use std::sync::Mutex;

/// The largest simulated host file read.
const SIM_STATE_LIMIT: u64 = 256 << 20;

/// The host the driver works on.
pub enum Backend {
    /// This FreeBSD host. One change at a time: Nomad starts tasks concurrently, and two `up`s
    /// planned at once would pick the same free devfs ruleset number.
    Native(Mutex<()>),
    /// A simulated host saved in this file, loaded and saved around every change.
    Sim {
        /// The state file.
        state: PathBuf,
        /// One change at a time.
        lock: Mutex<()>,
    },
}

fn load(path: &std::path::Path) -> anyhow::Result<hostsim::SimHost> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SIM_STATE_LIMIT + 1).read_to_end(&mut buf))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    anyhow::ensure!(
        buf.len() as u64 <= SIM_STATE_LIMIT,
        "{}: larger than {SIM_STATE_LIMIT} bytes",
        path.display()
    );
    let state: hostsim::State =
        serde_json::from_slice(&buf).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let h = hostsim::SimHost::empty();
    h.with_state(|s| *s = state);
    Ok(h)
}

fn save(h: &hostsim::SimHost, path: &std::path::Path) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(&h.snapshot())?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

impl Backend {
    /// This FreeBSD host.
    pub fn native() -> Backend {
        Backend::Native(Mutex::new(()))
    }

    /// The simulated host in `state`.
    pub fn sim(state: PathBuf) -> Backend {
        Backend::Sim {
            state,
            lock: Mutex::new(()),
        }
    }

    /// Whether the jails are simulated.
    pub fn simulated(&self) -> bool {
        matches!(self, Backend::Sim { .. })
    }

    /// Runs `f` on the host's seams; a simulated host is saved afterwards, also when `f` fails
    /// (its undo changed the host too).
    ///
    /// # Errors
    /// `f`'s error; the simulated host cannot be read or written; not FreeBSD.
    pub fn with_env<T>(&self, f: impl FnOnce(&Env<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
        match self {
            Backend::Sim { state, lock } => {
                let _g = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let h = load(state)?;
                let r = f(&cudajail::engine::sim_env(&h));
                save(&h, state)?;
                r
            }
            Backend::Native(lock) => {
                let _g = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                native(f)
            }
        }
    }

    /// The uid and gid the *simulated* backend runs a task of `user` as, from the simulated
    /// host's `/etc/passwd` — what `jexec -u` takes from the real host's. `None` on FreeBSD
    /// (jexec switches), for root or no user, and when the driver is not root itself (it
    /// cannot switch then; the task runs as the driver's user).
    ///
    /// # Errors
    /// The state file cannot be read, or `user` is not in its `/etc/passwd`.
    pub fn sim_ids(&self, user: &str) -> anyhow::Result<Option<(u32, u32)>> {
        let Backend::Sim { state, lock } = self else {
            return Ok(None);
        };
        if user.is_empty() || user == "root" || crate::sys::geteuid() != 0 {
            return Ok(None);
        }
        let h = {
            let _g = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            load(state)?
        };
        let passwd = match h.snapshot().files().get("/etc/passwd") {
            Some(hostsim::Node::File(d)) => String::from_utf8_lossy(d).into_owned(),
            _ => String::new(),
        };
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&user) && f.len() >= 4)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("{user} is not in the simulated host's /etc/passwd"))
    }

    /// The command line that runs `argv` in jail `jid` as `user` (empty or `root`: root):
    /// `jexec -u USER JID argv…` on FreeBSD, `argv` itself on the simulated host.
    ///
    /// `-u`: jexec.c looks the user up in the *host's* databases before `jail_attach`, then
    /// sets its groups, gid and uid and execs the command itself (same pid: Nomad's signals
    /// and the exit status are the command's). cudajail mirrors the task user into the jail
    /// with the same name, uid and gid (the spec's `users`), so programs in the jail find it.
    /// Not `-U`: that looks the user up *after* `jail_attach` with FreeBSD's getpwnam(3),
    /// which needs `/etc/pwd.db`, absent from a Linux root ("no such user"). Not the jail's
    /// own `runuser`: it forks, and on the SIGTERM Nomad sends to the task's process group
    /// it reports the signal instead of the command's exit status (measured with util-linux's
    /// runuser on Linux: a command that traps SIGTERM and exits 7 is reported as signal 15).
    pub fn in_jail(&self, jid: i32, user: &str, argv: &[String]) -> Vec<String> {
        match self {
            Backend::Sim { .. } => argv.to_vec(),
            Backend::Native(_) => {
                let mut v = vec!["/usr/sbin/jexec".to_string()];
                if !user.is_empty() && user != "root" {
                    v.extend(["-u".to_string(), user.to_string()]);
                }
                v.push(jid.to_string());
                v.extend(argv.iter().cloned());
                v
            }
        }
    }
}

#[cfg(target_os = "freebsd")]
fn native<T>(f: impl FnOnce(&Env<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let host = cudajail::native::Host::new(None);
    f(&host.env())
}

#[cfg(not(target_os = "freebsd"))]
fn native<T>(f: impl FnOnce(&Env<'_>) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let _ = f;
    anyhow::bail!(
        "the cudajail driver needs a FreeBSD host and this is {} (NOMAD_CUDAJAIL_SIM_STATE runs it on a simulated host)",
        std::env::consts::OS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_user_is_looked_up_on_the_host_by_jexec_u() {
        let b = Backend::Native(Mutex::new(()));
        let argv = vec!["nvidia-smi".to_string(), "-L".to_string()];
        assert_eq!(
            b.in_jail(7, "alice", &argv),
            ["/usr/sbin/jexec", "-u", "alice", "7", "nvidia-smi", "-L"]
        );
        for root in ["", "root"] {
            assert_eq!(
                b.in_jail(7, root, &argv),
                ["/usr/sbin/jexec", "7", "nvidia-smi", "-L"]
            );
        }
    }
}
