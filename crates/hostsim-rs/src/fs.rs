//! A small file tree for jail roots: directories, files and symbolic links.

use crate::State;
use sysabi::Errno;

/// A file tree entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Vec<u8>),
    /// A symbolic link with its target (absolute or relative).
    Symlink(String),
}

/// Joins and normalises an absolute path lexically (no symlinks): `.` dropped, `..` pops.
pub(crate) fn normalize(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

impl State {
    /// Creates a directory and its parents (`mkdir -p`). Fails with `ENOTDIR` when a component
    /// is a file, `EEXIST` never.
    pub fn mkdir_p(&mut self, path: &str) -> Result<(), Errno> {
        let p = normalize(path);
        let mut cur = String::new();
        for c in p.split('/').filter(|c| !c.is_empty()) {
            cur.push('/');
            cur.push_str(c);
            match self.files.get(&cur) {
                Some(Node::Dir) => {}
                Some(_) => return Err(Errno::ENOTDIR),
                None => {
                    self.files.insert(cur.clone(), Node::Dir);
                    self.perms.insert(cur.clone(), rootfs::Perm::DIR);
                }
            }
        }
        Ok(())
    }

    /// Writes a file, creating parents (0755 root directories); the file gets 0644 root, what
    /// install(1) gives a configuration file (see [`State::set_perm`] for others).
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), Errno> {
        let p = normalize(path);
        if let Some((parent, _)) = p.rsplit_once('/') {
            self.mkdir_p(if parent.is_empty() { "/" } else { parent })?;
        }
        self.files.insert(p.clone(), Node::File(data.to_vec()));
        self.perms.insert(p, rootfs::Perm::FILE);
        Ok(())
    }

    /// Plants a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<(), Errno> {
        let p = normalize(path);
        if let Some((parent, _)) = p.rsplit_once('/') {
            self.mkdir_p(if parent.is_empty() { "/" } else { parent })?;
        }
        self.perms.remove(&p);
        self.files.insert(p, Node::Symlink(target.into()));
        Ok(())
    }

    /// Sets the mode and owner of an existing entry.
    pub fn set_perm(&mut self, path: &str, perm: rootfs::Perm) {
        let p = normalize(path);
        if self.files.contains_key(&p) {
            self.perms.insert(p, perm);
        }
    }

    /// Removes one entry (file, link or empty directory) with its mode and owner.
    pub fn remove_entry(&mut self, path: &str) {
        let p = normalize(path);
        self.files.remove(&p);
        self.perms.remove(&p);
    }

    /// Where `path` really lives: a path at or below a mount point whose topmost file system is
    /// nullfs is the same path below the mount's source (nullfs(5): the upper layer *is* the
    /// lower directory, so a file written through the jail's bind lands in the host's tree).
    /// Applied until no nullfs mount covers the path (a bind of a bind).
    #[must_use]
    pub fn through_mounts(&self, path: &str) -> String {
        let mut p = normalize(path);
        for _ in 0..16 {
            let hit = self
                .mounts
                .iter()
                .filter(|(on, v)| {
                    v.last().is_some_and(|m| m.fstype == "nullfs")
                        && (p == **on || p.starts_with(&format!("{on}/")))
                })
                .max_by_key(|(on, _)| on.len())
                .map(|(on, v)| {
                    (
                        on.clone(),
                        v.last().map(|m| m.from.clone()).unwrap_or_default(),
                    )
                });
            match hit {
                Some((on, from)) => p = normalize(&format!("{from}/{}", &p[on.len()..])),
                None => break,
            }
        }
        p
    }

    /// Resolves an absolute path following symlinks, as namei(9) does (40 links at most,
    /// then `ELOOP`). Returns the final path and its node.
    pub fn resolve(&self, path: &str) -> Result<(String, Node), Errno> {
        let mut todo: Vec<String> = normalize(path)
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        todo.reverse();
        let mut cur = String::from("/");
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                cur = normalize(&format!("{cur}/.."));
                continue;
            }
            let next = self.through_mounts(&format!("{cur}/{c}"));
            match self.files.get(&next) {
                None => return Err(Errno::ENOENT),
                Some(Node::Symlink(t)) => {
                    links += 1;
                    if links > 40 {
                        return Err(Errno::ELOOP);
                    }
                    let base = if t.starts_with('/') {
                        String::from("/")
                    } else {
                        cur.clone()
                    };
                    let mut parts: Vec<String> = t
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .map(String::from)
                        .collect();
                    parts.reverse();
                    todo.extend(parts);
                    cur = base;
                }
                Some(Node::File(_)) if !todo.is_empty() => return Err(Errno::ENOTDIR),
                Some(_) => cur = next,
            }
        }
        let node = self.files.get(&cur).cloned().ok_or(Errno::ENOENT)?;
        Ok((cur, node))
    }

    /// Resolves `rel` beneath `root` without following any symbolic link and without leaving
    /// `root`: the policy every mount point and every delete under a jail root follows.
    /// `..` components and symlinks are refused with `ENOTCAPABLE` (what FreeBSD's
    /// `O_RESOLVE_BENEATH` answers for an escape); a missing component is `ENOENT`.
    pub fn resolve_beneath(&self, root: &str, rel: &str) -> Result<(String, Node), Errno> {
        let root = normalize(root);
        match self.files.get(&root) {
            Some(Node::Dir) => {}
            Some(_) => return Err(Errno::ENOTDIR),
            None => return Err(Errno::ENOENT),
        }
        let mut cur = root;
        for c in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if c == ".." {
                return Err(Errno::ENOTCAPABLE);
            }
            let next = normalize(&format!("{cur}/{c}"));
            match self.files.get(&next) {
                None => return Err(Errno::ENOENT),
                Some(Node::Symlink(_)) => return Err(Errno::ENOTCAPABLE),
                Some(_) => cur = next,
            }
        }
        let node = self.files.get(&cur).cloned().ok_or(Errno::ENOENT)?;
        Ok((cur, node))
    }
}

