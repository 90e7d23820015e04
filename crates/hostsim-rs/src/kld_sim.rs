//! Kernel linker files and modules, after kern_linker.c and kldload(2)/kldunload(2).
//!
//! Rules modelled: loading a file loads its dependencies first (`linux64.ko` pulls
//! `linux_common.ko`) and counts a reference on each; loading a loaded file is `EEXIST`; an
//! unknown file is `ENOENT`; unloading a file loaded by the kernel as a dependency, or one that
//! still has references, is `EBUSY` (the kernel decrements references of user-loaded files with
//! more than one instead; that refinement is not modelled — a guess that errs on refusing);
//! unloading drops dependencies nobody uses any more. Loading `linux_common` creates the
//! `compat.linux.*` sysctls and `nvidia.ko` creates `hw.nvidia.version`; unloading removes them.

use crate::{Args, SimHost, State};
use kld::{from_errno, KldFile, KldFileId, KldOps, Op, Result};
use sysabi::Errno;

/// A loaded linker file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimKld {
    /// File id.
    pub id: i32,
    /// References (1 + files depending on it).
    pub refs: i32,
    /// Loaded by a user (`kldload`) rather than as a dependency.
    pub user: bool,
    /// Modules it provides.
    pub modules: Vec<String>,
    /// Files it depends on.
    pub deps: Vec<String>,
}

/// The files under `/boot/kernel` (and the nvidia port's), with the modules each provides and the
/// files it depends on. The module names are the kernel's, not the files': `linux64.ko` declares
/// `linux64elf` (sys/amd64/linux/linux_sysvec.c `DECLARE_MODULE_TIED(linux64elf, …)`), `linux.ko`
/// on amd64 `linuxelf` (sys/amd64/linux32/linux32_sysvec.c), `nvidia-modeset.ko`
/// `nvidia_modeset` (NVIDIA's nvidia-modeset-freebsd.c `DECLARE_MODULE(nvidia_modeset, …)`).
pub(crate) const CATALOG: &[(&str, &[&str], &[&str])] = &[
    ("linux_common.ko", &["linux_common"], &[]),
    ("linux.ko", &["linuxelf"], &["linux_common.ko"]),
    ("linux64.ko", &["linux64elf"], &["linux_common.ko"]),
    ("linprocfs.ko", &["linprocfs"], &["linux_common.ko"]),
    ("linsysfs.ko", &["linsysfs"], &["linux_common.ko"]),
    ("fdescfs.ko", &["fdescfs"], &[]),
    ("procfs.ko", &["procfs"], &[]),
    ("pty.ko", &["pty"], &[]),
    ("zfs.ko", &["zfs", "zfsctrl"], &[]),
    ("nvidia.ko", &["nvidia"], &[]),
    ("nvidia-modeset.ko", &["nvidia_modeset"], &["nvidia.ko"]),
];

/// Modules compiled into the GENERIC-like kernel (file id 1).
const KERNEL_MODULES: &[&str] = &["devfs", "tmpfs", "nullfs", "elf64", "ufs"];

pub(crate) fn seed(s: &mut State) {
    s.klds.insert(
        "kernel".into(),
        SimKld {
            id: 1,
            refs: 1,
            user: false,
            modules: KERNEL_MODULES.iter().map(|m| m.to_string()).collect(),
            deps: vec![],
        },
    );
    s.next_kld_id = 2;
    for f in ["zfs.ko", "nvidia.ko", "nvidia-modeset.ko"] {
        let _ = load_file(s, f, true);
    }
}

/// `linux64`, `linux64.ko`, `/boot/kernel/linux64.ko` → `linux64.ko`.
pub(crate) fn file_name(arg: &str) -> String {
    let base = arg.rsplit('/').next().unwrap_or(arg);
    if base.ends_with(".ko") || base == "kernel" {
        base.to_string()
    } else {
        format!("{base}.ko")
    }
}

pub(crate) fn module_loaded(s: &State, module: &str) -> bool {
    s.klds
        .values()
        .any(|k| k.modules.iter().any(|m| m == module))
}

