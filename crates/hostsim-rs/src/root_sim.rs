//! [`rootfs::RootFs`] on the simulated host: the same refusals as the real, descriptor-based
//! layer (`rootfs::Beneath`), decided here from the simulated tree, and every call logged and
//! fault-injectable ([`Verb::FileMkdir`], [`Verb::FileWrite`], [`Verb::FileRemove`],
//! [`Verb::FileRead`]).
//!
//! Rules modelled (FreeBSD's VFS; the same on Linux):
//! - `openat(O_NOFOLLOW|O_DIRECTORY)` of a symlink fails (`EMLINK` on FreeBSD, open(2)), so a
//!   symlink on the way is refused, never followed;
//! - a hidden devfs entry looks up as missing, and devfs has no `vop_mkdir`
//!   (sys/fs/devfs/devfs_vnops.c: `devfs_vnodeops` lists none, so the VFS answers
//!   `EOPNOTSUPP`);
//! - `renameat` of a file over a directory fails (`EISDIR`), over a symlink replaces the link;
//! - `unlinkat` removes a symlink itself; of a directory it fails (`EPERM` on FreeBSD, unlink(2));
//!   `unlinkat(AT_REMOVEDIR)` of a non-empty directory fails (`ENOTEMPTY`);
//! - `mkdirat` of an existing name fails (`EEXIST`), a dangling symlink included.

use crate::fs::Node;
use crate::{Args, SimHost, State, Verb};
use rootfs::{Bootstrap, Error, ErrorKind, Op, Perm, Rel, Result, RootFs};
use sysabi::Errno;

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn refused_link(op: Op, at: &str) -> Error {
    Error::new(
        op,
        ErrorKind::PermissionDenied,
        "is a symlink; refusing to follow it below an untrusted root",
    )
    .subject(at)
}

/// Walks the directory components of `parts` below `root`; creates missing ones when
/// `create`. `Ok(None)`: a component is missing (and not created).
fn walk(s: &mut State, root: &str, parts: &[&str], create: Option<Perm>) -> Result<Option<String>> {
    let mut cur = crate::fs::normalize(root);
    if s.files.get(&cur) != Some(&Node::Dir) && s.devfs_lookup(&cur).is_none() {
        return Err(Error::from_errno(Op::OpenDir, Errno::ENOTDIR).subject(root));
    }
    for c in parts {
        cur = s.through_mounts(&join(&cur, c));
        // Inside a devfs, devfs answers.
        if let Some(r) = s.devfs_lookup(&cur) {
            match r {
                Ok(Node::Dir) => continue,
                Ok(_) => {
                    return Err(Error::new(Op::OpenDir, ErrorKind::InvalidInput, "not a directory")
                        .subject(&cur))
                }
                Err(_) if create.is_some() => {
                    return Err(Error::from_errno(Op::Mkdir, Errno::EOPNOTSUPP)
                        .subject(&cur)
                        .detail("a devfs directory cannot be created; it must exist in devfs and be unhidden by the jail's ruleset"))
                }
                Err(_) => return Ok(None),
            }
        }
        match s.files.get(&cur) {
            Some(Node::Dir) => {}
            Some(Node::Symlink(_)) => return Err(refused_link(Op::OpenDir, &cur)),
            Some(Node::File(_)) => {
                return Err(
                    Error::new(Op::OpenDir, ErrorKind::InvalidInput, "not a directory")
                        .subject(&cur),
                )
            }
            None if create.is_some() => {
                s.files.insert(cur.clone(), Node::Dir);
                if let Some(p) = create {
                    s.perms.insert(cur.clone(), p);
                }
            }
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// The parent of `rel` (which must exist) and the full path of `rel`.
fn parent(s: &mut State, root: &str, rel: &Rel<'_>, op: Op) -> Result<(String, String)> {
    let Some((dirs, last)) = rel.split_last() else {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            "names the root itself",
        )
        .subject(root));
    };
    match walk(s, root, dirs, None)? {
        Some(d) => {
            let path = s.through_mounts(&join(&d, last));
            Ok((d, path))
        }
        None => {
            Err(Error::from_errno(op, Errno::ENOENT).subject(format!("{root}/{}", rel.as_str())))
        }
    }
}

fn check(perm: Perm, rel: &str) -> Result<()> {
    if perm.mode & !0o1777 != 0 {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::InvalidInput,
            "set-id bits are not created",
        )
        .subject(rel));
    }
    Ok(())
}

