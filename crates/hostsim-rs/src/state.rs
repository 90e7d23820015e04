//! [`State`]'s public face: its fields are private to this crate (the seams change them by the
//! kernel's rules); from outside, read accessors, and *setup verbs* for what is not a seam
//! call — what the hardware, the administrator or a test fixture does to a host (a GPU
//! falling off the bus, a sysctl in loader.conf, a jail made by another tool). Each setup verb
//! keeps the state's own invariants (the next jid and linker-file id stay ahead).

use crate::{
    exec_sim::RecordedRun, jail_sim::SimJail, kld_sim::SimKld, linux_sim::SimMount, nv_sim::SimGpu,
    zfs_sim::SimDataset, Node, State,
};
use std::collections::{BTreeMap, BTreeSet};
use sysabi::Errno;

/// Read accessors.
impl State {
    /// Live jails by jid.
    #[must_use]
    pub fn jails(&self) -> &BTreeMap<i32, SimJail> {
        &self.jails
    }
    /// Removed jails still dying, by jid, with the `JAIL_DYING` lookups they survive.
    #[must_use]
    pub fn dying_jails(&self) -> &BTreeMap<i32, (SimJail, u32)> {
        &self.dying_jails
    }
    /// The last jid handed out.
    #[must_use]
    pub fn last_jid(&self) -> i32 {
        self.last_jid
    }
    /// Loaded linker files by file name.
    #[must_use]
    pub fn klds(&self) -> &BTreeMap<String, SimKld> {
        &self.klds
    }
    /// Sysctls by name, values as text.
    #[must_use]
    pub fn sysctls(&self) -> &BTreeMap<String, String> {
        &self.sysctls
    }
    /// devfs rulesets.
    #[must_use]
    pub fn rulesets(&self) -> &BTreeMap<devfs::RulesetId, Vec<devfs::Rule>> {
        &self.rulesets
    }
    /// Mounts by mount point (stacked in order).
    #[must_use]
    pub fn mounts(&self) -> &BTreeMap<String, Vec<SimMount>> {
        &self.mounts
    }
    /// The file tree by absolute path.
    #[must_use]
    pub fn files(&self) -> &BTreeMap<String, Node> {
        &self.files
    }
    /// Mode and owner of what was created through `RootFs`.
    #[must_use]
    pub fn perms(&self) -> &BTreeMap<String, rootfs::Perm> {
        &self.perms
    }
    /// The recorded program runs the simulated jails replay.
    #[must_use]
    pub fn recorded(&self) -> &[RecordedRun] {
        &self.recorded
    }
    /// Files with an immutable or append-only flag.
    #[must_use]
    pub fn immutable(&self) -> &BTreeSet<String> {
        &self.immutable
    }
    /// Device nodes devfs knows (names below `/dev`).
    #[must_use]
    pub fn devices(&self) -> &[devfs::eval::Node] {
        &self.devices
    }
    /// ZFS datasets and snapshots by full name.
    #[must_use]
    pub fn datasets(&self) -> &BTreeMap<String, SimDataset> {
        &self.datasets
    }
    /// NVIDIA GPUs.
    #[must_use]
    pub fn gpus(&self) -> &[SimGpu] {
        &self.gpus
    }
    /// The NVIDIA kernel driver version (`None`: no driver loaded).
    #[must_use]
    pub fn nvidia_version(&self) -> Option<&str> {
        self.nvidia_version.as_deref()
    }
}

