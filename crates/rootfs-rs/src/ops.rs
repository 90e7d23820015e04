//! The seam: [`RootFs`], files below an untrusted root.

use crate::error::Result;
use crate::types::Perm;

/// Builds a root file system into a directory (debootstrap on a real host; hostsim's own tree
/// on the simulated one).
///
/// ```
/// use rootfs::{Bootstrap, RootFs, READ_LIMIT};
/// // hostsim: a simulated host whose bootstrap writes a small Debian-like tree (the real one
/// // runs debootstrap).
/// let h = hostsim::SimHost::freebsd14_with_gpus(0);
/// h.with_state(|s| s.mkdir_p("/zroot/t").unwrap());
/// h.bootstrap("noble", "/zroot/t", &["gcc"]).unwrap();
/// let os = h.read_beneath("/zroot/t", "etc/os-release", READ_LIMIT).unwrap().unwrap();
/// assert!(String::from_utf8(os).unwrap().contains("VERSION_CODENAME=noble"));
/// assert!(h.bootstrap("warty", "/zroot/t", &[]).is_err(), "an unknown suite");
/// ```
pub trait Bootstrap {
    /// Fills `dir` with a minimal system of the distribution suite `suite` (a codename such as
    /// `noble` or `bookworm`; debootstrap's `minbase`) plus the packages `include` names and
    /// what they depend on (debootstrap's `--include`).
    ///
    /// # Errors
    /// An unknown suite, or the build failed ([`crate::Op::Bootstrap`], with what the builder
    /// printed last). `dir` may then hold a partial tree: the caller removes it.
    fn bootstrap(&self, suite: &str, dir: &str, include: &[&str]) -> Result<()>;
}

/// The most bytes [`RootFs::read_beneath`] callers normally accept from a file below the root
/// (16 MiB: configuration files and C sources are far smaller).
pub const READ_LIMIT: u64 = 16 << 20;

/// Files below a root that someone else controls (a jail's root user), acted on by a trusted
/// host. Every path below the root is walked one component at a time from a descriptor of the
/// root, refusing symlinks and `..`; every create gives an explicit [`Perm`]; every replace is
/// atomic. `root` itself is a host path and trusted (a dataset's mountpoint).
///
/// The real host's implementation is [`crate::Beneath`]; hostsim implements it for the simulated
/// host.
///
/// ```
/// use rootfs::{Beneath, Perm, RootFs, READ_LIMIT};
/// let dir = std::env::temp_dir().join(format!("rootfs-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let root = dir.to_str().unwrap();
/// let me = rootfs::current_owner(root).unwrap();
/// let fs = Beneath;
/// fs.mkdir_beneath(root, "etc", Perm::DIR.owned_by(me.0, me.1)).unwrap();
/// fs.write_beneath(root, "etc/hostname", b"gpu\n", Perm::FILE.owned_by(me.0, me.1)).unwrap();
/// assert_eq!(fs.read_beneath(root, "etc/hostname", READ_LIMIT).unwrap().unwrap(), b"gpu\n");
/// std::os::unix::fs::symlink("/etc/passwd", dir.join("etc/link")).unwrap();
/// assert!(fs.read_beneath(root, "etc/link", READ_LIMIT).is_err()); // never followed
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub trait RootFs {
    /// `mkdir -p root/rel`: directories that are missing are created with `perm`; existing
    /// directories are kept as they are. A symlink or a file on the way is refused.
    ///
    /// # Errors
    /// A symlink, a non-directory, `..`, or the kernel's refusal.
    fn mkdir_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()>;

    /// Creates the directory `root/rel` (its parent must exist), which must not exist yet: a
    /// fresh directory nobody else has touched, e.g. for an installer.
    ///
    /// # Errors
    /// [`sysabi::ErrorKind::AlreadyExists`] if anything is there.
    fn mkdir_new_beneath(&self, root: &str, rel: &str, perm: Perm) -> Result<()>;

    /// Replaces (or creates) the file `root/rel` with `data`, atomically: a new file created
    /// exclusively next to it, given `perm`, synced, renamed over the old name, directory synced.
    /// The parent directory must exist. A symlink at `rel` is replaced, never written through.
    ///
    /// # Errors
    /// A symlink on the way, a directory at `rel`, or the kernel's refusal; the old file is
    /// then untouched and no temporary file is left.
    fn write_beneath(&self, root: &str, rel: &str, data: &[u8], perm: Perm) -> Result<()>;

    /// [`RootFs::write_beneath`] with the contents of the host file `src` (a trusted path,
    /// streamed).
    ///
    /// # Errors
    /// As [`RootFs::write_beneath`], or `src` unreadable.
    fn copy_in(&self, src: &str, root: &str, rel: &str, perm: Perm) -> Result<()>;

    /// Removes the name `root/rel` (a file, or a symlink itself, never its target).
    ///
    /// # Errors
    /// A directory, nothing there ([`sysabi::ErrorKind::NotFound`]), a symlink on the way.
    fn remove_beneath(&self, root: &str, rel: &str) -> Result<()>;

    /// Removes the empty directory `root/rel`.
    ///
    /// # Errors
    /// Not empty, not a directory, nothing there.
    fn remove_dir_beneath(&self, root: &str, rel: &str) -> Result<()>;

    /// Reads the regular file `root/rel`, at most `limit` bytes; `Ok(None)` when nothing is
    /// there.
    ///
    /// # Errors
    /// A symlink (at `rel` or on the way), something other than a regular file (a FIFO, a
    /// device, a directory), a file larger than `limit`.
    fn read_beneath(&self, root: &str, rel: &str, limit: u64) -> Result<Option<Vec<u8>>>;

    /// What is at `root/rel`, without following a symlink there (`lstat`); `Ok(None)` when
    /// nothing is. Directories on the way are walked as everywhere here (no symlinks).
    ///
    /// # Errors
    /// A symlink or non-directory on the way, an unreadable or over-long link target.
    fn stat_beneath(&self, root: &str, rel: &str) -> Result<Option<crate::Entry>>;

    /// Reads a host file by a trusted path (`/etc/passwd` of the host, a library of the host's
    /// driver); `None` if it cannot be read.
    fn read_host(&self, path: &str) -> Option<Vec<u8>>;
}