impl SimHost {
    /// Logs the call; the injected fault, if any, as this crate's error.
    fn file_call(&self, verb: Verb, op: Op, subject: &str) -> Result<()> {
        let path = subject.to_string();
        let args = match verb {
            Verb::FileMkdir => Args::FileMkdir { path },
            Verb::FileWrite => Args::FileWrite { path },
            Verb::FileRemove => Args::FileRemove { path },
            _ => Args::FileRead { path },
        };
        match self.enter(args) {
            Some(e) => Err(Error::from_errno(op, e).subject(subject)),
            None => Ok(()),
        }
    }
}

impl RootFs for SimHost {
    fn mkdir_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()> {
        self.file_call(Verb::FileMkdir, Op::Mkdir, &join(root, rel))?;
        check(perm, rel)?;
        let rel = Rel::new(rel)?;
        walk(&mut self.st(), root, rel.parts(), Some(perm)).map(|_| ())
    }

    fn mkdir_new_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()> {
        self.file_call(Verb::FileMkdir, Op::Mkdir, &join(root, rel))?;
        check(perm, rel)?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let (_, path) = parent(&mut s, root, &rel, Op::Mkdir)?;
        if s.files.contains_key(&path) || s.devfs_lookup(&path).is_some() {
            return Err(Error::from_errno(Op::Mkdir, Errno::EEXIST).subject(path));
        }
        s.files.insert(path.clone(), Node::Dir);
        s.perms.insert(path, perm);
        Ok(())
    }

    fn write_beneath(&self, root: &str, rel: &str, data: &[u8], perm: Perm) -> Result<()> {
        self.file_call(Verb::FileWrite, Op::Write, &join(root, rel))?;
        check(perm, rel)?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let (_, path) = parent(&mut s, root, &rel, Op::Write)?;
        if s.devfs_lookup(&path).is_some() {
            return Err(Error::from_errno(Op::Write, Errno::EOPNOTSUPP).subject(path));
        }
        if s.files.get(&path) == Some(&Node::Dir) {
            return Err(Error::from_errno(Op::Rename, Errno::EISDIR).subject(path));
        }
        if s.immutable.contains(&path) {
            return Err(Error::from_errno(Op::Rename, Errno::EPERM).subject(path));
        }
        s.files.insert(path.clone(), Node::File(data.to_vec()));
        s.perms.insert(path, perm);
        Ok(())
    }

    fn copy_in(&self, src: &str, root: &str, rel: &str, perm: Perm) -> Result<()> {
        let data = self
            .read_host(src)
            .ok_or_else(|| Error::from_errno(Op::Read, Errno::ENOENT).subject(src))?;
        self.write_beneath(root, rel, &data, perm)
    }

    fn remove_beneath(&self, root: &str, rel: &str) -> Result<()> {
        self.file_call(Verb::FileRemove, Op::Remove, &join(root, rel))?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let (_, path) = parent(&mut s, root, &rel, Op::Remove)?;
        match s.files.get(&path) {
            Some(Node::File(_) | Node::Symlink(_)) if s.immutable.contains(&path) => {
                Err(Error::from_errno(Op::Remove, Errno::EPERM).subject(path))
            }
            Some(Node::File(_) | Node::Symlink(_)) => {
                s.files.remove(&path);
                s.perms.remove(&path);
                Ok(())
            }
            Some(Node::Dir) => Err(Error::from_errno(Op::Remove, Errno::EPERM).subject(path)),
            None => Err(Error::from_errno(Op::Remove, Errno::ENOENT).subject(path)),
        }
    }

