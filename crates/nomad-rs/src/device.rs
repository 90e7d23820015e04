//! What a Nomad device plugin reports and answers for NVIDIA GPUs, read from the driver with
//! [`nvgpu::Driver`] instead of NVML: the shapes of Nomad's `plugins/device/device.go`
//! (`DeviceGroup`, `Device`, `ContainerReservation`, `DeviceGroupStats`) and the attribute
//! names of NVIDIA's own Nomad plugin (`plugins/device/cmd/nvidia`).

use nvgpu::{Driver, NvTransport};
use serde::Serialize;
use std::collections::BTreeMap;

/// The device vendor Nomad matches `device "nvidia/gpu"` against.
pub const VENDOR: &str = "nvidia";
/// The device type (Nomad's `DeviceTypeGPU`).
pub const DEVICE_TYPE: &str = "gpu";
/// The control nodes every GPU task needs besides its `/dev/nvidiaN`.
pub const CONTROL_NODES: &[&str] = &["/dev/nvidiactl", "/dev/nvidia-modeset"];

/// An attribute value with its unit (Nomad's `structs.Attribute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Attribute {
    /// An integer, with a unit Nomad knows (`MiB`).
    Int(i64, &'static str),
    /// A string.
    Str(String),
}

/// One GPU (Nomad's `device.Device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The id tasks reserve it by: its UUID (`GPU-…`).
    pub id: String,
    /// Whether it can be scheduled.
    pub healthy: bool,
    /// Why not, when it cannot.
    pub health_desc: String,
    /// Its PCI bus id (`00000000:65:00.0`), Nomad's `HwLocality.PciBusID`.
    pub pci_bus_id: String,
    /// Its minor number (`/dev/nvidiaN`), kept for `reserve`.
    pub minor: u32,
}

/// GPUs of one model (Nomad's `device.DeviceGroup`): vendor, type and name are what a job's
/// `device "nvidia/gpu/<name>"` matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceGroup {
    /// [`VENDOR`].
    pub vendor: &'static str,
    /// [`DEVICE_TYPE`].
    pub device_type: &'static str,
    /// The model (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Its GPUs.
    pub devices: Vec<Device>,
    /// `memory` (MiB) and `driver_version`, as NVIDIA's plugin names them.
    pub attributes: BTreeMap<String, Attribute>,
}

/// The driver's GPUs as Nomad's `Fingerprint` stream carries them: one group per model, one
/// device per GPU, all healthy (the driver answered for each).
///
/// # Errors
/// The driver cannot be opened or asked (the plugin then reports the error in the stream).
pub fn fingerprint(nv: &dyn NvTransport) -> nvgpu::Result<Vec<DeviceGroup>> {
    let d = Driver::open(nv)?;
    let version = d.version().to_string();
    let mut groups: Vec<DeviceGroup> = Vec::new();
    for g in d.gpus()? {
        let dev = Device {
            id: g.uuid.clone(),
            healthy: true,
            health_desc: String::new(),
            pci_bus_id: g.pci_bus_id.clone(),
            minor: g.minor,
        };
        match groups.iter_mut().find(|x| x.name == g.name) {
            Some(x) => x.devices.push(dev),
            None => {
                let mut attributes = BTreeMap::new();
                attributes.insert(
                    "memory".to_string(),
                    Attribute::Int(i64::try_from(g.memory_total_mib).unwrap_or(i64::MAX), "MiB"),
                );
                attributes.insert(
                    "driver_version".to_string(),
                    Attribute::Str(version.clone()),
                );
                groups.push(DeviceGroup {
                    vendor: VENDOR,
                    device_type: DEVICE_TYPE,
                    name: g.name.clone(),
                    devices: vec![dev],
                    attributes,
                });
            }
        }
    }
    Ok(groups)
}

/// A device node a task gets (Nomad's `DeviceSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSpec {
    /// Where the task sees it.
    pub task_path: String,
    /// The host's node.
    pub host_path: String,
    /// Permissions (`rw`).
    pub permissions: String,
}

