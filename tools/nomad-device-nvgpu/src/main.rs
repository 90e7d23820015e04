//! `nomad-device-nvgpu`: Nomad's device plugin for NVIDIA GPUs read from the kernel driver
//! (no NVML), for FreeBSD GPU hosts. Nomad launches it; run by hand it says so and exits 1.
//!
//! `NOMAD_NVGPU_SIM_STATE=FILE` reads the GPUs of a simulated host saved in FILE (the format of
//! `cudajail --sim-state`) instead of the driver, re-read at every question: for tests and
//! demonstrations without a GPU.

use nomad::service::{device_routes, FromTransport};
use std::process::ExitCode;

/// The largest simulated host file read.
const SIM_STATE_LIMIT: u64 = 256 << 20;

fn load_sim(path: &std::path::Path) -> Result<hostsim::SimHost, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SIM_STATE_LIMIT + 1).read_to_end(&mut buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if buf.len() as u64 > SIM_STATE_LIMIT {
        return Err(format!(
            "{}: larger than {SIM_STATE_LIMIT} bytes",
            path.display()
        ));
    }
    let state: hostsim::State =
        serde_json::from_slice(&buf).map_err(|e| format!("{}: {e}", path.display()))?;
    let h = hostsim::SimHost::empty();
    h.with_state(|s| *s = state);
    Ok(h)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("nomad-device-nvgpu {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    nomad::server::run("nomad-device-nvgpu", || {
        match std::env::var_os("NOMAD_NVGPU_SIM_STATE").filter(|p| !p.is_empty()) {
            Some(p) => {
                let p = std::path::PathBuf::from(p);
                nomad::server::log(
                    "warn",
                    &format!(
                        "simulated GPUs from {} (NOMAD_NVGPU_SIM_STATE), not the driver",
                        p.display()
                    ),
                );
                device_routes(FromTransport(move || load_sim(&p)))
            }
            None => device_routes(FromTransport(|| {
                Ok::<_, std::convert::Infallible>(nvgpu::NativeTransport::new())
            })),
        }
    })
}