/// Setup verbs: changes that are not seam calls (not logged, never fault-injected).
impl State {
    /// Sets a sysctl's value (loader.conf, a kernel's own value).
    pub fn set_sysctl(&mut self, name: &str, value: &str) {
        self.sysctls.insert(name.to_string(), value.to_string());
    }
    /// Adds a loaded linker file (one present at boot); the next id stays above every id.
    pub fn add_kld(&mut self, file: &str, kld: SimKld) {
        self.next_kld_id = self.next_kld_id.max(kld.id + 1);
        self.klds.insert(file.to_string(), kld);
    }
    /// Replaces a devfs ruleset's rules (one loaded at boot).
    pub fn set_ruleset(&mut self, id: devfs::RulesetId, rules: Vec<devfs::Rule>) {
        self.rulesets.insert(id, rules);
    }
    /// Adds a mount on `on` (on top of any already there); the mount point is created.
    ///
    /// # Errors
    /// `ENOTDIR` when a component of `on` is a file.
    pub fn add_mount(&mut self, on: &str, m: SimMount) -> Result<(), Errno> {
        self.mkdir_p(on)?;
        self.mounts.entry(on.to_string()).or_default().push(m);
        Ok(())
    }
    /// Sets the device nodes devfs shows (names below `/dev`).
    pub fn set_devices(&mut self, nodes: Vec<devfs::eval::Node>) {
        self.devices = nodes;
    }
    /// Adds a dataset or snapshot as it exists (a pool imported, a copy of a real host's);
    /// its mountpoint, when it has one, is created.
    pub fn add_dataset(&mut self, name: &str, d: SimDataset) {
        if let Some(mp) = d.props.get("mountpoint") {
            if mp.starts_with('/') {
                let _ = self.mkdir_p(mp);
            }
        }
        self.datasets.insert(name.to_string(), d);
    }
    /// Adds a GPU (the driver attaching one).
    pub fn add_gpu(&mut self, gpu: SimGpu) {
        self.gpus.push(gpu);
    }
    /// Removes the last GPU (one falling off the bus) and returns it.
    pub fn remove_last_gpu(&mut self) -> Option<SimGpu> {
        self.gpus.pop()
    }
    /// Unloads the NVIDIA driver (its version gone; the GPUs stay, unanswered) or sets its
    /// version without touching the GPUs or the libraries.
    pub fn set_nvidia_version(&mut self, v: Option<&str>) {
        self.nvidia_version = v.map(str::to_string);
    }
    /// How many `JAIL_DYING` lookups a jail removed from now on stays dying.
    pub fn set_jail_linger(&mut self, lookups: u32) {
        self.jail_linger = lookups;
    }
    /// Adds a jail that exists without a seam call (made by jail(8) or a jail manager, or
    /// copied from a real host) with this jid; its path is created and the next jid handed
    /// out stays above it.
    pub fn add_jail(&mut self, jid: i32, jail: SimJail) {
        let _ = self.mkdir_p(&jail.path);
        self.last_jid = self.last_jid.max(jid);
        self.jails.insert(jid, jail);
    }
    /// The program runs the simulated jails replay (recorded on a real host).
    pub fn set_recorded(&mut self, runs: Vec<RecordedRun>) {
        self.recorded = runs;
    }
    /// Sets a dataset's local property (as `zfs set` by the administrator would).
    ///
    /// # Errors
    /// `ENOENT` for a dataset that does not exist.
    pub fn set_dataset_prop(&mut self, ds: &str, prop: &str, value: &str) -> Result<(), Errno> {
        let d = self.datasets.get_mut(ds).ok_or(Errno::ENOENT)?;
        d.props.insert(prop.to_string(), value.to_string());
        Ok(())
    }
    /// Removes `rel` from the files of every snapshot (a template built without it).
    pub fn remove_from_snapshots(&mut self, rel: &str) {
        for d in self.datasets.values_mut() {
            if let Some(f) = d.files.as_mut() {
                f.remove(rel);
            }
        }
    }
    /// Sets or clears `chflags schg` on a file.
    pub fn set_immutable(&mut self, path: &str, on: bool) {
        if on {
            self.immutable.insert(path.to_string());
        } else {
            self.immutable.remove(path);
        }
    }

    /// For comparing two states: drops dataset `name` and, for a file system mounted at
    /// `/<name>` (the simulated pool's default), its mount and the files and modes below it
    /// that `before` did not have. A snapshot is only dropped.
    pub fn forget_dataset(&mut self, name: &str, before: &State) {
        self.datasets.remove(name);
        if name.contains('@') {
            return;
        }
        let mp = format!("/{name}");
        self.mounts.remove(&mp);
        let below = format!("{mp}/");
        self.files
            .retain(|k, _| before.files.contains_key(k) || (k != &mp && !k.starts_with(&below)));
        self.perms
            .retain(|k, _| before.perms.contains_key(k) || (k != &mp && !k.starts_with(&below)));
    }

    /// For comparing two states: takes `other`'s sysctls (ignoring sysctl changes).
    pub fn copy_sysctls_from(&mut self, other: &State) {
        self.sysctls.clone_from(&other.sysctls);
    }
    /// For comparing two states: takes `other`'s jails (ignoring new jids).
    pub fn copy_jails_from(&mut self, other: &State) {
        self.jails.clone_from(&other.jails);
    }
}

#[cfg(test)]
mod tests {
    use crate::{SimHost, SimJail, SimKld};
    use jail::JailOps;
    use kld::KldOps;

    #[test]
    fn setup_verbs_keep_the_counters_ahead() {
        let h = SimHost::freebsd14_with_gpus(1);
        h.with_state(|s| {
            s.add_jail(
                40,
                SimJail {
                    name: "other".into(),
                    path: "/usr/jails/other".into(),
                    params: Default::default(),
                },
            );
            s.add_kld(
                "foreign.ko",
                SimKld {
                    id: 90,
                    refs: 1,
                    user: true,
                    modules: vec!["foreign".into()],
                    deps: vec![],
                },
            );
        });
        // The next jail and linker file get numbers above the ones added.
        let spec = jail::JailSpec::new(jail::JailName::new("n").unwrap(), "/tmp/n")
            .param("persist", jail::ParamValue::Bool(true));
        h.with_state(|s| s.mkdir_p("/tmp/n").unwrap());
        assert!(h.create(&spec).unwrap().0 > 40);
        assert!(h.load("linux64.ko").unwrap().0 > 90);
        let st = h.snapshot();
        assert!(
            st.files().contains_key("/usr/jails/other"),
            "the path exists"
        );
        assert_eq!(st.jails()[&40].name, "other");
        assert!(st.klds().contains_key("foreign.ko"));
    }

    #[test]
    fn gpu_and_driver_setup_verbs() {
        let h = SimHost::freebsd14_with_gpus(2);
        h.with_state(|s| {
            let g = s.remove_last_gpu().unwrap();
            assert_eq!(s.gpus().len(), 1);
            s.add_gpu(g);
            s.set_nvidia_version(None);
        });
        let st = h.snapshot();
        assert_eq!(st.gpus().len(), 2);
        assert_eq!(st.nvidia_version(), None);
        h.with_state(|s| {
            assert_eq!(
                s.set_dataset_prop("nope", "mountpoint", "/x"),
                Err(sysabi::Errno::ENOENT)
            );
        });
    }
}
