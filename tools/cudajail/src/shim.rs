//! The uvm shim: its C source, embedded so `cudajail up` can build it inside the jail with the
//! jail's own (Linux) compiler, and how it is wired in.
//!
//! It is loaded through the Linux root's `/etc/ld.so.preload`, which only Linux's dynamic
//! linker reads: FreeBSD programs never see it (the `LD_PRELOAD` leak that breaks FreeBSD
//! binaries with "Shared object libdl.so.2 not found" cannot happen).

/// The shim's C source.
pub const UVM_SHIM_C: &str = include_str!("../shim/uvm_shim.c");

/// Where the shim goes inside the Linux root.
pub const SHIM_PATH: &str = "/usr/local/lib/cudajail/libcudajail_uvm.so";

/// Where the shim's source goes inside the Linux root (relative).
pub const SHIM_SOURCE_REL: &str = "usr/local/lib/cudajail/uvm_shim.c";

/// The command that builds it inside the jail (run by `up` through `jexec`).
pub const BUILD_COMMAND: &str =
    "cc -shared -fPIC -O2 -o /usr/local/lib/cudajail/libcudajail_uvm.so /usr/local/lib/cudajail/uvm_shim.c -ldl";

/// The line added to the Linux root's `/etc/ld.so.preload`.
pub fn preload_line() -> String {
    format!("{SHIM_PATH}\n")
}

/// The CUDA check's C source (`shim/cuda_probe.c`): loads `libcuda.so.1` with dlopen, so it builds
/// with only a C compiler, and initialises CUDA, lists the devices and creates a context with a
/// 1 MiB allocation on each.
pub const CUDA_PROBE_C: &str = include_str!("../shim/cuda_probe.c");

/// Where the CUDA check goes inside the Linux root.
pub const PROBE_PATH: &str = "/usr/local/lib/cudajail/cuda-probe";

/// Where its source goes inside the Linux root (relative).
pub const PROBE_SOURCE_REL: &str = "usr/local/lib/cudajail/cuda_probe.c";

/// The command that builds it inside the jail.
pub const PROBE_BUILD_COMMAND: &str =
    "cc -O2 -o /usr/local/lib/cudajail/cuda-probe /usr/local/lib/cudajail/cuda_probe.c -ldl";

/// A PCI bus id in CUDA's form (4-digit domain, lower case): nvidia-smi and nvgpu print
/// `00000000:01:00.0`, CUDA `0000:01:00.0`.
#[must_use]
pub fn cuda_pci(id: &str) -> String {
    match id.split_once(':') {
        Some((dom, rest)) => {
            let d = u32::from_str_radix(dom, 16).unwrap_or(0);
            format!("{d:04x}:{}", rest.to_ascii_lowercase())
        }
        None => id.to_ascii_lowercase(),
    }
}

/// The first line of the probe's output.
const PROBE_MAGIC: &str = "cudajail-cuda-probe 1";

/// One device as CUDA saw it inside the jail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeGpu {
    /// CUDA's ordinal.
    pub ordinal: u32,
    /// `GPU-xxxxxxxx-…`, the form nvidia-smi and nvgpu print.
    pub uuid: String,
    /// PCI bus id as CUDA prints it (`0000:01:00.0`).
    pub pci: String,
    /// Total memory in MiB.
    pub mem_mib: u64,
    /// A context was created and 1 MiB allocated and freed.
    pub ctx_ok: bool,
    /// Marketing name.
    pub name: String,
}

/// What the CUDA check printed on success.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeReport {
    /// `cuDriverGetVersion`: e.g. 12080 for CUDA 12.8.
    pub driver_api: u32,
    /// The devices.
    pub gpus: Vec<ProbeGpu>,
}

impl ProbeReport {
    /// `12080` → `12.8`.
    #[must_use]
    pub fn cuda_version(&self) -> String {
        format!("{}.{}", self.driver_api / 1000, self.driver_api % 1000 / 10)
    }
}

