//! The engine's seams on a simulated host, so every command runs end to end on any OS
//! (`--sim` on the command line, and the tests).

use crate::engine::{Env, JailExec};
use anyhow::{anyhow, bail};
use hostsim::{Node, SimHost};
use jail::{JailOps, Jid};

impl JailExec for SimHost {
    /// Understands, inside the jail's root:
    /// - `/bin/sh -c "cc … -o OUT …"` when the jail has `/usr/bin/cc` (writes OUT);
    /// - `/sbin/ldconfig` when the jail has it: links `libX.so.1` to the newest `libX.so.<version>`
    ///   of the NVIDIA libraries (guess: real ldconfig uses each library's SONAME, which for
    ///   `libcuda` and `libnvidia-ml` is `.so.1`);
    /// - the CUDA check ([`crate::shim::PROBE_PATH`]), answered from the simulated kernel: it
    ///   fails like CUDA does when `libcuda.so.1` is missing (dlopen), when `/dev/nvidiactl` is
    ///   not visible in the jail (`cuInit` → 100 `CUDA_ERROR_NO_DEVICE`) or when the uvm shim is
    ///   not preloaded (`cuInit` → 999 `CUDA_ERROR_UNKNOWN`, measured: NVIDIA's libcuda 580 on an
    ///   H200 with `/dev/nvidia-uvm` absent, `docs/gpu-h200-2026-11-27-no-uvm.log`), and
    ///   otherwise lists the GPUs whose `/dev/nvidiaN` the jail sees.
    /// - NVIDIA's installer, `/bin/sh /tmp/…/NVIDIA-Linux-x86_64-<version>.run FLAGS`, and
    ///   `/usr/bin/nvidia-installer --uninstall`: the installer refuses to run without
    ///   `--no-kernel-module`, replaces an earlier installation of its own, and installs the CUDA
    ///   and NVML libraries of its version with their `.so.1` links, `nvidia-smi` and
    ///   `nvidia-installer`.
    ///
    /// Anything else exits 127.
    fn exec(&self, jid: Jid, argv: &[&str]) -> anyhow::Result<(i32, String)> {
        use linuxulator::readiness::FsView;
        let j = JailOps::list(self)?
            .into_iter()
            .find(|j| j.jid == jid)
            .ok_or_else(|| anyhow!("no jail {jid}"))?;
        let cmd = match argv {
            ["/bin/sh", "-c", c] => c.to_string(),
            _ => argv.join(" "),
        };
        if let Some(e) = self.external_call(hostsim::Verb::JailExec, cmd.clone()) {
            bail!("running {cmd:?} in jail {jid}: jail_attach: {e}");
        }
        let root = j.path;
        let has = |rel: &str| FsView::exists(self, &format!("{root}/{rel}"));
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let first = words.first().copied().unwrap_or_default();
        if first == crate::shim::PROBE_PATH && has(crate::shim::PROBE_PATH) {
            return Ok(sim_cuda_probe(self, &root));
        }
        let libs = format!("{root}/{}", crate::engine::NV_LIB_DEST);
        // Only ldconfig looks at the libraries (listed here: FsView locks the state itself).
        let lib_names = if first == "/sbin/ldconfig" {
            FsView::read_dir(self, &libs)
        } else {
            Vec::new()
        };
        self.with_state(|s| {
            let is_file = |s: &hostsim::State, rel: &str| {
                matches!(s.resolve(&format!("{root}/{rel}")), Ok((_, Node::File(_))))
            };
            if first == "cc" && is_file(s, "usr/bin/cc") {
                if let Some(i) = words.iter().position(|w| *w == "-o") {
                    if let Some(out) = words.get(i + 1) {
                        s.write_file(&format!("{root}{out}"), b"ELF shared object")
                            .map_err(|e| anyhow!("{out}: {e}"))?;
                        // What cc makes: 0755, owned by who ran it (jail root).
                        s.set_perm(&format!("{root}{out}"), rootfs::Perm::DIR);
                        return Ok((0, String::new()));
                    }
                }
            }
            if first == "/sbin/ldconfig" && is_file(s, "sbin/ldconfig") {
                let mut names: Vec<&String> = lib_names
                    .iter()
                    .filter(|n| crate::engine::nvidia_lib_version(n).is_some())
                    .collect();
                names.sort_by_key(|n| {
                    crate::engine::nvidia_lib_version(n)
                        .unwrap_or_default()
                        .split('.')
                        .map(|p| p.parse::<u64>().unwrap_or(0))
                        .collect::<Vec<_>>()
                });
                for n in names {
                    if let Some((stem, _)) = n.split_once(".so.") {
                        let link = format!("{libs}/{stem}.so.1");
                        s.remove_entry(&link);
                        s.symlink(&link, n).map_err(|e| anyhow!("{link}: {e}"))?;
                    }
                }
                return Ok((0, String::new()));
            }
            if first == "/bin/sh" {
                if let Some(script) = words
                    .get(1)
                    .filter(|w| is_file(s, w.trim_start_matches('/')))
                {
                    // `up` copies it in as `/tmp/cudajail-NVIDIA-Linux-x86_64-<version>.run`.
                    let name = script.replace("/cudajail-", "/");
                    if let Some(ver) = crate::spec::run_file_version(&name) {
                        return sim_nvidia_installer(s, &root, ver, &words[2..]);
                    }
                }
            }
            if first == "/usr/bin/nvidia-installer"
                && words.contains(&"--uninstall")
                && is_file(s, "usr/bin/nvidia-installer")
            {
                sim_nvidia_uninstall(s, &root);
                return Ok((0, String::new()));
            }
            Ok((127, format!("{first}: not found")))
        })
    }
}

