//! The fast path: which GPUs there are (name, UUID, PCI address, minor) and the driver's
//! version, read from the driver's own text interfaces without opening a device file or
//! allocating an RM client.
//!
//! | system | source | written by |
//! |---|---|---|
//! | Linux | `/proc/driver/nvidia/version`, `/proc/driver/nvidia/gpus/<bus>/information` | `nv_procfs_read_version`, `nv_procfs_read_gpu_info` (NVIDIA open-gpu-kernel-modules, `kernel-open/nvidia/nv-procfs.c`) |
//! | FreeBSD | `hw.nvidia.version`, `hw.nvidia.gpus.<unit>.{model,uuid}`, the parent `vgapci`'s `%location` | `nvidia_sysctl_init`, `nv_sysctl_init` (NVIDIA's FreeBSD driver, `src/nvidia/nvidia_sysctl.c`); `pci_child_location_method` (FreeBSD `sys/dev/pci/pci.c`) |
//!
//! Both name the model with `rm_get_device_name()` (a table keyed by PCI device and subsystem
//! ids) where the RM path asks the GPU (`NV2080_CTRL_CMD_GPU_GET_NAME_STRING`): the two agree
//! for every GPU in the driver's table, which is what the GPU tier checks against the driver
//! path and `nvidia-smi` (`tests/gpu.rs`). Where the text leaves something out (no UUID line, a
//! GPU the driver excludes, a name the table does not know) the fast path answers
//! [`Coverage::Partial`] and callers use the driver instead, so its answer never differs from
//! [`Driver::summary`](crate::Driver::summary) by construction of what it accepts.
//!
//! Every reader has limits: at most [`MAX_GPUS`] GPUs, [`MAX_TEXT`] bytes a file or value.

use crate::error::{Error, Op, Result};
use serde::Serialize;
use sysabi::ErrorKind;

/// Most GPUs one host is read for (the driver's `NV_MAX_DEVICES` is 32).
pub const MAX_GPUS: usize = 64;
/// Most bytes read of one procfs file or sysctl value.
pub const MAX_TEXT: usize = 8192;

/// One GPU, by the fields both the fast path and the driver give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpuSummary {
    /// Minor number: N of `/dev/nvidiaN`.
    pub minor: u32,
    /// Marketing name (`NVIDIA H200`).
    pub name: String,
    /// `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub uuid: String,
    /// PCI address as `nvidia-smi` prints it: `00000000:65:00.0`.
    pub pci_bus_id: String,
}

/// The driver's version and its GPUs, ordered by minor number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The kernel module's version (`580.95.05`).
    pub driver_version: String,
    /// One entry per GPU, by minor number.
    pub gpus: Vec<GpuSummary>,
}

impl Summary {
    /// One line per GPU, `nvidia-smi -L`'s shape plus the PCI address:
    /// `GPU 0: NVIDIA H200 (UUID: GPU-…) pci 00000000:00:06.0`.
    pub fn lines(&self) -> String {
        let mut out = String::new();
        for g in &self.gpus {
            out.push_str(&format!(
                "GPU {}: {} (UUID: {}) pci {}\n",
                g.minor, g.name, g.uuid, g.pci_bus_id
            ));
        }
        out
    }
}

/// What the fast path could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Everything the driver path would answer.
    Full(Summary),
    /// Not the whole answer (why): ask the driver.
    Partial(String),
}

/// One GPU's `/proc/driver/nvidia/gpus/<bus>/information`, the fields the fast path uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInformation {
    /// `Model:`.
    pub model: String,
    /// `GPU UUID:` (absent when the driver could not read it).
    pub uuid: Option<String>,
    /// `Bus Location:` as `nvidia-smi` prints it.
    pub pci_bus_id: String,
    /// `Device Minor:`.
    pub minor: u32,
    /// `GPU Excluded: Yes`.
    pub excluded: bool,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::new(Op::Validate, ErrorKind::InvalidInput, what.to_string())
}

