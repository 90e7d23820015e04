//! A simulated FreeBSD host for testing code that embeds the cudajail crates, on any OS.
//!
//! One [`SimHost`] holds one consistent state — jails, devfs rulesets and mounts, kernel
//! modules, sysctls, a file tree for jail roots, ZFS datasets, NVIDIA GPUs behind a fake
//! driver — and implements every seam: [`jail::JailOps`], [`devfs::DevfsOps`],
//! [`kld::KldOps`], [`linuxulator::SysctlOps`], [`linuxulator::MountOps`], [`zfs::ZfsOps`],
//! [`nvgpu::NvTransport`]. It follows the kernel's documented rules and errors; each verb's
//! documentation names the man page or kernel behaviour it follows and says where it guesses.
//!
//! # Testing your code without root
//! ```
//! use hostsim::{SimHost, Verb};
//! use kld::KldOps;
//!
//! let host = SimHost::freebsd14_with_gpus(1);
//! let before = host.snapshot();
//! host.fail_at(Verb::KldLoad, 1, kld::Errno::EPERM);
//! assert!(kld::ensure_loaded(&host, &["linux64"]).is_err());
//! assert_eq!(host.snapshot(), before, "a failed load changed nothing");
//! assert!(kld::ensure_loaded(&host, &["linux64"]).is_ok());
//! assert!(host.modfind("linux_common").unwrap(), "linux64 pulled in linux_common");
//! ```
//!
//! # Fault injection
//! [`SimHost::fail_at`] fails the n-th call of a verb with an errno; [`SimHost::fail_after`]
//! fails every call after the n-th. [`SimHost::calls`] is the ordered call log, typed per verb
//! ([`Args`]), and [`SimHost::snapshot`] the whole state, comparable with `==`.
//!
//! # State
//! [`State`]'s fields are private: the seams change them by the kernel's rules. From outside
//! there are read accessors ([`State::jails`], [`State::datasets`], …) and setup verbs for
//! what is not a seam call — what hardware, an administrator or a test fixture does
//! ([`State::add_gpu`], [`State::remove_last_gpu`], [`State::set_sysctl`], [`State::add_jail`]
//! for a jail another tool made, …), each keeping the state's counters consistent; reach them
//! through [`SimHost::with_state`].

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod call;
pub use call::{Args, Call};
pub mod devfs_model;
mod devfs_sim;
mod exec_sim;
mod state;
pub use exec_sim::programs;
mod fs;
mod jail_params;
mod jail_sim;
mod kld_sim;
mod linux_sim;
mod nv_abi;
mod nv_sim;
mod root_sim;
mod tmpfs_model;
pub use tmpfs_model::TmpfsRoot;
mod zfs_sim;

pub use exec_sim::RecordedRun;
pub use fs::Node;
pub use jail_sim::SimJail;
pub use kld_sim::SimKld;
pub use linux_sim::SimMount;
pub use nv_sim::SimGpu;
pub use zfs_sim::SimDataset;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use sysabi::Errno;

/// Every verb of every seam, for fault injection and the call log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Verb {
    JailCreate,
    JailUpdate,
    JailGet,
    JailList,
    JailRemove,
    DevfsAddRule,
    DevfsDeleteRule,
    DevfsRules,
    DevfsRulesets,
    DevfsUseRuleset,
    DevfsApplyRuleset,
    DevfsApplyRule,
    KldLoad,
    KldUnload,
    KldFind,
    KldModfind,
    KldList,
    SysctlGet,
    SysctlSet,
    Mount,
    Unmount,
    Mounts,
    ZfsCreate,
    ZfsSnapshot,
    ZfsClone,
    ZfsDestroy,
    ZfsRollback,
    ZfsRename,
    ZfsPromote,
    ZfsExists,
    ZfsChildren,
    ZfsGetProp,
    ZfsSetProp,
    ZfsJail,
    ZfsUnjail,
    NvOpen,
    NvEscape,
    NvRmAlloc,
    NvRmControl,
    NvRmFree,
    /// A program run inside a jail (`jail_attach` + exec: `jail::JailExec`).
    JailExec,
    /// `mkdirat` below a root (`RootFs::mkdir_beneath`, `mkdir_new_beneath`).
    FileMkdir,
    /// A file created or replaced below a root (`RootFs::write_beneath`, `copy_in`).
    FileWrite,
    /// `unlinkat` below a root (`RootFs::remove_beneath`, `remove_dir_beneath`).
    FileRemove,
    /// A file read below a root (`RootFs::read_beneath`).
    FileRead,
    /// A root file system built (`Bootstrap::bootstrap`: debootstrap on a real host).
    Bootstrap,
}