/// Where the simulated installer lists what it installed (NVIDIA's keeps a manifest too; the
/// path here is the simulation's own).
const SIM_MANIFEST: &str = "var/lib/nvidia/cudajail-sim.manifest";

/// NVIDIA's `.run` installer as the simulation runs it inside a jail: it refuses to run without
/// `--no-kernel-module` (a jail cannot build or load one), removes an earlier installation of
/// its own, and installs the CUDA and NVML libraries of its version with their `.so.1` links,
/// `nvidia-smi` and `nvidia-installer`.
fn sim_nvidia_installer(
    s: &mut hostsim::State,
    root: &str,
    ver: &str,
    flags: &[&str],
) -> anyhow::Result<(i32, String)> {
    if !flags.contains(&"--no-kernel-module") {
        return Ok((
            1,
            "ERROR: Unable to find the kernel source tree for the currently running kernel.".into(),
        ));
    }
    sim_nvidia_uninstall(s, root);
    let lib = crate::engine::NV_LIB_DEST;
    let mut made = Vec::new();
    for name in [
        "libcuda.so",
        "libnvidia-ml.so",
        "libnvidia-ptxjitcompiler.so",
    ] {
        let file = format!("{lib}/{name}.{ver}");
        s.write_file(&format!("{root}/{file}"), ver.as_bytes())
            .map_err(|e| anyhow!("{file}: {e}"))?;
        let link = format!("{lib}/{name}.1");
        s.remove_entry(&format!("{root}/{link}"));
        s.symlink(&format!("{root}/{link}"), &format!("{name}.{ver}"))
            .map_err(|e| anyhow!("{link}: {e}"))?;
        made.push(file);
        made.push(link);
    }
    for bin in ["usr/bin/nvidia-smi", "usr/bin/nvidia-installer"] {
        s.write_file(&format!("{root}/{bin}"), b"ELF")
            .map_err(|e| anyhow!("{bin}: {e}"))?;
        made.push(bin.to_string());
    }
    s.write_file(
        &format!("{root}/{SIM_MANIFEST}"),
        made.join("\n").as_bytes(),
    )
    .map_err(|e| anyhow!("{SIM_MANIFEST}: {e}"))?;
    Ok((0, format!("Installation of the NVIDIA Accelerated Graphics Driver for Linux-x86_64 (version: {ver}) is now complete.")))
}

/// `nvidia-installer --uninstall`: removes what the simulated installer listed.
fn sim_nvidia_uninstall(s: &mut hostsim::State, root: &str) {
    let manifest = format!("{root}/{SIM_MANIFEST}");
    if let Ok((_, Node::File(m))) = s.resolve(&manifest) {
        for f in String::from_utf8_lossy(&m).lines() {
            s.remove_entry(&format!("{root}/{f}"));
        }
        s.remove_entry(&manifest);
    }
}

/// The simulated CUDA check (see [`JailExec::exec`] on [`SimHost`]) for the jail rooted at `root`.
fn sim_cuda_probe(h: &SimHost, root: &str) -> (i32, String) {
    use linuxulator::readiness::FsView;
    {
        let has = |rel: &str| h.exists(&format!("{root}/{rel}"));
        let head = "cudajail-cuda-probe 1\n";
        if !has(&format!("{}/libcuda.so.1", crate::engine::NV_LIB_DEST)) {
            return (
                3,
                "error step=dlopen code=-1 name=libcuda.so.1: cannot open shared object file: No such file or directory\n".into(),
            );
        }
        let fail = |step: &str, code: i32, name: &str| {
            (
                1,
                format!("{head}error step={step} code={code} name={name}\n"),
            )
        };
        if !has("dev/nvidiactl") {
            return fail("cuInit", 100, "CUDA_ERROR_NO_DEVICE");
        }
        let preload = h
            .read_to_string(&format!("{root}/etc/ld.so.preload"))
            .unwrap_or_default();
        let gpus = match nvgpu::Driver::open(h).and_then(|d| d.gpus()) {
            Ok(g) => g,
            Err(_) => return fail("cuInit", 999, "CUDA_ERROR_UNKNOWN"),
        };
        let visible: Vec<&nvgpu::GpuInfo> = gpus
            .iter()
            .filter(|g| has(&format!("dev/nvidia{}", g.minor)))
            .collect();
        let report = crate::shim::ProbeReport {
            driver_api: 12080,
            gpus: visible
                .iter()
                .enumerate()
                .map(|(i, g)| crate::shim::ProbeGpu {
                    ordinal: i as u32,
                    uuid: g.uuid.clone(),
                    pci: crate::shim::cuda_pci(&g.pci_bus_id),
                    // CUDA reports what it can hand out: the free memory of an idle GPU (on an
                    // H200, 143155 of 143771 MiB; docs/gpu-h200-2026-11-27-nvgpu.log).
                    mem_mib: g.memory_free_mib,
                    ctx_ok: true,
                    name: g.name.clone(),
                })
                .collect(),
        };
        // The dynamic linker skips a preload entry whose file is missing or not an object
        // (here: empty).
        let so = h
            .read_to_string(&format!("{root}{}", crate::shim::SHIM_PATH))
            .unwrap_or_default();
        let shim_loaded = preload.contains(crate::shim::SHIM_PATH) && !so.is_empty();
        if !report.gpus.is_empty() && !shim_loaded {
            return fail("cuInit", 999, "CUDA_ERROR_UNKNOWN");
        }
        (0, report.to_string())
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