/// Whether `s` is a GPU UUID as the driver prints it: `GPU-` then 8-4-4-4-12 hex digits.
pub fn is_gpu_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("GPU-") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A model name we pass on: printable, not empty, not an "unknown" answer (`rm_get_device_name`
/// answers `Unknown` for a device id missing from its `sChipsReleased` table).
fn usable_model(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s.chars().any(char::is_control)
        && !matches!(s, "Unknown" | "NVIDIA Graphics Device" | "Graphics Device")
}

/// `dddd:bb:ss.f` (hex; `%04x:%02x:%02x.%x` in `nv_procfs_read_gpu_info`) → `0000DDDD:BB:SS.F`.
pub fn parse_bus_location(s: &str) -> Option<String> {
    let (dom, rest) = s.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (slot, func) = rest.split_once('.')?;
    let hex = |t: &str, max: usize| {
        (!t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(t, 16).ok())
            .flatten()
    };
    let (d, b, s, f) = (hex(dom, 8)?, hex(bus, 2)?, hex(slot, 2)?, hex(func, 1)?);
    (s < 32 && f < 8).then(|| format!("{d:08X}:{b:02X}:{s:02X}.{f:X}"))
}

/// Parses one GPU's `information` file (`Key: \t value` lines, `nv_procfs_read_gpu_info`).
///
/// # Errors
/// `InvalidInput` when the text is too long, or `Model`, `Bus Location` or `Device Minor` is
/// missing or malformed.
pub fn parse_proc_information(text: &str) -> Result<ProcInformation> {
    if text.len() > MAX_TEXT {
        return Err(bad(format!("information is {} bytes", text.len())));
    }
    let mut model = None;
    let mut uuid = None;
    let mut bus = None;
    let mut minor = None;
    let mut excluded = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim_matches(|c| c == ' ' || c == '\t');
        match k.trim() {
            "Model" => model = Some(v.to_string()),
            "GPU UUID" => uuid = Some(v.to_string()),
            "Bus Location" => {
                bus = Some(parse_bus_location(v).ok_or_else(|| bad(format!("Bus Location {v:?}")))?)
            }
            "Device Minor" => {
                minor = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|m| *m < 256)
                        .ok_or_else(|| bad(format!("Device Minor {v:?}")))?,
                )
            }
            "GPU Excluded" => excluded = v == "Yes",
            _ => {}
        }
    }
    Ok(ProcInformation {
        model: model.ok_or_else(|| bad("no Model line"))?,
        uuid,
        pci_bus_id: bus.ok_or_else(|| bad("no Bus Location line"))?,
        minor: minor.ok_or_else(|| bad("no Device Minor line"))?,
        excluded,
    })
}

/// The version in `/proc/driver/nvidia/version`'s first line (`NVRM version: NVIDIA UNIX Open
/// Kernel Module for x86_64  580.159.04  Release Build  (…)  …`).
pub fn parse_proc_version(text: &str) -> Option<String> {
    let line = text.lines().next()?.strip_prefix("NVRM version:")?;
    crate::codec::parse_sysctl_version(line)
}

/// Joins parsed `information` files into the answer, or says why it is not the whole answer.
pub fn from_proc(version_text: &str, infos: Vec<ProcInformation>) -> Coverage {
    let Some(driver_version) = parse_proc_version(version_text) else {
        return Coverage::Partial("no version in /proc/driver/nvidia/version".into());
    };
    let mut gpus = Vec::new();
    for i in infos {
        if i.excluded {
            return Coverage::Partial(format!("{} is excluded by the driver", i.pci_bus_id));
        }
        let Some(uuid) = i.uuid.filter(|u| is_gpu_uuid(u)) else {
            return Coverage::Partial(format!("no UUID for {}", i.pci_bus_id));
        };
        if !usable_model(&i.model) {
            return Coverage::Partial(format!("no model name for {}", i.pci_bus_id));
        }
        gpus.push(GpuSummary {
            minor: i.minor,
            name: i.model,
            uuid,
            pci_bus_id: i.pci_bus_id,
        });
    }
    finish(driver_version, gpus)
}

fn finish(driver_version: String, mut gpus: Vec<GpuSummary>) -> Coverage {
    gpus.sort_by_key(|g| g.minor);
    if gpus.windows(2).any(|w| w[0].minor == w[1].minor) {
        return Coverage::Partial("two GPUs with one minor number".into());
    }
    Coverage::Full(Summary {
        driver_version,
        gpus,
    })
}

