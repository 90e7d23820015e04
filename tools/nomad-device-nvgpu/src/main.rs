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
    nomad::server::set_log_module("nomad-device-nvgpu");
    let cookie = std::env::var(nomad::handshake::MAGIC_COOKIE_KEY).ok();
    let versions = std::env::var(nomad::handshake::PROTOCOL_VERSIONS_KEY).ok();
    if let Err(msg) = nomad::handshake::check_launch(cookie.as_deref(), versions.as_deref()) {
        eprint!("{msg}");
        return ExitCode::FAILURE;
    }
    let routes = match std::env::var_os("NOMAD_NVGPU_SIM_STATE").filter(|p| !p.is_empty()) {
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
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            nomad::server::log("error", &format!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(nomad::server::serve(routes, &mut std::io::stdout()));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            nomad::server::log("error", &format!("plugin server failed: {e}"));
            ExitCode::FAILURE
        }
    }
}
