//! [`jail::JailExec`] on the simulated host: a handful of Linux programs, simulated by what
//! they do to the jail's files, decided from the jail's own files (a program is what its file
//! contains, as an ELF would be). Every run is logged and fault-injectable
//! ([`Verb::JailExec`]; a fault is `jail_attach` failing).
//!
//! - `cc … -o OUT SRC.c` (also through `/bin/sh -c`), when the jail has `/usr/bin/cc`: writes
//!   OUT (0755), tagged with what SRC is: a CUDA check (source printing
//!   `cudajail-cuda-probe`), the uvm shim (source handling `0x30000001`), or another program.
//! - `/sbin/ldconfig`, when the jail has it: links `libX.so.1` to the newest `libX.so.<a.b.c>`
//!   in the multiarch library directory (guess: real ldconfig reads each library's SONAME,
//!   which for NVIDIA's `libcuda` and `libnvidia-ml` is `.so.1`).
//! - a CUDA check (a file tagged as one), answered from the simulated kernel: it fails like
//!   CUDA does when `libcuda.so.1` cannot be loaded (dlopen), when `/dev/nvidiactl` is not
//!   visible in the jail (`cuInit` → 100 `CUDA_ERROR_NO_DEVICE`), or when no uvm shim is
//!   preloaded (`cuInit` → 999 `CUDA_ERROR_UNKNOWN`, measured: NVIDIA's libcuda 580 on an H200
//!   with `/dev/nvidia-uvm` absent, docs/gpu-h200-2026-11-27-no-uvm.log), and otherwise lists
//!   the GPUs whose `/dev/nvidiaN` the jail sees, in the check's output format.
//! - NVIDIA's installer, `/bin/sh …/NVIDIA-Linux-x86_64-<version>.run FLAGS`, and
//!   `/usr/bin/nvidia-installer --uninstall`: the installer refuses to run without
//!   `--no-kernel-module`, replaces an earlier installation of its own, and installs the CUDA
//!   and NVML libraries of its version with their `.so.1` links, `nvidia-smi` and
//!   `nvidia-installer`.
//!
//! - a run recorded on a real host ([`RecordedRun`], `State::recorded`): replayed as recorded
//!   (status, output, the files it left), not interpreted.
//!
//! Anything else exits 127.

use crate::fs::Node;
use crate::{Args, SimHost, State};
use jail::{from_errno, JailExec, JailOps, Jid, Op, Result};
use linuxulator::readiness::FsView;

/// Debian's and Ubuntu's multiarch library directory (where NVIDIA's installer and cudajail put
/// the driver's libraries).
const LIB_DIR: &str = "usr/lib/x86_64-linux-gnu";
/// Where the simulated installer lists what it installed (NVIDIA's keeps a manifest too; the
/// path is the simulation's own).
const MANIFEST: &str = "var/lib/nvidia/cudajail-sim.manifest";
/// What the simulated `cc` writes: the contents that make a file one of the simulated programs
/// (a recording of a real host maps the real binaries to these).
pub mod programs {
    /// The CUDA check (cudajail's `cuda_probe.c`, built).
    pub const CUDA_CHECK: &[u8] = b"ELF executable: CUDA check";
    /// The uvm shim (cudajail's `uvm_shim.c`, built).
    pub const UVM_SHIM: &[u8] = b"ELF shared object: uvm shim";
    /// Any other program.
    pub const OTHER: &[u8] = b"ELF";
}
use programs::{CUDA_CHECK as TAG_PROBE, OTHER as TAG_OTHER, UVM_SHIM as TAG_SHIM};

/// A program run recorded on a real host: the command line (words joined by spaces; for
/// `/bin/sh -c SCRIPT`, the script), its exit status and output, and the files it left in the
/// jail (absolute paths in the jail).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedRun {
    /// The command line.
    pub command: String,
    /// Its exit status.
    pub code: i32,
    /// What it printed.
    pub output: String,
    /// Files it created in the jail.
    pub creates: Vec<String>,
}