impl Verb {
    /// Whether the call changes host state (jails, rules, modules, sysctls, mounts, datasets);
    /// queries and the GPU's RM calls (whose objects die with the file descriptor) do not.
    #[must_use]
    pub fn changes_host(self) -> bool {
        use Verb::*;
        !matches!(
            self,
            JailGet
                | JailList
                | DevfsRules
                | DevfsRulesets
                | KldFind
                | KldModfind
                | KldList
                | SysctlGet
                | Mounts
                | ZfsExists
                | ZfsChildren
                | ZfsGetProp
                | NvOpen
                | NvEscape
                | NvRmAlloc
                | NvRmControl
                | NvRmFree
                | FileRead
        )
    }
}

/// The whole simulated kernel state; compare two snapshots with `==`. It serialises (serde), so
/// a simulated host can be saved and loaded (`cudajail --sim-state`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Jails by jid.
    pub(crate) jails: BTreeMap<i32, jail_sim::SimJail>,
    /// Removed jails still dying (`prison_deref` has not freed them: their processes or
    /// sockets hold references), by jid, with the number of `JAIL_DYING` lookups they survive.
    pub(crate) dying_jails: BTreeMap<i32, (jail_sim::SimJail, u32)>,
    /// How many `JAIL_DYING` lookups a jail removed from now on stays dying (0, the default: a
    /// jail with no processes left dies at once).
    pub(crate) jail_linger: u32,
    /// The last jid handed out (the kernel's `lastprid`).
    pub(crate) last_jid: i32,
    /// Loaded linker files by file name.
    pub(crate) klds: BTreeMap<String, kld_sim::SimKld>,
    /// Next linker file id.
    pub(crate) next_kld_id: i32,
    /// Sysctls by name, values as text.
    pub(crate) sysctls: BTreeMap<String, String>,
    /// devfs rulesets (global to the kernel).
    pub(crate) rulesets: BTreeMap<devfs::RulesetId, Vec<devfs::Rule>>,
    /// Mounts by mount point; several can stack on one point.
    pub(crate) mounts: BTreeMap<String, Vec<linux_sim::SimMount>>,
    /// The file tree (absolute paths).
    pub(crate) files: BTreeMap<String, Node>,
    /// Mode and owner of what was created through `RootFs` (absolute paths; files made by
    /// the simulation itself, such as the bootstrap's, have none recorded).
    pub(crate) perms: BTreeMap<String, rootfs::Perm>,
    /// Program runs recorded on a real host, replayed by the simulated jails (exec_sim): the
    /// simulation does not interpret these programs, it answers what the recording says.
    pub(crate) recorded: Vec<exec_sim::RecordedRun>,
    /// Files with an immutable or append-only flag (`chflags schg`): FreeBSD refuses to write
    /// them or rename over them (`EPERM`, as `ufs_rename`/`zfs_rename` check the target's
    /// flags).
    pub(crate) immutable: std::collections::BTreeSet<String>,
    /// Per devfs mount: nodes shown or hidden by a single applied rule (RAPPLY).
    pub(crate) devfs_overrides: BTreeMap<String, BTreeMap<String, bool>>,
    /// Device nodes devfs knows (names below `/dev`).
    pub(crate) devices: Vec<devfs::eval::Node>,
    /// ZFS datasets and snapshots by full name.
    pub(crate) datasets: BTreeMap<String, zfs_sim::SimDataset>,
    /// NVIDIA GPUs.
    pub(crate) gpus: Vec<SimGpu>,
    /// The NVIDIA kernel driver version (`None`: no driver loaded).
    pub(crate) nvidia_version: Option<String>,
    /// RM objects: (client, handle) → (class, GPU index). A client is its own object.
    #[serde(skip)]
    pub(crate) rm_objects: BTreeMap<(u32, u32), (u32, u32)>,
    /// ZFS transaction group counter (creation order of snapshots).
    pub(crate) txg: u64,
}

#[derive(Debug, Default)]
struct Faults {
    at: Vec<(Verb, u32, Errno)>,
    after: Vec<(Verb, u32, Errno)>,
    counts: BTreeMap<Verb, u32>,
}

