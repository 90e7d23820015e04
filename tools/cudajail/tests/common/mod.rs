//! Shared by the gpu-tier tests: the CUDA check's report against `nvidia-smi`.
#![allow(dead_code)]

use cudajail::shim::{cuda_pci, ProbeReport};
use std::process::Command;

/// Every GPU `nvidia-smi` lists is in the report with its name, PCI address and (within 2 %)
/// memory, and got a context; prints a `match:` line per GPU.
pub fn assert_agrees_with_nvidia_smi(r: &ProbeReport) {
    let smi = Command::new("nvidia-smi")
        .args([
            "--query-gpu=uuid,name,pci.bus_id,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .unwrap();
    let smi = String::from_utf8(smi.stdout).unwrap();
    let rows: Vec<Vec<String>> = smi
        .lines()
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect();
    assert_eq!(r.gpus.len(), rows.len(), "{smi}");
    for row in &rows {
        let g = r
            .gpus
            .iter()
            .find(|g| g.uuid.eq_ignore_ascii_case(&row[0]))
            .unwrap_or_else(|| panic!("CUDA does not list {}", row[0]));
        assert_eq!(g.name, row[1]);
        assert_eq!(g.pci, cuda_pci(&row[2]));
        let smi_mib: u64 = row[3].parse().unwrap();
        // CUDA reports the memory it can hand out, nvidia-smi the whole framebuffer: on an H200
        // (580.159.04) 143155 vs 143771 MiB. Allow up to 2 %.
        assert!(
            g.mem_mib <= smi_mib && g.mem_mib * 100 >= smi_mib * 98,
            "CUDA {} MiB vs nvidia-smi {smi_mib} MiB",
            g.mem_mib
        );
        assert!(g.ctx_ok);
        println!(
            "match: {} {} {} {} MiB (nvidia-smi {smi_mib} MiB) CUDA {} ctx ok",
            g.name,
            g.uuid,
            g.pci,
            g.mem_mib,
            r.cuda_version()
        );
    }
}
