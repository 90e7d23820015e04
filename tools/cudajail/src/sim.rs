//! The engine's seams on a simulated host, so every command runs end to end on any OS
//! (`--sim` on the command line, and the tests).

use crate::engine::{Bootstrap, Env, JailExec, RootFs};
use anyhow::{anyhow, bail};
use hostsim::{Node, SimHost};
use jail::{JailOps, Jid};
use linuxulator::Suite;

fn walk(
    s: &mut hostsim::State,
    root: &str,
    rel: &str,
    create_dirs: bool,
) -> anyhow::Result<String> {
    let mut cur = root.trim_end_matches('/').to_string();
    if cur.is_empty() {
        cur.push('/');
    }
    match s.files.get(&cur) {
        Some(Node::Dir) => {}
        _ => bail!("{root}: not a directory"),
    }
    for c in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            bail!("{rel}: '..' is not allowed below a jail root");
        }
        cur = if cur == "/" {
            format!("/{c}")
        } else {
            format!("{cur}/{c}")
        };
        match s.files.get(&cur) {
            Some(Node::Symlink(t)) => bail!("{cur} is a symlink (to {t}); refusing to follow it"),
            Some(_) => {}
            None if create_dirs => {
                s.files.insert(cur.clone(), Node::Dir);
            }
            None => {}
        }
    }
    Ok(cur)
}

impl RootFs for SimHost {
    fn mkdir_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()> {
        self.with_state(|s| walk(s, root, rel, true).map(|_| ()))
    }
    fn write_beneath(&self, root: &str, rel: &str, data: &[u8]) -> anyhow::Result<()> {
        self.with_state(|s| {
            let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
            let parent = walk(s, root, dir, false)?;
            if s.files.get(&parent) != Some(&Node::Dir) {
                bail!("{parent}: no such directory");
            }
            let path = if parent == "/" {
                format!("/{file}")
            } else {
                format!("{parent}/{file}")
            };
            if let Some(Node::Symlink(t)) = s.files.get(&path) {
                bail!("{path} is a symlink (to {t}); refusing to write through it");
            }
            s.files.insert(path, Node::File(data.to_vec()));
            Ok(())
        })
    }
    fn remove_beneath(&self, root: &str, rel: &str) -> anyhow::Result<()> {
        self.with_state(|s| {
            let path = walk(s, root, rel, false)?;
            match s.files.get(&path) {
                Some(Node::File(_)) => {
                    s.files.remove(&path);
                    Ok(())
                }
                _ => Err(anyhow!("{path}: not a file")),
            }
        })
    }
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.with_state(|s| match s.resolve(path) {
            Ok((_, Node::File(d))) => Some(d),
            _ => None,
        })
    }
}

impl Bootstrap for SimHost {
    /// A minimal tree standing in for debootstrap: enough for the later steps (os-release, a
    /// shell, a C compiler for the shim, the directories the mounts need).
    fn bootstrap(&self, suite: Suite, dir: &str) -> anyhow::Result<()> {
        self.with_state(|s| {
            for d in [
                "bin",
                "etc",
                "usr/bin",
                "usr/lib/x86_64-linux-gnu",
                "usr/sbin",
                "dev",
                "proc",
                "sys",
                "tmp",
                "home",
            ] {
                s.mkdir_p(&format!("{dir}/{d}"))
                    .map_err(|e| anyhow!("{dir}/{d}: {e}"))?;
            }
            let os = format!(
                "ID={}\nVERSION_CODENAME={}\n",
                suite.distro(),
                suite.as_str()
            );
            for (f, d) in [
                ("etc/os-release", os.as_bytes()),
                ("bin/sh", b"ELF".as_slice()),
                ("usr/bin/cc", b"ELF".as_slice()),
            ] {
                s.write_file(&format!("{dir}/{f}"), d)
                    .map_err(|e| anyhow!("{f}: {e}"))?;
            }
            Ok(())
        })
    }
}

impl JailExec for SimHost {
    /// Understands `/bin/sh -c "cc … -o OUT …"` when the jail has `/usr/bin/cc` (writes OUT);
    /// anything else exits 127.
    fn exec(&self, jid: Jid, argv: &[&str]) -> anyhow::Result<(i32, String)> {
        let j = JailOps::list(self)?
            .into_iter()
            .find(|j| j.jid == jid)
            .ok_or_else(|| anyhow!("no jail {jid}"))?;
        let cmd = match argv {
            ["/bin/sh", "-c", c] => c.to_string(),
            _ => argv.join(" "),
        };
        let root = j.path;
        self.with_state(|s| {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let has_cc = matches!(
                s.resolve(&format!("{root}/usr/bin/cc")),
                Ok((_, Node::File(_)))
            );
            if words.first() == Some(&"cc") && has_cc {
                if let Some(i) = words.iter().position(|w| *w == "-o") {
                    if let Some(out) = words.get(i + 1) {
                        s.write_file(&format!("{root}{out}"), b"ELF shared object")
                            .map_err(|e| anyhow!("{out}: {e}"))?;
                        return Ok((0, String::new()));
                    }
                }
            }
            Ok((127, format!("{}: not found", words.first().unwrap_or(&""))))
        })
    }
}

/// Every seam served by one simulated host.
pub fn env(h: &SimHost) -> Env<'_> {
    Env {
        jail: h,
        devfs: h,
        kld: h,
        sysctl: h,
        mount: h,
        zfs: h,
        nv: h,
        view: h,
        fs: h,
        boot: h,
        exec: h,
    }
}