/// The simulated host. Cheap to create; share it by reference (`&SimHost` implements the traits
/// through `&self`).
#[derive(Debug, Default)]
pub struct SimHost {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<Call>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a test while holding the lock must not hide the state from the next assertion.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SimHost {
    /// An empty host: no jails, no modules, no files but `/`.
    pub fn empty() -> SimHost {
        let h = SimHost::default();
        lock(&h.state).files.insert("/".into(), Node::Dir);
        h
    }

    /// A FreeBSD 14 host with `n` NVIDIA GPUs: the kernel with its built-in file systems,
    /// `zfs.ko` and `nvidia.ko`/`nvidia-modeset.ko` loaded, the stock devfs rulesets 1–5, devfs on
    /// `/dev`, a pool `zroot` mounted at `/zroot`, and the usual directories. A workstation: its
    /// `/etc/passwd` and `/etc/group` have FreeBSD's system accounts and one user, `alice`
    /// (1001), whose home holds `models` and `work` (what `docs/example-spec.toml` binds).
    pub fn freebsd14_with_gpus(n: u32) -> SimHost {
        let h = SimHost::empty();
        {
            let mut s = lock(&h.state);
            kld_sim::seed(&mut s);
            for d in [
                "/dev",
                "/etc",
                "/compat",
                "/compat/linux",
                "/tmp",
                "/usr",
                "/zroot",
            ] {
                s.files.insert(d.into(), Node::Dir);
            }
            for d in ["/home/alice/models", "/home/alice/work"] {
                let _ = s.mkdir_p(d);
            }
            let _ = s.write_file(
                "/etc/passwd",
                b"root:*:0:0:Charlie &:/root:/bin/sh\n\
                  toor:*:0:0:Bourne-again Superuser:/root:\n\
                  daemon:*:1:1:Owner of many system processes:/root:/usr/sbin/nologin\n\
                  operator:*:2:5:System &:/:/usr/sbin/nologin\n\
                  nobody:*:65534:65534:Unprivileged user:/nonexistent:/usr/sbin/nologin\n\
                  alice:*:1001:1001:Alice:/home/alice:/bin/sh\n",
            );
            let _ = s.write_file(
                "/etc/group",
                b"wheel:*:0:root\ndaemon:*:1:\noperator:*:5:root\nvideo:*:44:alice\n\
                  nogroup:*:65533:\nnobody:*:65534:\nalice:*:1001:\n",
            );
            s.rulesets = crate::devfs_model::stock_rulesets();
            s.sysctls
                .insert("kern.osrelease".into(), "14.3-RELEASE".into());
            s.sysctls.insert("security.jail.jailed".into(), "0".into());
            s.sysctls
                .insert("kern.elf64.fallback_brand".into(), "-1".into());
            s.sysctls.insert("vfs.devfs.rule_depth".into(), "1".into());
            let base = [
                "null", "zero", "random", "urandom", "crypto", "ptmx", "pts", "fd", "fd/0", "fd/1",
                "fd/2", "stdin", "stdout", "stderr", "mem", "kmem", "console", "ada0", "ada0p1",
                "zfs", "fuse", "pf", "ttyv0",
            ];
            s.devices = base.iter().map(|d| devfs::eval::Node::new(d)).collect();
            nv_sim::seed(&mut s, n, "580.95.05");
            s.mounts.insert(
                "/dev".into(),
                vec![linux_sim::SimMount::new("devfs", "devfs", Some(0))],
            );
            zfs_sim::seed(&mut s, "zroot");
        }
        h
    }

    /// A host `cudajail doctor` finds ready: [`SimHost::freebsd14_with_gpus`] plus the Linux ABI
    /// and file system modules loaded, `linux_enable="YES"` in `/etc/rc.conf`, `/compat/linux`
    /// with NVIDIA's Linux libraries of the driver's version, and tmpfs on `/compat/linux/dev/shm`.
    pub fn freebsd14_cuda_ready(n: u32) -> SimHost {
        let h = SimHost::freebsd14_with_gpus(n);
        {
            let mut s = lock(&h.state);
            for f in [
                "linux.ko",
                "linux64.ko",
                "fdescfs.ko",
                "linprocfs.ko",
                "linsysfs.ko",
                "pty.ko",
            ] {
                let _ = kld_sim::load_file(&mut s, f, true);
            }
            let v = s.nvidia_version.clone().unwrap_or_default();
            let _ = s.write_file(
                "/etc/rc.conf",
                b"zfs_enable=\"YES\"\nlinux_enable=\"YES\"\n",
            );
            let _ = s.write_file(&format!("/compat/linux/usr/lib64/libnvidia-ml.so.{v}"), b"");
            let _ = s.write_file(&format!("/compat/linux/usr/lib64/libcuda.so.{v}"), b"");
            let _ = s.mkdir_p("/compat/linux/dev/shm");
            s.mounts.insert(
                "/compat/linux/dev/shm".into(),
                vec![linux_sim::SimMount::new("tmpfs", "tmpfs", None)],
            );
        }
        h
    }