/// Why the CUDA check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// A driver-API call failed: the call, CUresult and its name.
    Cuda {
        /// The call (`cuInit`, `cuCtxCreate_v2`…).
        step: String,
        /// The `CUresult`.
        code: i64,
        /// Its name (`CUDA_ERROR_NO_DEVICE`…), or dlerror()'s text for `dlopen`.
        name: String,
    },
    /// The output is not the probe's.
    Garbled(String),
}

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeFailure::Cuda { step, code, name } if step == "dlopen" => {
                write!(f, "libcuda.so.1 cannot be loaded: {name}")
            }
            ProbeFailure::Cuda { step, code, name } => write!(f, "{step} returned {code} ({name})"),
            ProbeFailure::Garbled(why) => write!(f, "unexpected output from the CUDA check: {why}"),
        }
    }
}

impl std::fmt::Display for ProbeReport {
    /// The probe's own output format, so `parse_probe(&r.to_string()) == Ok(r)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{PROBE_MAGIC}")?;
        writeln!(f, "driver_api {}", self.driver_api)?;
        writeln!(f, "count {}", self.gpus.len())?;
        for g in &self.gpus {
            writeln!(
                f,
                "gpu {} uuid={} pci={} mem_mib={} ctx={} name={}",
                g.ordinal,
                g.uuid,
                g.pci,
                g.mem_mib,
                if g.ctx_ok { "ok" } else { "failed" },
                g.name
            )?;
        }
        Ok(())
    }
}