impl linuxulator::readiness::FsView for crate::SimHost {
    /// Files in the tree, and device nodes a devfs mount shows (`/dev/nvidiactl`).
    fn exists(&self, path: &str) -> bool {
        // Below a devfs mount, devfs answers (the directory underneath is covered).
        if let Some(r) = self.st().devfs_lookup(path) {
            return r.is_ok();
        }
        if self.st().resolve(path).is_ok() {
            return true;
        }
        let p = normalize(path);
        let devfs: Vec<String> = self
            .st()
            .mounts
            .iter()
            .filter(|(_, v)| v.last().is_some_and(|m| m.fstype == "devfs"))
            .map(|(on, _)| on.clone())
            .collect();
        devfs.iter().any(|on| {
            p.strip_prefix(&format!("{on}/"))
                .is_some_and(|rest| self.devfs_nodes(on).iter().any(|n| n == rest))
        })
    }
    fn read_to_string(&self, path: &str) -> Option<String> {
        match self.st().resolve(path) {
            Ok((_, Node::File(b))) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        }
    }
    /// Directory entries; for a devfs mount point, the device nodes it shows (top level).
    fn read_dir(&self, path: &str) -> Vec<String> {
        let p = normalize(path);
        // A directory inside a devfs: the entries devfs lets a lookup reach.
        let inside = self.st().below_devfs(&p);
        if let Some((on, rest)) = inside {
            let prefix = format!("{rest}/");
            let mut v: Vec<String> = self
                .devfs_nodes(&on)
                .into_iter()
                .filter_map(|n| n.strip_prefix(&prefix).map(String::from))
                .filter(|n| !n.contains('/'))
                .collect();
            v.dedup();
            return v;
        }
        let is_devfs = self
            .st()
            .mounts
            .get(&p)
            .and_then(|v| v.last())
            .is_some_and(|m| m.fstype == "devfs");
        if is_devfs {
            let mut v: Vec<String> = self
                .devfs_nodes(&p)
                .into_iter()
                .filter(|n| !n.contains('/'))
                .collect();
            v.dedup();
            return v;
        }
        let s = self.st();
        let Ok((dir, Node::Dir)) = s.resolve(path) else {
            return Vec::new();
        };
        let prefix = if dir == "/" {
            dir.clone()
        } else {
            format!("{dir}/")
        };
        s.files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|r| !r.is_empty() && !r.contains('/'))
            .map(String::from)
            .collect()
    }
}

impl State {
    /// When the deepest mount `path` lies strictly below is a devfs: that mount point and the
    /// rest of the path (`/j/dev`, `shm`).
    pub fn below_devfs(&self, path: &str) -> Option<(String, String)> {
        let p = normalize(path);
        let (on, rest) = self
            .mounts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(on, _)| {
                p.strip_prefix(&format!("{}/", on.trim_end_matches('/')))
                    .map(|rest| (on.clone(), rest.to_string()))
            })
            .max_by_key(|(on, _)| on.len())?;
        let top = self.mounts.get(&on)?.last()?;
        (top.fstype == "devfs").then_some((on, rest))
    }

    /// Looks `path` up inside a devfs mount, as `devfs_lookupx` does: `None` when the path is
    /// not below a devfs; else the entry (a directory or a device, shown as an empty file) or
    /// `ENOENT` for a missing or hidden one.
    pub fn devfs_lookup(&self, path: &str) -> Option<Result<Node, Errno>> {
        let (on, rest) = self.below_devfs(path)?;
        let seen = crate::devfs_sim::devfs_reachable(self, &on);
        if !seen.contains(&rest) {
            return Some(Err(Errno::ENOENT));
        }
        let dir = seen.iter().any(|n| n.starts_with(&format!("{rest}/")))
            || crate::devfs_model::is_dir(&crate::SimHost::devfs_devices(self), &rest);
        Some(Ok(if dir {
            Node::Dir
        } else {
            Node::File(Vec::new())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution() {
        let mut s = State::default();
        s.files.insert("/".into(), Node::Dir);
        s.mkdir_p("/j/root/etc").unwrap();
        s.symlink("/j/root/proc", "/").unwrap();
        s.symlink("/j/root/etc2", "etc").unwrap();
        s.write_file("/j/root/etc/hosts", b"x").unwrap();
        assert_eq!(
            s.resolve("/j/root/etc2/hosts").unwrap().0,
            "/j/root/etc/hosts"
        );
        assert_eq!(s.resolve("/j/root/proc").unwrap().0, "/");
        assert_eq!(
            s.resolve_beneath("/j/root", "proc").unwrap_err(),
            Errno::ENOTCAPABLE
        );
        assert_eq!(
            s.resolve_beneath("/j/root", "../root/etc").unwrap_err(),
            Errno::ENOTCAPABLE
        );
        assert_eq!(
            s.resolve_beneath("/j/root", "etc").unwrap().0,
            "/j/root/etc"
        );
        assert_eq!(
            s.resolve_beneath("/j/root", "nope").unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(
            s.resolve("/j/root/etc/hosts/x").unwrap_err(),
            Errno::ENOTDIR
        );
        s.symlink("/loop", "/loop").unwrap();
        assert_eq!(s.resolve("/loop").unwrap_err(), Errno::ELOOP);
    }
}