/// `a.b[.c…]`, every part digits: the version in NVIDIA's file names.
fn version_ok(v: &str) -> bool {
    v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The version of `libX.so.<version>`, not `.so.1`.
fn lib_file_version(name: &str) -> Option<(&str, &str)> {
    let (stem, v) = name.split_once(".so.")?;
    (stem.starts_with("lib") && version_ok(v)).then_some((stem, v))
}

fn file(s: &State, path: &str) -> Option<Vec<u8>> {
    match s.resolve(path) {
        Ok((_, Node::File(d))) => Some(d),
        _ => None,
    }
}

impl JailExec for SimHost {
    fn exec(&self, jid: Jid, argv: &[&str]) -> Result<(i32, String)> {
        let j = JailOps::list(self)?
            .into_iter()
            .find(|j| j.jid == jid)
            .ok_or_else(|| from_errno(Op::Attach, sysabi::Errno::EINVAL, jid))?;
        let cmd = match argv {
            ["/bin/sh", "-c", c] => c.to_string(),
            _ => argv.join(" "),
        };
        if let Some(e) = self.enter(Args::JailExec {
            jid,
            argv: argv.iter().map(|a| (*a).to_string()).collect(),
        }) {
            return Err(from_errno(Op::Attach, e, format!("{cmd:?} in jail {jid}")));
        }
        let root = j.path;
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let first = words.first().copied().unwrap_or_default();
        if first == "/usr/sbin/runuser" {
            return Ok(self.runuser(jid, &root, &words));
        }
        if self
            .with_state(|s| file(s, &format!("{root}{first}")))
            .as_deref()
            == Some(TAG_PROBE)
        {
            return Ok(self.cuda_check(&root));
        }
        let lib_names = FsView::read_dir(self, &format!("{root}/{LIB_DIR}"));
        self.with_state(|s| {
            let is_file = |s: &State, rel: &str| file(s, &format!("{root}/{rel}")).is_some();
            if first == "cc" && is_file(s, "usr/bin/cc") {
                return Ok(compile(s, &root, &words));
            }
            if first == "/sbin/ldconfig" && is_file(s, "sbin/ldconfig") {
                ldconfig(s, &root, &lib_names);
                return Ok((0, String::new()));
            }
            if first == "/bin/sh" {
                let script = words.get(1).copied().unwrap_or_default();
                let name = script.rsplit('/').next().unwrap_or_default();
                let ver = name
                    .strip_prefix("NVIDIA-Linux-x86_64-")
                    .and_then(|r| r.strip_suffix(".run"))
                    .filter(|v| version_ok(v));
                if let (Some(ver), true) = (ver, is_file(s, script.trim_start_matches('/'))) {
                    return Ok(install(s, &root, ver, &words[2..]));
                }
            }
            if first == "/usr/bin/nvidia-installer"
                && words.contains(&"--uninstall")
                && is_file(s, "usr/bin/nvidia-installer")
            {
                uninstall(s, &root);
                return Ok((0, String::new()));
            }
            if let Some(r) = s.recorded.iter().find(|r| r.command == cmd).cloned() {
                for f in &r.creates {
                    let path = format!("{root}/{}", f.trim_start_matches('/'));
                    if let Some((dir, _)) = path.rsplit_once('/') {
                        let _ = s.mkdir_p(dir);
                    }
                    let _ = s.write_file(&path, TAG_OTHER);
                }
                return Ok((r.code, r.output));
            }
            Ok((127, format!("{first}: not found")))
        })
    }
}

impl SimHost {
    /// util-linux's `runuser -u USER -- CMD…`: the user must be in the jail's `/etc/passwd`;
    /// `id -un` and `whoami` then print it; other commands run as the simulation runs them.
    fn runuser(&self, jid: Jid, root: &str, words: &[&str]) -> (i32, String) {
        let (has, passwd) = self.with_state(|s| {
            (
                file(s, &format!("{root}/usr/sbin/runuser")).is_some(),
                file(s, &format!("{root}/etc/passwd")).unwrap_or_default(),
            )
        });
        if !has {
            return (127, "/usr/sbin/runuser: not found".into());
        }
        let (user, inner) = match words {
            [_, "-u", u, "--", inner @ ..] if !inner.is_empty() => (*u, inner),
            _ => return (1, "runuser: usage: runuser -u USER -- COMMAND".into()),
        };
        let known = String::from_utf8_lossy(&passwd)
            .lines()
            .any(|l| l.split(':').next() == Some(user));
        if !known {
            return (
                1,
                format!("runuser: user {user} does not exist or the user entry does not contain all the required fields"),
            );
        }
        match inner {
            ["id", "-un"] | ["whoami"] => (0, format!("{user}\n")),
            _ => self
                .exec(jid, inner)
                .unwrap_or_else(|e| (126, e.to_string())),
        }
    }
}

/// `cc … -o OUT SRC.c`: OUT tagged by what the source is.
fn compile(s: &mut State, root: &str, words: &[&str]) -> (i32, String) {
    let Some(out) = words
        .iter()
        .position(|w| *w == "-o")
        .and_then(|i| words.get(i + 1))
    else {
        return (1, "cc: no output file".into());
    };
    let src = words
        .iter()
        .filter(|w| w.ends_with(".c"))
        .filter_map(|w| file(s, &format!("{root}{w}")))
        .next();
    let Some(src) = src else {
        return (1, "cc: error: no input files".into());
    };
    let text = String::from_utf8_lossy(&src);
    let tag = if text.contains("cudajail-cuda-probe") {
        TAG_PROBE
    } else if text.contains("0x30000001") {
        TAG_SHIM
    } else {
        TAG_OTHER
    };
    let path = format!("{root}{out}");
    if s.write_file(&path, tag).is_err() {
        return (1, format!("cc: cannot write {out}"));
    }
    // What cc makes: 0755, owned by who ran it (jail root).
    s.set_perm(&path, rootfs::Perm::DIR);
    (0, String::new())
}

/// ldconfig: `libX.so.1` → the newest `libX.so.<version>` in the library directory.
fn ldconfig(s: &mut State, root: &str, names: &[String]) {
    let mut libs: Vec<(&str, &str, &String)> = names
        .iter()
        .filter_map(|n| lib_file_version(n).map(|(stem, v)| (stem, v, n)))
        .collect();
    let key = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    libs.sort_by_key(|(_, v, _)| key(v));
    for (stem, _, n) in libs {
        let link = format!("{root}/{LIB_DIR}/{stem}.so.1");
        s.remove_entry(&link);
        let _ = s.symlink(&link, n);
    }
}

/// NVIDIA's installer: refuses without `--no-kernel-module`, replaces its earlier installation.
fn install(s: &mut State, root: &str, ver: &str, flags: &[&str]) -> (i32, String) {
    if !flags.contains(&"--no-kernel-module") {
        return (
            1,
            "ERROR: Unable to find the kernel source tree for the currently running kernel.".into(),
        );
    }
    uninstall(s, root);
    let mut made = Vec::new();
    for name in [
        "libcuda.so",
        "libnvidia-ml.so",
        "libnvidia-ptxjitcompiler.so",
    ] {
        let f = format!("{LIB_DIR}/{name}.{ver}");
        let _ = s.write_file(&format!("{root}/{f}"), ver.as_bytes());
        let link = format!("{LIB_DIR}/{name}.1");
        s.remove_entry(&format!("{root}/{link}"));
        let _ = s.symlink(&format!("{root}/{link}"), &format!("{name}.{ver}"));
        made.push(f);
        made.push(link);
    }
    for bin in ["usr/bin/nvidia-smi", "usr/bin/nvidia-installer"] {
        let _ = s.write_file(&format!("{root}/{bin}"), b"ELF");
        made.push(bin.to_string());
    }
    let _ = s.write_file(&format!("{root}/{MANIFEST}"), made.join("\n").as_bytes());
    (
        0,
        format!("Installation of the NVIDIA Accelerated Graphics Driver for Linux-x86_64 (version: {ver}) is now complete."),
    )
}

/// `nvidia-installer --uninstall`: removes what the installer listed.
fn uninstall(s: &mut State, root: &str) {
    let manifest = format!("{root}/{MANIFEST}");
    if let Some(m) = file(s, &manifest) {
        for f in String::from_utf8_lossy(&m).lines() {
            s.remove_entry(&format!("{root}/{f}"));
        }
        s.remove_entry(&manifest);
    }
}

impl SimHost {
    /// The CUDA check in the jail rooted at `root` (see the module documentation).
    fn cuda_check(&self, root: &str) -> (i32, String) {
        let has = |rel: &str| FsView::exists(self, &format!("{root}/{rel}"));
        let dlopen_ok = [
            "usr/lib/x86_64-linux-gnu",
            "lib/x86_64-linux-gnu",
            "usr/lib",
            "lib",
        ]
        .iter()
        .any(|d| has(&format!("{d}/libcuda.so.1")));
        if !dlopen_ok {
            return (
                3,
                "error step=dlopen code=-1 name=libcuda.so.1: cannot open shared object file: No such file or directory\n".into(),
            );
        }
        let head = "cudajail-cuda-probe 1\n";
        let fail = |step: &str, code: i32, name: &str| {
            (
                1,
                format!("{head}error step={step} code={code} name={name}\n"),
            )
        };
        if !has("dev/nvidiactl") {
            return fail("cuInit", 100, "CUDA_ERROR_NO_DEVICE");
        }
        // The dynamic linker preloads each listed file that is there and is an object.
        let shim_loaded = self.with_state(|s| {
            let preload = file(s, &format!("{root}/etc/ld.so.preload")).unwrap_or_default();
            String::from_utf8_lossy(&preload)
                .split_whitespace()
                .any(|p| file(s, &format!("{root}{p}")).as_deref() == Some(TAG_SHIM))
        });
        let (version, gpus) = self.with_state(|s| (s.nvidia_version.clone(), s.gpus.clone()));
        if version.is_none() {
            return fail("cuInit", 999, "CUDA_ERROR_UNKNOWN");
        }
        let visible: Vec<&crate::SimGpu> = gpus
            .iter()
            .filter(|g| has(&format!("dev/nvidia{}", g.minor)))
            .collect();
        if !visible.is_empty() && !shim_loaded {
            return fail("cuInit", 999, "CUDA_ERROR_UNKNOWN");
        }
        let mut out = format!("{head}driver_api 12080\ncount {}\n", visible.len());
        for (i, g) in visible.iter().enumerate() {
            // CUDA reports what it can hand out: the free memory of an idle GPU (on an H200,
            // 143155 of 143771 MiB; docs/gpu-h200-2026-11-27-nvgpu.log).
            out.push_str(&format!(
                "gpu {i} uuid={} pci=0000:{:02x}:00.0 mem_mib={} ctx=ok name={}\n",
                g.uuid,
                g.bus,
                g.free_kib / 1024,
                g.name
            ));
        }
        (0, out)
    }
}
