//! GPU tier: compares every field `nvgpu` reads with `nvidia-smi`. Needs an NVIDIA GPU, so it
//! is ignored by default; `cargo xtask ci` runs it with `--ignored` where `/dev/nvidiactl` exists.
#![cfg(any(target_os = "linux", target_os = "freebsd"))]

use nvgpu::{Driver, NativeTransport};

#[test]
#[ignore = "needs NVIDIA GPU"]
fn matches_nvidia_smi() {
    assert!(
        std::path::Path::new("/dev/nvidiactl").exists(),
        "no /dev/nvidiactl: run this on a host with an NVIDIA GPU"
    );
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,uuid,memory.total,driver_version,pci.bus_id",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .expect("nvidia-smi");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let d = Driver::open(NativeTransport::new()).expect("open driver");
    let gpus = d.gpus().expect("gpus");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect();
    assert_eq!(
        gpus.len(),
        rows.len(),
        "GPU count: nvgpu {gpus:?} vs nvidia-smi {text}"
    );
    for row in rows {
        let g = gpus
            .iter()
            .find(|g| g.uuid == row[1])
            .unwrap_or_else(|| panic!("{} not found by nvgpu: {gpus:?}", row[1]));
        assert_eq!(g.name, row[0]);
        assert_eq!(
            g.memory_total_mib.to_string(),
            row[2],
            "memory.total of {}",
            g.uuid
        );
        assert_eq!(d.version(), row[3]);
        assert_eq!(g.pci_bus_id, row[4]);
        println!(
            "match: {} {} {} MiB {} {}",
            g.name,
            g.uuid,
            g.memory_total_mib,
            d.version(),
            g.pci_bus_id
        );
    }
}

#[test]
#[ignore = "needs NVIDIA GPU"]
fn a_missing_node_is_a_clear_error() {
    let t = NativeTransport::new();
    let e = nvgpu::NvTransport::open(&t, nvgpu::NvDevice::Gpu(250)).unwrap_err();
    assert_eq!(e.kind(), nvgpu::ErrorKind::NotFound);
    assert!(e.to_string().contains("/dev/nvidia250"), "{e}");
}

/// The fast path (#19) gives the driver's answer without opening it: equal to
/// `Driver::summary` field for field, and to `nvidia-smi -L` (name and UUID, in order).
#[test]
#[ignore = "needs NVIDIA GPU"]
fn the_fast_path_equals_the_driver_and_nvidia_smi() {
    let fast = match nvgpu::fast::read_host() {
        Err(e) if e.kind() == nvgpu::ErrorKind::NotFound => {
            // gVisor's GPU proxy, for one, passes the device files through but not procfs.
            println!("SKIP: no driver text interface on this machine ({e})");
            return;
        }
        Err(e) => panic!("the fast path failed: {e}"),
        Ok(nvgpu::fast::Coverage::Full(s)) => s,
        Ok(nvgpu::fast::Coverage::Partial(why)) => {
            panic!("the fast path does not cover this host: {why}")
        }
    };
    let d = Driver::open(NativeTransport::new()).expect("open driver");
    let slow = d.summary().expect("summary");
    print!("fast path:\n{}", fast.lines());
    assert_eq!(fast, slow, "fast path vs driver");
    let out = std::process::Command::new("nvidia-smi")
        .arg("-L")
        .output()
        .expect("nvidia-smi -L");
    let text = String::from_utf8(out.stdout).unwrap();
    let smi: Vec<&str> = text.lines().filter(|l| l.starts_with("GPU ")).collect();
    assert_eq!(smi.len(), fast.gpus.len(), "{text}");
    for (line, g) in smi.iter().zip(&fast.gpus) {
        assert!(
            line.contains(&format!(": {} (UUID: {})", g.name, g.uuid)),
            "{line} vs {g:?}"
        );
    }
    println!(
        "match: fast path = driver = nvidia-smi -L for {} GPU(s)",
        smi.len()
    );
}
