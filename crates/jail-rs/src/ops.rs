//! The seam between jail logic and the kernel.

use crate::error::Result;
use crate::types::{JailName, JailSpec, Jid, ParamValue};
use serde::Serialize;

/// What `jail_get(2)` reports about a jail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JailInfo {
    /// Its id.
    pub jid: Jid,
    /// Its name, as the kernel reports it. Jails made by other tools may have names this
    /// crate would not create (an unnamed jail is named by its jid, `"7"`); see
    /// [`JailInfo::jail_name`].
    pub name: String,
    /// Its root.
    pub path: String,
    /// Whether it is dying.
    pub dying: bool,
    /// Other parameters that were asked for.
    pub params: Vec<(String, ParamValue)>,
}

impl JailInfo {
    /// The name as a [`JailName`], when it is one this crate accepts (`None` for a foreign
    /// jail named, say, by its jid).
    #[must_use]
    pub fn jail_name(&self) -> Option<JailName> {
        JailName::new(&self.name).ok()
    }
}

/// Runs programs inside a jail: `jail_attach(2)` then exec, as `jexec(8)` does. Implemented by
/// `JailHost` (FreeBSD: a clean environment, umask 022, a time limit and bounded
/// output, see [`crate::exec`]) and by `hostsim::SimHost` (simulated Linux programs).
///
/// ```
/// use jail::{JailExec, JailName, JailOps, JailSpec, ParamValue};
/// let h = hostsim::SimHost::freebsd14_with_gpus(0);
/// let jid = h
///     .create(&JailSpec::new(JailName::new("j").unwrap(), "/").param("persist", ParamValue::Bool(true)))
///     .unwrap();
/// // The simulated jail knows a handful of programs; anything else exits 127, as sh says.
/// let (code, out) = h.exec(jid, &["/usr/bin/true"]).unwrap();
/// assert_eq!(code, 127, "{out}");
/// ```
pub trait JailExec {
    /// Runs `argv` in jail `jid`; returns the exit code (-1 for a signal) and the output
    /// (standard output, then standard error).
    ///
    /// # Errors
    /// The jail or the program cannot be entered or started, or the program ran too long.
    fn exec(&self, jid: Jid, argv: &[&str]) -> Result<(i32, String)>;
}

/// The jail verbs of the kernel, typed. Implemented over `sys` on FreeBSD and by
/// `hostsim::SimHost` everywhere.
///
/// # References
/// [jail(2)](https://man.freebsd.org/cgi/man.cgi?query=jail&sektion=2)
///
/// ```
/// use jail::{JailName, JailOps, JailSpec, ParamValue};
/// // hostsim: a simulated FreeBSD 14 kernel (the real one is `jail::JailHost`).
/// let h = hostsim::SimHost::freebsd14_with_gpus(0);
/// let name = JailName::new("web").unwrap();
/// let spec = JailSpec::new(name.clone(), "/").param("persist", ParamValue::Bool(true));
/// let jid = h.create(&spec).unwrap();
/// assert_eq!(h.get(&name).unwrap().unwrap().jid, jid);
/// h.remove(jid).unwrap();
/// assert!(h.get(&name).unwrap().is_none());
/// ```
pub trait JailOps {
    /// `jail_set(JAIL_CREATE)`—Creates a persistent jail from `spec`.
    ///
    /// # Privileges
    /// Root on the host (`PRIV_JAIL_SET`).
    ///
    /// # Errors
    /// `AlreadyExists` (`EEXIST`), `InvalidInput` (`EINVAL` with the kernel's errmsg, e.g.
    /// "path is not a directory", or our own validation), `PermissionDenied` (`EPERM`).
    #[doc(alias = "jail_set")]
    fn create(&self, spec: &JailSpec) -> Result<Jid>;

    /// `jail_set(JAIL_UPDATE)`—Changes parameters of a running jail.
    ///
    /// # Errors
    /// `NotFound` (`ENOENT` "jail N not found"), `InvalidInput` for create-only parameters.
    fn update(&self, jid: Jid, params: &[(String, ParamValue)]) -> Result<()>;

    /// `jail_get(2)` by name—The jail called `name`, if any.
    fn get(&self, name: &JailName) -> Result<Option<JailInfo>>;

    /// `jail_get(2)` by name with `JAIL_DYING`—The jail called `name`, alive or dying. After
    /// `jail_remove(2)` a jail stays *dying* while its processes exit and its sockets close
    /// (TCP `TIME_WAIT` can keep it for a minute); its mounts are busy until it is gone.
    fn get_dying(&self, name: &JailName) -> Result<Option<JailInfo>>;

    /// `jail_get(2)` walking `lastjid`—Every jail visible to the caller.
    ///
    /// # Errors
    /// Any error other than the terminating `ENOENT` is reported, not swallowed.
    fn list(&self) -> Result<Vec<JailInfo>>;

    /// `jail_remove(2)`—Removes a jail, killing its processes.
    ///
    /// # Errors
    /// `NotFound` (the kernel's `EINVAL` for an unknown jid).
    #[doc(alias = "jail_remove")]
    fn remove(&self, jid: Jid) -> Result<()>;
}
