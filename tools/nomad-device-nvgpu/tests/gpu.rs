//! GPU tier: the plugin binary, launched as Nomad launches it, fingerprints the GPUs of this
//! machine (FreeBSD or Linux, through the kernel driver, no NVML); printed next to nvidia-smi
//! and compared with it (UUID, PCI bus id, model, memory). Needs an NVIDIA GPU:
//! `cargo test -p nomad-device-nvgpu --test gpu -- --ignored --nocapture` (root on FreeBSD).

use nomad::proto::hashicorp::nomad::plugins::{device as pb, shared::structs::attribute::Value};
use std::process::{Command, Stdio};
use tokio_stream::StreamExt;

/// The plugin binary: cargo's, or `NOMAD_NVGPU_BIN` (a copy on another machine, as
/// `cargo xtask gpu-kit` carries it).
fn bin() -> String {
    std::env::var("NOMAD_NVGPU_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_nomad-device-nvgpu").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "gpu: needs an NVIDIA GPU and its driver"]
async fn the_plugins_fingerprint_is_what_nvidia_smi_reports() {
    let smi = Command::new("nvidia-smi")
        .args([
            "--query-gpu=uuid,pci.bus_id,name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .expect("nvidia-smi");
    let smi = String::from_utf8_lossy(&smi.stdout).into_owned();
    let dir = std::env::temp_dir().join(format!("nomad-device-gpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = nomad::loader::launch(Command::new(bin()).stderr(Stdio::inherit()), &dir).unwrap();
    let ch = nomad::loader::connect(&p.socket).await.unwrap();
    let mut d = pb::device_plugin_client::DevicePluginClient::new(ch);
    let t = std::time::Instant::now();
    let got = d
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    let took = t.elapsed();
    println!("nvidia-smi:\n{smi}");
    println!("nomad-device-nvgpu Fingerprint ({took:?}):");
    let mut rows = Vec::new();
    for g in &got.device_group {
        let mem = match g.attributes.get("memory").and_then(|a| a.value.clone()) {
            Some(Value::IntVal(m)) => m,
            other => panic!("memory attribute {other:?}"),
        };
        for dev in &g.devices {
            let bus = dev.hw_locality.clone().unwrap_or_default().pci_bus_id;
            println!(
                "  {}/{}/{}  {}  {}  memory {} MiB  healthy {}",
                g.vendor, g.device_type, g.device_name, dev.id, bus, mem, dev.healthy
            );
            rows.push((
                dev.id.clone(),
                bus.to_uppercase(),
                g.device_name.clone(),
                mem,
            ));
        }
    }
    let want: Vec<(String, String, String, i64)> = smi
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                f[0].to_string(),
                f[1].to_uppercase(),
                f[2].to_string(),
                f[3].parse().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(rows.len(), want.len(), "GPU count");
    for (g, w) in rows.iter().zip(&want) {
        assert_eq!(
            (&g.0, &g.1, &g.2),
            (&w.0, &w.1, &w.2),
            "uuid, bus id, model"
        );
        // nvgpu's total memory equals nvidia-smi's memory.total (nvgpu's own GPU test).
        assert_eq!(g.3, w.3, "memory MiB of {}", g.0);
    }
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}