    /// Fails the `nth` call (1-based, counted from now) of `verb` with `errno`; that call
    /// changes nothing.
    pub fn fail_at(&self, verb: Verb, nth: u32, errno: Errno) {
        let mut f = lock(&self.faults);
        let done = f.counts.get(&verb).copied().unwrap_or(0);
        f.at.push((verb, done + nth, errno));
    }

    /// Fails every call of `verb` after the next `n` succeed.
    pub fn fail_after(&self, verb: Verb, n: u32, errno: Errno) {
        let mut f = lock(&self.faults);
        let done = f.counts.get(&verb).copied().unwrap_or(0);
        f.after.push((verb, done + n, errno));
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        let mut f = lock(&self.faults);
        f.at.clear();
        f.after.clear();
    }

    /// The ordered call log.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.log).clone()
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> State {
        lock(&self.state).clone()
    }

    /// The state as a program can observe it, for "nothing changed" checks: counters the kernel
    /// never rewinds (the next jid, linker file ids, ZFS transaction groups) and NVIDIA RM objects
    /// (freed with their file) are left out, so a
    /// create followed by its undo compares equal to before.
    pub fn observable(&self) -> State {
        let mut s = self.snapshot();
        s.last_jid = 0;
        s.next_kld_id = 0;
        s.txg = 0;
        for k in s.klds.values_mut() {
            k.id = 0;
        }
        for d in s.datasets.values_mut() {
            d.createtxg = 0;
        }
        // RM objects live as long as the client's open file: the driver frees every client of
        // a file when it is closed (open-gpu-kernel-modules, kernel-open/nvidia/nv.c:
        // nvidia_close → rm_cleanup_file_private), so one left by a failed RmFree is gone once
        // the program's descriptor is. The simulation has no close; a program cannot observe
        // another program's objects, so they are left out here.
        s.rm_objects.clear();
        s
    }

    /// Changes the state directly (to plant files, devices, modules…).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// Counts and logs a call; returns the injected errno if this call must fail.
    fn enter(&self, args: Args) -> Option<Errno> {
        let verb = args.verb();
        let mut f = lock(&self.faults);
        let n = {
            let c = f.counts.entry(verb).or_insert(0);
            *c += 1;
            *c
        };
        let hit =
            f.at.iter()
                .find(|(v, k, _)| *v == verb && *k == n)
                .or_else(|| f.after.iter().find(|(v, k, _)| *v == verb && n > *k))
                .map(|(_, _, e)| *e);
        lock(&self.log).push(Call {
            verb,
            args,
            failed: hit,
        });
        hit
    }

    /// Marks the last logged call as failed with `errno` (for kernel-rule failures).
    fn failed(&self, errno: Errno) {
        if let Some(c) = lock(&self.log).last_mut() {
            c.failed = Some(errno);
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kld::KldOps;

    #[test]
    fn fail_at_counts_from_now_and_logs() {
        let h = SimHost::freebsd14_with_gpus(0);
        let _ = h.find("linux64");
        h.fail_at(Verb::KldFind, 2, Errno::EIO);
        assert!(h.find("a").is_ok());
        assert_eq!(h.find("b").unwrap_err().errno(), Some(Errno::EIO));
        assert!(h.find("c").is_ok());
        let log = h.calls();
        assert_eq!(log.len(), 4);
        assert_eq!(
            log[2],
            Call {
                verb: Verb::KldFind,
                args: Args::KldFind { file: "b".into() },
                failed: Some(Errno::EIO)
            }
        );
    }

    #[test]
    fn fail_after_fails_every_later_call() {
        let h = SimHost::freebsd14_with_gpus(0);
        h.fail_after(Verb::KldFind, 1, Errno::EPERM);
        assert!(h.find("a").is_ok());
        assert!(h.find("b").is_err());
        assert!(h.find("c").is_err());
        h.clear_faults();
        assert!(h.find("d").is_ok());
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