    fn remove_dir_beneath(&self, root: &str, rel: &str) -> Result<()> {
        self.file_call(Verb::FileRemove, Op::Remove, &join(root, rel))?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let (_, path) = parent(&mut s, root, &rel, Op::Remove)?;
        match s.files.get(&path) {
            Some(Node::Dir) => {
                let prefix = format!("{path}/");
                if s.files.keys().any(|k| k.starts_with(&prefix)) || s.mounts.contains_key(&path) {
                    let errno = if s.mounts.contains_key(&path) {
                        Errno::EBUSY
                    } else {
                        Errno::ENOTEMPTY
                    };
                    return Err(Error::from_errno(Op::Remove, errno).subject(path));
                }
                s.files.remove(&path);
                s.perms.remove(&path);
                Ok(())
            }
            Some(_) => Err(Error::from_errno(Op::Remove, Errno::ENOTDIR).subject(path)),
            None => Err(Error::from_errno(Op::Remove, Errno::ENOENT).subject(path)),
        }
    }

    fn read_beneath(&self, root: &str, rel: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        self.file_call(Verb::FileRead, Op::Read, &join(root, rel))?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let Some((dirs, last)) = rel.split_last() else {
            return Err(
                Error::new(Op::Read, ErrorKind::InvalidInput, "not a regular file").subject(root),
            );
        };
        let Some(dir) = walk(&mut s, root, dirs, None)? else {
            return Ok(None);
        };
        let path = s.through_mounts(&join(&dir, last));
        if let Some(r) = s.devfs_lookup(&path) {
            return match r {
                Ok(_) => Err(
                    Error::new(Op::Read, ErrorKind::InvalidInput, "not a regular file")
                        .subject(path),
                ),
                Err(_) => Ok(None),
            };
        }
        match s.files.get(&path) {
            None => Ok(None),
            Some(Node::Symlink(_)) => Err(refused_link(Op::Read, &path)),
            Some(Node::Dir) => {
                Err(
                    Error::new(Op::Read, ErrorKind::InvalidInput, "not a regular file")
                        .subject(path),
                )
            }
            Some(Node::File(d)) if d.len() as u64 > limit => Err(Error::new(
                Op::Read,
                ErrorKind::InvalidInput,
                format!("{} bytes, more than the {limit} accepted", d.len()),
            )
            .subject(path)),
            Some(Node::File(d)) => Ok(Some(d.clone())),
        }
    }

    fn stat_beneath(&self, root: &str, rel: &str) -> Result<Option<rootfs::Entry>> {
        self.file_call(Verb::FileRead, Op::Read, &join(root, rel))?;
        let rel = Rel::new(rel)?;
        let mut s = self.st();
        let Some((dirs, last)) = rel.split_last() else {
            return Ok(Some(rootfs::Entry {
                kind: rootfs::EntryKind::Dir,
                perm: Perm::DIR,
                immutable: false,
            }));
        };
        let Some(dir) = walk(&mut s, root, dirs, None)? else {
            return Ok(None);
        };
        let path = s.through_mounts(&join(&dir, last));
        if let Some(r) = s.devfs_lookup(&path) {
            return Ok(r.ok().map(|_| rootfs::Entry {
                kind: rootfs::EntryKind::Other,
                perm: Perm::root(0o600),
                immutable: false,
            }));
        }
        let (kind, default) = match s.files.get(&path) {
            None => return Ok(None),
            Some(Node::Dir) => (rootfs::EntryKind::Dir, Perm::DIR),
            Some(Node::File(_)) => (rootfs::EntryKind::File, Perm::FILE),
            Some(Node::Symlink(t)) => (rootfs::EntryKind::Symlink(t.clone()), Perm::root(0o755)),
        };
        Ok(Some(rootfs::Entry {
            kind,
            perm: s.perms.get(&path).copied().unwrap_or(default),
            immutable: s.immutable.contains(&path),
        }))
    }