pub(crate) fn load_file(s: &mut State, file: &str, user: bool) -> std::result::Result<i32, Errno> {
    if let Some(k) = s.klds.get_mut(file) {
        if user && !k.user {
            // kldload of a file the kernel loaded as a dependency: the kernel answers EEXIST.
            return Err(Errno::EEXIST);
        }
        return if user { Err(Errno::EEXIST) } else { Ok(k.id) };
    }
    let (_, modules, deps) = CATALOG
        .iter()
        .find(|(f, _, _)| *f == file)
        .ok_or(Errno::ENOENT)?;
    for d in *deps {
        if let Some(k) = s.klds.get_mut(*d) {
            k.refs += 1;
        } else {
            load_file(s, d, false)?;
            if let Some(k) = s.klds.get_mut(*d) {
                k.refs += 1;
            }
        }
    }
    let id = s.next_kld_id;
    s.next_kld_id += 1;
    s.klds.insert(
        file.to_string(),
        SimKld {
            id,
            refs: 1,
            user,
            modules: modules.iter().map(|m| m.to_string()).collect(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
        },
    );
    side_effects(s, file, true);
    Ok(id)
}

fn side_effects(s: &mut State, file: &str, loaded: bool) {
    let keys: &[(&str, &str)] = match file {
        "linux_common.ko" => &[
            ("compat.linux.osname", "Linux"),
            ("compat.linux.osrelease", "5.15.0"),
            ("compat.linux.oss_version", "198144"),
            ("compat.linux.emul_path", "/compat/linux"),
        ],
        "nvidia.ko" => &[(
            "hw.nvidia.version",
            "NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build",
        )],
        _ => &[],
    };
    for (k, v) in keys {
        if loaded {
            s.sysctls.insert((*k).into(), (*v).into());
        } else {
            s.sysctls.remove(*k);
        }
    }
    if file == "nvidia.ko" && !loaded {
        s.nvidia_version = None;
    }
}

fn unload_file(s: &mut State, file: &str) -> std::result::Result<(), Errno> {
    let k = s.klds.get(file).ok_or(Errno::ENOENT)?.clone();
    if !k.user || k.refs > 1 {
        return Err(Errno::EBUSY);
    }
    s.klds.remove(file);
    side_effects(s, file, false);
    for d in &k.deps {
        let drop_it = match s.klds.get_mut(d) {
            Some(dep) => {
                dep.refs -= 1;
                dep.refs <= 1 && !dep.user
            }
            None => false,
        };
        if drop_it {
            if let Some(dep) = s.klds.get_mut(d) {
                dep.user = true; // released by its last user: unload like the kernel does
            }
            unload_file(s, d)?;
        }
    }
    Ok(())
}

impl KldOps for SimHost {
    /// kldload(2): `EEXIST` if loaded, `ENOENT` if not in the catalog; dependencies first.
    ///
    /// The name is copied in with `copyinstr(…, MAXPATHLEN)` (sys/kern/kern_linker.c
    /// `sys_kldload`): 1024 bytes or more, NUL included, is `ENAMETOOLONG`; an empty one finds
    /// no file (`ENOENT`).
    fn load(&self, file: &str) -> Result<KldFileId> {
        const MAXPATHLEN: usize = 1024;
        if file.len() >= MAXPATHLEN {
            return Err(from_errno(
                Op::Load,
                sysabi::Errno::ENAMETOOLONG,
                file.escape_debug(),
            ));
        }
        if file.contains('\0') {
            // Such a name cannot reach the kernel as a C string at all.
            return Err(from_errno(
                Op::Load,
                sysabi::Errno::EINVAL,
                file.escape_debug(),
            ));
        }
        let f = file_name(file);
        if let Some(e) = self.enter(Args::KldLoad { file: f.clone() }) {
            return Err(from_errno(Op::Load, e, &f));
        }
        let mut s = self.st();
        load_file(&mut s, &f, true).map(KldFileId).map_err(|e| {
            self.failed(e);
            from_errno(Op::Load, e, &f)
        })
    }

    /// kldunloadf(2): `ENOENT` for an unknown id, `EBUSY` while referenced or kernel-loaded.
    fn unload(&self, id: KldFileId, force: bool) -> Result<()> {
        if let Some(e) = self.enter(Args::KldUnload { id, force }) {
            return Err(from_errno(Op::Unload, e, id.0));
        }
        let mut s = self.st();
        let file = s
            .klds
            .iter()
            .find(|(_, k)| k.id == id.0)
            .map(|(f, _)| f.clone());
        let Some(file) = file else {
            self.failed(Errno::ENOENT);
            return Err(from_errno(Op::Unload, Errno::ENOENT, id.0));
        };
        let before = s.clone();
        unload_file(&mut s, &file).map_err(|e| {
            *s = before;
            self.failed(e);
            from_errno(Op::Unload, e, &file)
        })
    }

    /// kldfind(2) by file name.
    fn find(&self, file: &str) -> Result<Option<KldFileId>> {
        let f = file_name(file);
        if let Some(e) = self.enter(Args::KldFind {
            file: file.to_string(),
        }) {
            return Err(from_errno(Op::Find, e, file));
        }
        Ok(self.st().klds.get(&f).map(|k| KldFileId(k.id)))
    }

    /// modfind(2) by module name.
    fn modfind(&self, module: &str) -> Result<bool> {
        if let Some(e) = self.enter(Args::KldModfind {
            module: module.to_string(),
        }) {
            return Err(from_errno(Op::ModFind, e, module));
        }
        Ok(module_loaded(&self.st(), module))
    }

    /// kldnext/kldstat/modfnext walk.
    fn list(&self) -> Result<Vec<KldFile>> {
        if let Some(e) = self.enter(Args::KldList) {
            return Err(from_errno(Op::Stat, e, ""));
        }
        let s = self.st();
        let mut v: Vec<KldFile> = s
            .klds
            .iter()
            .map(|(f, k)| KldFile {
                id: KldFileId(k.id),
                name: f.clone(),
                refs: k.refs,
                path: if f == "kernel" {
                    "/boot/kernel/kernel".into()
                } else {
                    format!("/boot/kernel/{f}")
                },
                modules: k.modules.clone(),
            })
            .collect();
        v.sort_by_key(|k| k.id);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use crate::{SimHost, Verb};
    use kld::{ErrorKind, KldOps};
    use linuxulator::SysctlOps;

    #[test]
    fn dependencies_load_and_block_unload() {
        let h = SimHost::freebsd14_with_gpus(0);
        assert!(!h.modfind("linux_common").unwrap());
        assert!(
            h.get("compat.linux.osrelease").unwrap().is_none(),
            "no compat.linux without the module"
        );
        let id = h.load("linux64").unwrap();
        assert!(
            h.find("linux_common.ko").unwrap().is_some(),
            "linux64 pulls in linux_common"
        );
        assert_eq!(
            h.get("compat.linux.osrelease").unwrap().as_deref(),
            Some("5.15.0")
        );
        let common = h.find("linux_common").unwrap().unwrap();
        let e = h.unload(common, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy);
        assert_eq!(
            h.load("linux64").unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(h.load("nosuch").unwrap_err().kind(), ErrorKind::NotFound);
        h.unload(id, false).unwrap();
        assert!(
            h.find("linux_common").unwrap().is_none(),
            "unused dependency unloaded"
        );
        assert!(h.get("compat.linux.osrelease").unwrap().is_none());
    }

    #[test]
    fn shared_dependency_stays_while_used() {
        let h = SimHost::freebsd14_with_gpus(0);
        let a = h.load("linux64").unwrap();
        let b = h.load("linprocfs").unwrap();
        h.unload(a, false).unwrap();
        assert!(
            h.modfind("linux_common").unwrap(),
            "linprocfs still uses it"
        );
        h.unload(b, false).unwrap();
        assert!(!h.modfind("linux_common").unwrap());
    }

    #[test]
    fn ensure_loaded_skips_built_in_and_loaded_and_rolls_forward_only() {
        let h = SimHost::freebsd14_with_gpus(1);
        let r = kld::ensure_loaded(&h, &["tmpfs", "nvidia", "linux64"]).unwrap();
        assert_eq!(r.present, ["tmpfs", "nvidia"]);
        assert_eq!(r.loaded.len(), 1);
        let before = h.snapshot();
        h.fail_at(Verb::KldLoad, 2, kld::Errno::ENOEXEC);
        let e = kld::ensure_loaded(&h, &["fdescfs", "linsysfs"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("already loaded by this call: fdescfs"),
            "{e}"
        );
        assert_ne!(h.snapshot(), before);
    }

    #[test]
    fn a_linux_abi_compiled_into_the_kernel_is_found_by_its_module_name() {
        // A kernel built with `options COMPAT_LINUX64` has the module `linux64elf` and no
        // linux64.ko file: it counts as loaded (modfind by the module's name, not the file's).
        let h = SimHost::freebsd14_with_gpus(1);
        h.with_state(|s| {
            let k = s.klds.get_mut("kernel").unwrap();
            k.modules.push("linux64elf".into());
            k.modules.push("linux_common".into());
        });
        let r = kld::ensure_loaded(&h, &["linux64"]).unwrap();
        assert_eq!(r.present, ["linux64"]);
        assert!(
            r.loaded.is_empty(),
            "linux64.ko must not be loaded again: {r:?}"
        );
        assert!(
            h.modfind("nvidia_modeset").unwrap(),
            "nvidia-modeset.ko's module"
        );
        assert!(
            !h.modfind("linux64").unwrap(),
            "no module is called linux64"
        );
    }
}