fn read_capped(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(MAX_TEXT as u64 + 1)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// The Linux fast path over a procfs directory laid out like `/proc/driver/nvidia` (`dir`, so
/// tests can point it at a copy).
///
/// # Errors
/// `NotFound` when `dir` has no `version` file (no NVIDIA driver, or not Linux's); I/O errors
/// reading it; a file that does not parse (`InvalidInput`, naming the file).
pub fn read_procfs(dir: &std::path::Path) -> Result<Coverage> {
    let io = |e: std::io::Error, p: &std::path::Path| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Other
        };
        Error::new(Op::Validate, kind, e.to_string()).subject(p.display())
    };
    let vpath = dir.join("version");
    let version = read_capped(&vpath).map_err(|e| io(e, &vpath))?;
    let gdir = dir.join("gpus");
    let mut infos = Vec::new();
    let entries = match std::fs::read_dir(&gdir) {
        Ok(e) => e,
        // The driver makes `gpus/` with the first GPU: none yet is an empty list.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(from_proc(&version, infos))
        }
        Err(e) => return Err(io(e, &gdir)),
    };
    for e in entries {
        let e = e.map_err(|e| io(e, &gdir))?;
        if infos.len() == MAX_GPUS {
            return Err(bad(format!("more than {MAX_GPUS} GPUs")).subject(gdir.display()));
        }
        let p = e.path().join("information");
        let text = read_capped(&p).map_err(|e| io(e, &p))?;
        infos.push(parse_proc_information(&text).map_err(|e| e.subject(p.display()))?);
    }
    Ok(from_proc(&version, infos))
}