    fn read_host(&self, path: &str) -> Option<Vec<u8>> {
        match self.st().resolve(path) {
            Ok((_, Node::File(d))) => Some(d),
            _ => None,
        }
    }
}

/// The distribution of a suite codename (the simulation's own list: Ubuntu's and Debian's
/// codenames cudajail bootstraps).
fn distro(suite: &str) -> Option<&'static str> {
    match suite {
        "jammy" | "noble" => Some("ubuntu"),
        "bookworm" | "trixie" => Some("debian"),
        _ => None,
    }
}

impl Bootstrap for SimHost {
    /// A minimal tree standing in for debootstrap's minbase: os-release, a shell, `ldconfig`
    /// (libc-bin is in minbase) and the directories the mounts need. Like minbase, it has no C
    /// compiler: `/usr/bin/cc` (and `gcc`) only when `include` names `gcc`. An injected fault
    /// ([`Verb::Bootstrap`]) fails it half-way, as debootstrap fails: the directories are there,
    /// the files not.
    fn bootstrap(&self, suite: &str, dir: &str, include: &[&str]) -> Result<()> {
        let fault = self.enter(Args::Bootstrap {
            suite: suite.to_string(),
            dir: dir.to_string(),
            include: include.iter().map(|s| (*s).to_string()).collect(),
        });
        let Some(distro) = distro(suite) else {
            return Err(Error::new(
                Op::Bootstrap,
                ErrorKind::InvalidInput,
                format!("no such suite {suite:?}"),
            )
            .subject(dir));
        };
        let mut s = self.st();
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
                .map_err(|e| Error::from_errno(Op::Bootstrap, e).subject(format!("{dir}/{d}")))?;
        }
        if let Some(e) = fault {
            return Err(Error::from_errno(Op::Bootstrap, e)
                .subject(dir)
                .detail("debootstrap failed half-way"));
        }
        let os = format!("ID={distro}\nVERSION_CODENAME={suite}\n");
        // What every minbase has: base-passwd's root entries, util-linux's runuser (both
        // Essential in Debian and Ubuntu).
        let mut files = vec![
            ("etc/os-release", os.as_bytes()),
            (
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/bash\n".as_slice(),
            ),
            ("etc/group", b"root:x:0:\n".as_slice()),
            ("bin/sh", b"ELF".as_slice()),
            ("sbin/ldconfig", b"ELF".as_slice()),
            ("usr/sbin/runuser", b"ELF".as_slice()),
        ];
        if include.contains(&"gcc") {
            files.push(("usr/bin/gcc", b"ELF".as_slice()));
            files.push(("usr/bin/cc", b"ELF".as_slice()));
        }
        for (f, d) in files {
            s.write_file(&format!("{dir}/{f}"), d)
                .map_err(|e| Error::from_errno(Op::Bootstrap, e).subject(format!("{dir}/{f}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal the real layer makes (crates/rootfs-rs/tests/attacks.rs) is made here too,
    /// from the simulated tree: a test per rule, so the simulation cannot turn permissive.
    #[test]
    fn the_simulated_root_refuses_what_the_real_one_does() {
        let h = SimHost::empty();
        h.with_state(|s| {
            s.mkdir_p("/j/etc").unwrap();
            s.mkdir_p("/j/tmp/planted").unwrap();
            s.write_file("/host/secret", b"secret").unwrap();
            s.symlink("/j/etc/ld.so.preload", "/host/secret").unwrap();
            s.symlink("/j/lib", "/host").unwrap();
        });
        let p = Perm::FILE;
        let e = h.read_beneath("/j", "etc/ld.so.preload", 100).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(h.read_beneath("/j", "lib/secret", 100).is_err());
        assert_eq!(h.read_beneath("/j", "etc/absent", 100).unwrap(), None);
        assert!(h.write_beneath("/j", "lib/x", b"x", p).is_err());
        assert!(h.mkdir_beneath("/j", "lib/x", Perm::DIR).is_err());
        assert!(h.remove_beneath("/j", "lib/secret").is_err());
        assert!(h.write_beneath("/j", "../host/secret", b"x", p).is_err());
        // A link at the name itself is replaced, not written through.
        h.write_beneath("/j", "etc/ld.so.preload", b"ours", p)
            .unwrap();
        assert_eq!(h.read_host("/host/secret").unwrap(), b"secret");
        assert_eq!(
            h.mkdir_new_beneath("/j", "tmp/planted", Perm::PRIVATE_DIR)
                .unwrap_err()
                .errno(),
            Some(Errno::EEXIST)
        );
        h.write_beneath("/j", "tmp/planted/f", b"x", p).unwrap();
        assert_eq!(
            h.remove_dir_beneath("/j", "tmp/planted")
                .unwrap_err()
                .errno(),
            Some(Errno::ENOTEMPTY)
        );
        assert_eq!(
            h.remove_beneath("/j", "tmp/planted").unwrap_err().errno(),
            Some(Errno::EPERM)
        );
        assert!(
            h.write_beneath("/j", "tmp/planted", b"x", p).is_err(),
            "a file never replaces a directory"
        );
        assert!(h.read_beneath("/j", "tmp/planted/f", 0).is_err(), "bounded");
        assert!(
            h.write_beneath("/j", "etc/x", b"", Perm::root(0o4755))
                .is_err(),
            "no set-id bits"
        );
    }

    /// nullfs(5): the bind's upper layer is the host directory itself. A file written or
    /// removed below the jail's bind is written or removed in the host's tree (which is why a
    /// bind may not cover a path cudajail writes; see cudajail's spec validation).
    #[test]
    fn a_nullfs_bind_aliases_the_host_directory() {
        use linuxulator::MountOps;
        let h = SimHost::freebsd14_with_gpus(0);
        h.with_state(|s| {
            s.mkdir_p("/j/models").unwrap();
            s.write_file("/data/weights.bin", b"precious").unwrap();
        });
        let bind = linuxulator::MountSpec {
            fstype: "nullfs".into(),
            from: "/data".into(),
            target: "models".into(),
            options: vec![],
            flags: linuxulator::MountFlags::empty(),
        };
        let on = h.mount("/j", &bind).unwrap();
        assert_eq!(
            h.read_beneath("/j", "models/weights.bin", 100)
                .unwrap()
                .unwrap(),
            b"precious"
        );
        h.write_beneath("/j", "models/new.bin", b"through the jail", Perm::FILE)
            .unwrap();
        assert_eq!(h.read_host("/data/new.bin").unwrap(), b"through the jail");
        h.remove_beneath("/j", "models/weights.bin").unwrap();
        assert_eq!(
            h.read_host("/data/weights.bin"),
            None,
            "deleted on the host"
        );
        h.unmount(&on, linuxulator::MountFlags::empty()).unwrap();
        assert_eq!(
            h.read_host("/data/new.bin").unwrap(),
            b"through the jail",
            "stays after unmount"
        );
        assert_eq!(
            h.read_beneath("/j", "models/new.bin", 100).unwrap(),
            None,
            "the covered dir is empty"
        );
    }

    #[test]
    fn file_calls_are_logged_and_fault_injectable() {
        let h = SimHost::empty();
        h.with_state(|s| s.mkdir_p("/j").unwrap());
        h.fail_at(Verb::FileWrite, 1, Errno::ENOSPC);
        let e = h.write_beneath("/j", "f", b"x", Perm::FILE).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ENOSPC));
        assert_eq!(
            h.read_beneath("/j", "f", 10).unwrap(),
            None,
            "a failed call changes nothing"
        );
        h.write_beneath("/j", "f", b"x", Perm::FILE).unwrap();
        let verbs: Vec<Verb> = h.calls().iter().map(|c| c.verb).collect();
        assert_eq!(verbs, [Verb::FileWrite, Verb::FileRead, Verb::FileWrite]);
    }
}