/// Parses the CUDA check's output (see `shim/cuda_probe.c`); never panics.
///
/// # Errors
/// The check failed (with the CUDA call and error), or the text is not its output.
pub fn parse_probe(out: &str) -> Result<ProbeReport, ProbeFailure> {
    let garbled = |why: &str| ProbeFailure::Garbled(why.to_string());
    if let Some(l) = out.lines().find(|l| l.starts_with("error step=")) {
        let field = |k: &str| {
            l.split(' ')
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or_default()
                .to_string()
        };
        // dlerror()'s text has spaces: everything after `name=`.
        let name = l
            .split_once(" name=")
            .map_or_else(String::new, |(_, n)| n.to_string());
        return Err(ProbeFailure::Cuda {
            step: field("step="),
            code: field("code=").parse().unwrap_or(-1),
            name,
        });
    }
    let mut lines = out.lines();
    if lines.next() != Some(PROBE_MAGIC) {
        return Err(garbled("no header line"));
    }
    let num = |l: Option<&str>, k: &str| -> Result<u64, ProbeFailure> {
        l.and_then(|l| l.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| garbled(&format!("no `{}` line", k.trim())))
    };
    let driver_api = u32::try_from(num(lines.next(), "driver_api ")?)
        .map_err(|_| garbled("driver_api out of range"))?;
    let count = num(lines.next(), "count ")?;
    let mut gpus = Vec::new();
    for l in lines
        .by_ref()
        .take(usize::try_from(count).unwrap_or(usize::MAX))
    {
        let rest = l
            .strip_prefix("gpu ")
            .ok_or_else(|| garbled("expected a `gpu` line"))?;
        let (head, name) = rest
            .split_once(" name=")
            .ok_or_else(|| garbled("gpu line without name"))?;
        let mut w = head.split(' ');
        let ordinal = w
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| garbled("gpu ordinal"))?;
        let mut kv = |k: &str| {
            w.next()
                .and_then(|p| p.strip_prefix(k))
                .map(str::to_string)
                .ok_or_else(|| garbled(&format!("gpu line without {k}")))
        };
        let uuid = kv("uuid=")?;
        let pci = kv("pci=")?;
        let mem_mib = kv("mem_mib=")?.parse().map_err(|_| garbled("mem_mib"))?;
        let ctx_ok = match kv("ctx=")?.as_str() {
            "ok" => true,
            "failed" => false,
            _ => return Err(garbled("ctx")),
        };
        if uuid.contains(char::is_whitespace) || pci.is_empty() || name.contains('\n') {
            return Err(garbled("gpu fields"));
        }
        gpus.push(ProbeGpu {
            ordinal,
            uuid,
            pci,
            mem_mib,
            ctx_ok,
            name: name.to_string(),
        });
    }
    if gpus.len() as u64 != count {
        return Err(garbled("fewer gpu lines than count"));
    }
    Ok(ProbeReport { driver_api, gpus })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Printed by the probe on an H200 with driver 580.159.04
    /// (docs/gpu-h200-2026-11-27-cuda-probe.log).
    const H200: &str = "cudajail-cuda-probe 1\ndriver_api 13000\ncount 1\ngpu 0 uuid=GPU-0fc5f694-db76-cb84-ce85-7ece737d91ca pci=0000:00:06.0 mem_mib=143155 ctx=ok name=NVIDIA H200\n";

    #[test]
    fn the_build_commands_use_the_paths_the_engine_checks() {
        for (cmd, src, out) in [
            (BUILD_COMMAND, SHIM_SOURCE_REL, SHIM_PATH),
            (PROBE_BUILD_COMMAND, PROBE_SOURCE_REL, PROBE_PATH),
        ] {
            assert!(cmd.contains(&format!(" /{src} ")), "{cmd}");
            assert!(cmd.contains(&format!("-o {out} ")), "{cmd}");
        }
    }

    #[test]
    fn pci_ids_in_cudas_form() {
        assert_eq!(cuda_pci("00000000:00:06.0"), "0000:00:06.0");
        assert_eq!(cuda_pci("0000:0A:00.0"), "0000:0a:00.0");
        assert_eq!(cuda_pci("00000001:41:00.0"), "0001:41:00.0");
    }

    #[test]
    fn parses_a_real_report() {
        let r = parse_probe(H200).unwrap();
        assert_eq!(r.cuda_version(), "13.0");
        assert_eq!(r.gpus.len(), 1);
        assert_eq!(r.gpus[0].name, "NVIDIA H200");
        assert_eq!(r.gpus[0].mem_mib, 143155);
        assert!(r.gpus[0].ctx_ok);
        assert_eq!(r.to_string(), H200);
    }

    #[test]
    fn failures_carry_the_call_and_the_cuda_error() {
        let out = "cudajail-cuda-probe 1\nerror step=cuInit code=100 name=CUDA_ERROR_NO_DEVICE\n";
        let e = parse_probe(out).unwrap_err();
        assert_eq!(e.to_string(), "cuInit returned 100 (CUDA_ERROR_NO_DEVICE)");
        let e = parse_probe("error step=dlopen code=-1 name=libcuda.so.1: cannot open shared object file: No such file or directory\n").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("libcuda.so.1 cannot be loaded: libcuda.so.1: cannot open"));
        assert!(matches!(parse_probe(""), Err(ProbeFailure::Garbled(_))));
        assert!(matches!(
            parse_probe(&H200.replace("count 1", "count 2")),
            Err(ProbeFailure::Garbled(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_probe(&s);
        }

        #[test]
        fn print_parse_round_trips(
            api in 0u32..100_000,
            gpus in proptest::collection::vec(
                ("[0-9a-f-]{1,40}", "[0-9a-f:.]{1,16}", any::<u64>(), any::<bool>(), "[ -~]{0,40}"),
                0..4,
            ),
        ) {
            let r = ProbeReport {
                driver_api: api,
                gpus: gpus
                    .into_iter()
                    .enumerate()
                    .map(|(i, (u, p, m, c, n))| ProbeGpu {
                        ordinal: i as u32,
                        uuid: format!("GPU-{u}"),
                        pci: p,
                        mem_mib: m,
                        ctx_ok: c,
                        name: n,
                    })
                    .collect(),
            };
            prop_assert_eq!(parse_probe(&r.to_string()), Ok(r));
        }
    }
}