/// `slot=6 function=0 dbsf=pci0:0:6:0 …` (FreeBSD's `pci_child_location_method`, decimal
/// numbers) → `00000000:00:06.0`.
pub fn parse_freebsd_location(s: &str) -> Option<String> {
    let dbsf = s
        .split_whitespace()
        .find_map(|w| w.strip_prefix("dbsf=pci"))?;
    let n: Vec<u32> = dbsf
        .split(':')
        .map(|t| {
            (!t.is_empty() && t.len() <= 10 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    match n[..] {
        [d, b, s, f] if b < 256 && s < 32 && f < 8 => {
            Some(format!("{d:08X}:{b:02X}:{s:02X}.{f:X}"))
        }
        _ => None,
    }
}

/// The FreeBSD fast path over a sysctl reader (`get(name)`: the value, `None` when the name
/// does not exist). Units `0..MAX_GPUS` of `hw.nvidia.gpus` are asked for; a unit's device file
/// is `/dev/nvidia<unit>` (both named by `device_get_unit`: `nv_sysctl_init` in
/// `nvidia_sysctl.c`, `make_dev` in `nvidia_dev_attach`), and its PCI address is its parent's
/// `%location` (`dev.nvidia.<unit>.%parent`: `nvidia` attaches to `vgapci`,
/// `DRIVER_MODULE(nvidia, vgapci, …)` in `nvidia_pci.c`).
///
/// # Errors
/// `NotFound` without `hw.nvidia.version`; errors of `get`.
pub fn from_sysctl(get: &mut dyn FnMut(&str) -> Result<Option<String>>) -> Result<Coverage> {
    let Some(v) = get("hw.nvidia.version")? else {
        return Err(Error::new(
            Op::Validate,
            ErrorKind::NotFound,
            "no hw.nvidia.version (is nvidia.ko loaded?)",
        ));
    };
    let Some(driver_version) = crate::codec::parse_sysctl_version(&v) else {
        return Ok(Coverage::Partial(format!("no version in {v:?}")));
    };
    let mut gpus = Vec::new();
    for unit in 0..MAX_GPUS as u32 {
        let Some(model) = get(&format!("hw.nvidia.gpus.{unit}.model"))? else {
            continue;
        };
        let uuid = get(&format!("hw.nvidia.gpus.{unit}.uuid"))?;
        let Some(uuid) = uuid.filter(|u| is_gpu_uuid(u)) else {
            return Ok(Coverage::Partial(format!("no UUID for unit {unit}")));
        };
        if !usable_model(&model) {
            return Ok(Coverage::Partial(format!("no model name for unit {unit}")));
        }
        let parent = get(&format!("dev.nvidia.{unit}.%parent"))?.unwrap_or_default();
        let Some(vga) = parent
            .strip_prefix("vgapci")
            .filter(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return Ok(Coverage::Partial(format!(
                "unit {unit}'s parent is {parent:?}, not a vgapci"
            )));
        };
        let loc = get(&format!("dev.vgapci.{vga}.%location"))?.unwrap_or_default();
        let Some(pci_bus_id) = parse_freebsd_location(&loc) else {
            return Ok(Coverage::Partial(format!(
                "no PCI address in vgapci{vga}'s location {loc:?}"
            )));
        };
        gpus.push(GpuSummary {
            minor: unit,
            name: model,
            uuid,
            pci_bus_id,
        });
    }
    Ok(finish(driver_version, gpus))
}

/// The fast path on this host: procfs on Linux, sysctls on FreeBSD.
///
/// # Errors
/// `NotFound` when the driver's text interface is not there (no driver loaded); `Unsupported`
/// elsewhere; read and parse errors.
pub fn read_host() -> Result<Coverage> {
    #[cfg(target_os = "linux")]
    {
        read_procfs(std::path::Path::new("/proc/driver/nvidia"))
    }
    #[cfg(target_os = "freebsd")]
    {
        from_sysctl(&mut |name| {
            let c = std::ffi::CString::new(name).map_err(|_| bad("NUL in a sysctl name"))?;
            match crate::sys::sysctl_string(&c) {
                Ok(v) if v.len() > MAX_TEXT => Err(bad(format!("{name} is {} bytes", v.len()))),
                Ok(v) => Ok(Some(v)),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
                Err(e) => Err(Error::from_errno(
                    Op::Validate,
                    sysabi::Errno(e.raw_os_error().unwrap_or(0)),
                )
                .subject(name)),
            }
        })
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        Err(Error::new(
            Op::Validate,
            ErrorKind::Unsupported,
            "the NVIDIA driver's text interfaces exist on Linux and FreeBSD only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Laid out as `nv_procfs_read_gpu_info` prints it (open-gpu-kernel-modules 580).
    const H200: &str = "Model: \t\t NVIDIA H200\nIRQ:   \t\t 0\nGPU UUID: \t GPU-0fc5f694-db76-cb84-ce85-7ece737d91ca\nVideo BIOS: \t 96.00.af.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\nBus Location: \t 0000:00:06.0\nDevice Minor: \t 0\nGPU Firmware: \t 580.159.04\nGPU Excluded:\t No\n";
    const VERSION: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Thu Oct 30 00:00:00 UTC 2025\nGCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n";

    #[test]
    fn an_information_file_as_the_driver_prints_it() {
        let i = parse_proc_information(H200).unwrap();
        assert_eq!(i.model, "NVIDIA H200");
        assert_eq!(
            i.uuid.as_deref(),
            Some("GPU-0fc5f694-db76-cb84-ce85-7ece737d91ca")
        );
        assert_eq!(i.pci_bus_id, "00000000:00:06.0");
        assert_eq!(i.minor, 0);
        assert!(!i.excluded);
        assert_eq!(parse_proc_version(VERSION).as_deref(), Some("580.159.04"));
    }

    #[test]
    fn bus_locations_in_nvidia_smi_form() {
        assert_eq!(
            parse_bus_location("0000:4f:00.0").as_deref(),
            Some("00000000:4F:00.0")
        );
        assert_eq!(
            parse_bus_location("10000:c1:1f.7").as_deref(),
            Some("00010000:C1:1F.7")
        );
        for bad in [
            "",
            "0000:4f:00",
            "0000:4f:20.0",
            "0000:4f:00.8",
            "g000:00:00.0",
            "0000:100:00.0",
        ] {
            assert_eq!(parse_bus_location(bad), None, "{bad}");
        }
        assert_eq!(
            parse_freebsd_location("slot=6 function=0 dbsf=pci0:0:6:0 handle=\\_SB_.PCI0.S30_")
                .as_deref(),
            Some("00000000:00:06.0")
        );
        assert_eq!(
            parse_freebsd_location("slot=0 function=0 dbsf=pci1:193:0:0").as_deref(),
            Some("00000001:C1:00.0")
        );
        for bad in [
            "",
            "slot=0",
            "dbsf=pci0:0:6",
            "dbsf=pci0:256:0:0",
            "dbsf=pci0:0:0:8",
            "dbsf=pcix:0:0:0",
        ] {
            assert_eq!(parse_freebsd_location(bad), None, "{bad}");
        }
    }

    #[test]
    fn anything_the_text_leaves_out_sends_the_caller_to_the_driver() {
        let full = |t: &str| from_proc(VERSION, vec![parse_proc_information(t).unwrap()]);
        assert!(matches!(full(H200), Coverage::Full(_)));
        let no_uuid: String = H200
            .lines()
            .filter(|l| !l.starts_with("GPU UUID"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            full(&no_uuid),
            Coverage::Partial("no UUID for 00000000:00:06.0".into())
        );
        let odd_uuid = H200.replace("GPU-0fc5f694", "GPU-????????");
        assert!(matches!(full(&odd_uuid), Coverage::Partial(_)));
        let excluded = H200.replace("GPU Excluded:\t No", "GPU Excluded:\t Yes");
        assert!(matches!(full(&excluded), Coverage::Partial(m) if m.contains("excluded")));
        let unknown = H200.replace("NVIDIA H200", "NVIDIA Graphics Device");
        assert!(matches!(full(&unknown), Coverage::Partial(m) if m.contains("model")));
        assert!(matches!(
            from_proc("garbage", vec![]),
            Coverage::Partial(m) if m.contains("version")
        ));
        // Two GPUs claiming one minor number: not trusted.
        let i = parse_proc_information(H200).unwrap();
        assert!(matches!(
            from_proc(VERSION, vec![i.clone(), i]),
            Coverage::Partial(_)
        ));
    }

    #[test]
    fn malformed_required_lines_are_errors() {
        for (from, to) in [
            ("Bus Location: \t 0000:00:06.0", "Bus Location: \t 0000:00"),
            ("Device Minor: \t 0", "Device Minor: \t 300"),
            ("Device Minor: \t 0", "Device Minor: \t -1"),
            ("Model: \t\t NVIDIA H200\n", ""),
        ] {
            let t = H200.replace(from, to);
            assert!(parse_proc_information(&t).is_err(), "{t}");
        }
        assert!(parse_proc_information(&"x".repeat(MAX_TEXT + 1)).is_err());
    }

    fn tree(gpus: &[(&str, String)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        std::fs::write(d.0.join("version"), VERSION).unwrap();
        for (bus, text) in gpus {
            std::fs::create_dir_all(d.0.join("gpus").join(bus)).unwrap();
            std::fs::write(d.0.join("gpus").join(bus).join("information"), text).unwrap();
        }
        d
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "nvgpu-fast-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn a_procfs_tree_on_a_real_file_system() {
        let second = H200
            .replace("0000:00:06.0", "0000:00:07.0")
            .replace("Device Minor: \t 0", "Device Minor: \t 1")
            .replace("7ece737d91ca", "7ece737d91cb");
        // Directory order is the file system's; the answer is by minor number.
        let d = tree(&[("0000:00:07.0", second), ("0000:00:06.0", H200.into())]);
        let Coverage::Full(s) = read_procfs(&d.0).unwrap() else {
            panic!("not covered")
        };
        assert_eq!(s.driver_version, "580.159.04");
        assert_eq!(
            s.lines(),
            "GPU 0: NVIDIA H200 (UUID: GPU-0fc5f694-db76-cb84-ce85-7ece737d91ca) pci 00000000:00:06.0\n\
             GPU 1: NVIDIA H200 (UUID: GPU-0fc5f694-db76-cb84-ce85-7ece737d91cb) pci 00000000:00:07.0\n"
        );
        // No gpus/ yet: the driver is loaded and has no GPU.
        let empty = tree(&[]);
        assert_eq!(
            read_procfs(&empty.0).unwrap(),
            Coverage::Full(Summary {
                driver_version: "580.159.04".into(),
                gpus: vec![]
            })
        );
        // No driver at all.
        let e = read_procfs(&empty.0.join("absent")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        // A broken file is named.
        let d = tree(&[("0000:00:06.0", "Model: x\n".into())]);
        let e = read_procfs(&d.0).unwrap_err();
        assert!(e.to_string().contains("information"), "{e}");
        // An oversized file is refused, not read whole.
        let d = tree(&[("0000:00:06.0", format!("{H200}{}", " ".repeat(MAX_TEXT)))]);
        assert!(read_procfs(&d.0).is_err());
    }

    fn sysctls(extra: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        let mut m: std::collections::HashMap<String, String> = [
            ("hw.nvidia.version", "NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build  (root@14amd64)  Tue Oct 21 2025"),
            ("hw.nvidia.gpus.0.model", "NVIDIA GeForce RTX 4090"),
            ("hw.nvidia.gpus.0.uuid", "GPU-11111111-2222-3333-4444-555555555555"),
            ("hw.nvidia.gpus.0.irq", "64"),
            ("hw.nvidia.gpus.0.type", "PCIe"),
            ("dev.nvidia.0.%parent", "vgapci0"),
            ("dev.vgapci.0.%location", "slot=0 function=0 dbsf=pci0:1:0:0 handle=\\_SB_.PCI0.GPP0.PEGP"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                m.remove(*k);
            } else {
                m.insert(k.to_string(), v.to_string());
            }
        }
        m
    }

    fn run_sysctl(m: &std::collections::HashMap<String, String>) -> Result<Coverage> {
        from_sysctl(&mut |n| Ok(m.get(n).cloned()))
    }

    #[test]
    fn freebsd_sysctls_as_nvidia_sysctl_c_names_them() {
        let Coverage::Full(s) = run_sysctl(&sysctls(&[])).unwrap() else {
            panic!()
        };
        assert_eq!(s.driver_version, "580.95.05");
        assert_eq!(
            s.lines(),
            "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-11111111-2222-3333-4444-555555555555) pci 00000000:01:00.0\n"
        );
        // A second card at unit 2 (unit 1 detached): both found, by unit.
        let two = sysctls(&[
            ("hw.nvidia.gpus.2.model", "NVIDIA RTX A4000"),
            (
                "hw.nvidia.gpus.2.uuid",
                "GPU-aaaaaaaa-2222-3333-4444-555555555555",
            ),
            ("dev.nvidia.2.%parent", "vgapci3"),
            (
                "dev.vgapci.3.%location",
                "slot=0 function=0 dbsf=pci0:65:0:0",
            ),
        ]);
        let Coverage::Full(s) = run_sysctl(&two).unwrap() else {
            panic!()
        };
        assert_eq!(s.gpus.len(), 2);
        assert_eq!(
            (s.gpus[1].minor, s.gpus[1].pci_bus_id.as_str()),
            (2, "00000000:41:00.0")
        );
        // What is missing sends the caller to the driver.
        for (k, v) in [
            ("hw.nvidia.gpus.0.uuid", ""),
            ("dev.nvidia.0.%parent", "pci0"),
            ("dev.vgapci.0.%location", "slot=0"),
            ("hw.nvidia.gpus.0.model", "Unknown"),
        ] {
            assert!(
                matches!(
                    run_sysctl(&sysctls(&[(k, v)])).unwrap(),
                    Coverage::Partial(_)
                ),
                "{k}={v}"
            );
        }
        let e = run_sysctl(&sysctls(&[("hw.nvidia.version", "")])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    proptest! {
        #[test]
        fn no_text_panics_the_parsers(s in "\\PC{0,300}") {
            let _ = parse_proc_information(&s);
            let _ = parse_proc_version(&s);
            let _ = parse_bus_location(&s);
            let _ = parse_freebsd_location(&s);
            let _ = is_gpu_uuid(&s);
        }

        #[test]
        fn bus_locations_round_trip(d in 0u32..0x10000, b in 0u32..256, s in 0u32..32, f in 0u32..8) {
            let id = parse_bus_location(&format!("{d:04x}:{b:02x}:{s:02x}.{f:x}")).unwrap();
            prop_assert_eq!(&id, &format!("{d:08X}:{b:02X}:{s:02X}.{f:X}"));
            let fb = parse_freebsd_location(&format!("slot={s} function={f} dbsf=pci{d}:{b}:{s}:{f}")).unwrap();
            prop_assert_eq!(fb, id);
        }

        #[test]
        fn uuids_round_trip(bytes in proptest::collection::vec(any::<u8>(), 16)) {
            let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let u = format!("GPU-{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
            prop_assert!(is_gpu_uuid(&u));
            prop_assert!(!is_gpu_uuid(&u[..u.len() - 1]));
        }
    }
}