/// What `Reserve` answers (Nomad's `ContainerReservation`): the environment and device nodes
/// of the reserved GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    /// `NVIDIA_VISIBLE_DEVICES`: the reserved UUIDs, comma-separated.
    pub envs: BTreeMap<String, String>,
    /// The control nodes and each reserved `/dev/nvidiaN`.
    pub devices: Vec<DeviceSpec>,
}

/// `Reserve(device_ids)`: the reservation for these GPUs of `groups` (the last fingerprint).
///
/// # Errors
/// An empty request, or an id that is not a fingerprinted GPU (named; Nomad then fails the
/// allocation).
pub fn reserve(groups: &[DeviceGroup], ids: &[String]) -> Result<Reservation, String> {
    if ids.is_empty() {
        return Err("no device ids to reserve".into());
    }
    let mut minors = Vec::new();
    for id in ids {
        let d = groups
            .iter()
            .flat_map(|g| &g.devices)
            .find(|d| &d.id == id)
            .ok_or_else(|| format!("unknown device id {id:?}: not a GPU of this host"))?;
        minors.push(d.minor);
    }
    let node = |p: &str| DeviceSpec {
        task_path: p.to_string(),
        host_path: p.to_string(),
        permissions: "rw".into(),
    };
    let mut devices: Vec<DeviceSpec> = CONTROL_NODES.iter().map(|p| node(p)).collect();
    devices.extend(minors.iter().map(|m| node(&format!("/dev/nvidia{m}"))));
    let mut envs = BTreeMap::new();
    envs.insert("NVIDIA_VISIBLE_DEVICES".into(), ids.join(","));
    Ok(Reservation { envs, devices })
}

/// One GPU's memory sample for `Stats` (Nomad's `DeviceStats` summary: used of total, MiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryStat {
    /// The GPU's UUID.
    pub id: String,
    /// Its model (the device group's name).
    pub name: String,
    /// MiB in use.
    pub used_mib: u64,
    /// MiB in all.
    pub total_mib: u64,
}

/// Per-GPU memory in use, from the driver.
///
/// # Errors
/// The driver cannot be asked.
pub fn memory_stats(nv: &dyn NvTransport) -> nvgpu::Result<Vec<MemoryStat>> {
    let d = Driver::open(nv)?;
    Ok(d.gpus()?
        .into_iter()
        .map(|g| MemoryStat {
            id: g.uuid,
            name: g.name,
            used_mib: g.memory_total_mib.saturating_sub(g.memory_free_mib),
            total_mib: g.memory_total_mib,
        })
        .collect())
}

/// Why a GPU seen before and missing now is unhealthy.
pub const GONE: &str =
    "no longer reported by the NVIDIA driver (removed, or fallen off the bus); see dmesg";

/// Device health across fingerprints: a GPU once seen stays in the fingerprint, marked unhealthy,
/// when the driver stops reporting it or stops answering, so Nomad stops placing work on it
/// (instead of the device silently disappearing from the node). A GPU that comes back is healthy
/// again.
#[derive(Debug, Default, Clone)]
pub struct Health {
    /// Every GPU seen, in the order first seen, with its group's name and attributes.
    known: Vec<(String, BTreeMap<String, Attribute>, Device)>,
}

impl Health {
    /// A tracker that has seen nothing.
    pub fn new() -> Health {
        Health::default()
    }

    /// The groups to report for this fingerprint: `now` as read (or the driver's error), with
    /// every GPU seen before and not reported now added as unhealthy.
    pub fn update(&mut self, now: Result<Vec<DeviceGroup>, String>) -> Vec<DeviceGroup> {
        let (mut out, why) = match now {
            Ok(groups) => (groups, GONE.to_string()),
            Err(e) => (Vec::new(), format!("the NVIDIA driver did not answer: {e}")),
        };
        for g in &out {
            for d in &g.devices {
                match self.known.iter_mut().find(|(_, _, k)| k.id == d.id) {
                    Some(k) => *k = (g.name.clone(), g.attributes.clone(), d.clone()),
                    None => self
                        .known
                        .push((g.name.clone(), g.attributes.clone(), d.clone())),
                }
            }
        }
        for (name, attributes, d) in &self.known {
            if out.iter().flat_map(|g| &g.devices).any(|x| x.id == d.id) {
                continue;
            }
            let mut d = d.clone();
            d.healthy = false;
            d.health_desc.clone_from(&why);
            match out.iter_mut().find(|g| &g.name == name) {
                Some(g) => g.devices.push(d),
                None => out.push(DeviceGroup {
                    vendor: VENDOR,
                    device_type: DEVICE_TYPE,
                    name: name.clone(),
                    devices: vec![d],
                    attributes: attributes.clone(),
                }),
            }
        }
        out
    }
}

