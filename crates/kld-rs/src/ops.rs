//! The seam between module logic and the kernel.

use crate::error::Result;
use serde::Serialize;

/// A kernel linker file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct KldFileId(pub i32);

/// A loaded linker file, as `kldstat(2)` and `modnext`/`modstat` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KldFile {
    /// Id.
    pub id: KldFileId,
    /// File name (`linux64.ko`).
    pub name: String,
    /// References.
    pub refs: i32,
    /// Full path.
    pub path: String,
    /// The modules it contains (`linuxelf64`, …).
    pub modules: Vec<String>,
}

/// The kld verbs of the kernel.
///
/// # Privileges
/// Loading and unloading need host root and securelevel ≤ 0; listing needs nothing.
///
/// # References
/// [kldload(2)](https://man.freebsd.org/cgi/man.cgi?query=kldload&sektion=2)
///
/// ```
/// use kld::{ensure_loaded, KldOps};
/// // hostsim: a simulated FreeBSD 14 kernel (the real one is `kld::KldHost`).
/// let k = hostsim::SimHost::freebsd14_with_gpus(0);
/// let r = ensure_loaded(&k, &["linux64"]).unwrap();
/// assert_eq!(r.loaded.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["linux64"]);
/// assert!(k.modfind("linux64elf").unwrap());
/// assert!(k.find("linux64.ko").unwrap().is_some());
/// ```
pub trait KldOps {
    /// `kldload(2)`—Loads a file by name (`linux64`) or path; returns its id.
    fn load(&self, file: &str) -> Result<KldFileId>;
    /// `kldunloadf(2)`—Unloads a file; `force` uses `LINKER_UNLOAD_FORCE`.
    /// `Busy` (`EBUSY`) while in use.
    fn unload(&self, id: KldFileId, force: bool) -> Result<()>;
    /// `kldfind(2)`—The id of a loaded file by file name, `None` if not loaded.
    fn find(&self, file: &str) -> Result<Option<KldFileId>>;
    /// `modfind(2)`—Whether a module (by module name) is present.
    fn modfind(&self, module: &str) -> Result<bool>;
    /// `kldnext`/`kldstat`/`kldfirstmod`/`modfnext`/`modstat`—Every loaded file with its modules.
    fn list(&self) -> Result<Vec<KldFile>>;
}

/// What [`ensure_loaded`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Loaded {
    /// Files that were already there.
    pub present: Vec<String>,
    /// Files this call loaded, in order (unload them in reverse to roll back).
    pub loaded: Vec<(String, KldFileId)>,
}

/// The kernel module a linker file declares, for `modfind(2)`: file and module names differ
/// (`linux64.ko` declares `linux64elf`, sys/amd64/linux/linux_sysvec.c; `linux.ko` on amd64
/// `linuxelf`, sys/amd64/linux32/linux32_sysvec.c; `nvidia-modeset.ko` `nvidia_modeset`,
/// NVIDIA's nvidia-modeset-freebsd.c). Other files declare a module of their own name
/// (`linprocfs`, `tmpfs`, `nullfs`, `fdescfs`, `linux_common`, `nvidia`). Takes `name`,
/// `name.ko` or a path.
#[must_use]
pub fn module_name(file: &str) -> &str {
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".ko");
    match stem {
        "linux64" => "linux64elf",
        "linux" => "linuxelf",
        "nvidia-modeset" => "nvidia_modeset",
        other => other,
    }
}

/// Loads each file of `files` that is not loaded yet, in order. Like `kldload -n`, a file
/// counts as present when `kldfind` finds it or when the module it declares ([`module_name`]) exists (compiled
/// into the kernel, or provided by another file).
///
/// # Errors
/// The first failing load. Files loaded before it are reported in the error's detail and stay
/// loaded; callers roll back with [`KldOps::unload`].
pub fn ensure_loaded(ops: &dyn KldOps, files: &[&str]) -> Result<Loaded> {
    let mut out = Loaded::default();
    for f in files {
        // Loaded as a file, or compiled into the kernel (then only its module is there).
        if ops.find(f)?.is_some() || ops.modfind(module_name(f))? {
            out.present.push((*f).to_string());
            continue;
        }
        match ops.load(f) {
            Ok(id) => out.loaded.push(((*f).to_string(), id)),
            Err(e) if !out.loaded.is_empty() => {
                let done: Vec<&str> = out.loaded.iter().map(|(n, _)| n.as_str()).collect();
                return Err(e.detail(format!("already loaded by this call: {}", done.join(", "))));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod module_name_tests {
    #[test]
    fn file_names_map_to_the_modules_they_declare() {
        for (f, m) in [
            ("linux64", "linux64elf"),
            ("/boot/kernel/linux64.ko", "linux64elf"),
            ("linux.ko", "linuxelf"),
            ("nvidia-modeset", "nvidia_modeset"),
            ("linprocfs", "linprocfs"),
            ("nvidia.ko", "nvidia"),
        ] {
            assert_eq!(super::module_name(f), m, "{f}");
        }
    }
}