/// `groups` without the GPUs whose UUID is in `ignored` (and without groups left empty).
pub fn without_ignored(
    groups: Vec<DeviceGroup>,
    ignored: &std::collections::BTreeSet<String>,
) -> Vec<DeviceGroup> {
    groups
        .into_iter()
        .filter_map(|mut g| {
            g.devices.retain(|d| !ignored.contains(&d.id));
            (!g.devices.is_empty()).then_some(g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_reserve_and_stats_on_the_simulated_driver() {
        let h = hostsim::SimHost::freebsd14_with_gpus(2);
        let groups = fingerprint(&h).unwrap();
        assert_eq!(groups.len(), 1, "two GPUs of one model are one group");
        let g = &groups[0];
        assert_eq!((g.vendor, g.device_type), ("nvidia", "gpu"));
        assert_eq!(g.devices.len(), 2);
        assert!(g
            .devices
            .iter()
            .all(|d| d.id.starts_with("GPU-") && d.healthy));
        assert!(matches!(g.attributes["memory"], Attribute::Int(m, "MiB") if m > 0));
        let second = g.devices[1].id.clone();
        let r = reserve(&groups, std::slice::from_ref(&second)).unwrap();
        assert_eq!(r.envs["NVIDIA_VISIBLE_DEVICES"], second);
        let paths: Vec<&str> = r.devices.iter().map(|d| d.host_path.as_str()).collect();
        assert_eq!(
            paths,
            ["/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia1"]
        );
        assert!(reserve(&groups, &["GPU-nope".into()])
            .unwrap_err()
            .contains("GPU-nope"));
        assert!(reserve(&groups, &[]).is_err());
        let s = memory_stats(&h).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s
            .iter()
            .all(|m| m.used_mib <= m.total_mib && m.total_mib > 0));
    }

    #[test]
    fn a_gpu_that_disappears_or_a_driver_that_fails_is_unhealthy_not_gone() {
        let h = hostsim::SimHost::freebsd14_with_gpus(2);
        let mut health = Health::new();
        let first = health.update(fingerprint(&h).map_err(|e| e.to_string()));
        assert!(first[0].devices.iter().all(|d| d.healthy));
        let gone = first[0].devices[1].id.clone();
        h.with_state(|s| {
            s.remove_last_gpu();
        });
        let second = health.update(fingerprint(&h).map_err(|e| e.to_string()));
        assert_eq!(
            second[0].devices.len(),
            2,
            "the vanished GPU is still listed"
        );
        let d = second[0].devices.iter().find(|d| d.id == gone).unwrap();
        assert!(!d.healthy && d.health_desc == GONE);
        assert!(
            reserve(&second, std::slice::from_ref(&gone)).is_ok(),
            "reserve itself does not judge health"
        );
        let third = health.update(Err("EIO".into()));
        assert!(third[0]
            .devices
            .iter()
            .all(|d| !d.healthy && d.health_desc.contains("EIO")));
        // Back: healthy again.
        let fourth = health.update(
            fingerprint(&hostsim::SimHost::freebsd14_with_gpus(2)).map_err(|e| e.to_string()),
        );
        assert!(fourth[0].devices.iter().all(|d| d.healthy));
        let kept = without_ignored(fourth, &[gone].into_iter().collect());
        assert_eq!(kept[0].devices.len(), 1);
    }

    #[test]
    fn no_driver_is_an_error_not_an_empty_fingerprint() {
        let h = hostsim::SimHost::empty();
        assert!(fingerprint(&h).is_err());
    }
}
