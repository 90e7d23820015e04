//! `nomad-driver-cudajail`: Nomad's task driver for CUDA jails (see the library's docs). Nomad
//! launches it; `nomad-driver-cudajail supervise …` is its per-task supervisor.
//!
//! `NOMAD_CUDAJAIL_SIM_STATE=FILE` works on a simulated FreeBSD host saved in FILE (the format of
//! `cudajail --sim-state`) instead of this host: the jails are simulated, the tasks' programs run
//! here as real processes. For tests and demonstrations.

use cudajail_driver::backend::Backend;
use cudajail_driver::service::CudajailDriver;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("supervise") {
        return ExitCode::from(
            u8::try_from(cudajail_driver::supervise::main(&args[1..])).unwrap_or(1),
        );
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("nomad-driver-cudajail {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    nomad::server::set_log_module("nomad-driver-cudajail");
    let cookie = std::env::var(nomad::handshake::MAGIC_COOKIE_KEY).ok();
    let versions = std::env::var(nomad::handshake::PROTOCOL_VERSIONS_KEY).ok();
    if let Err(msg) = nomad::handshake::check_launch(cookie.as_deref(), versions.as_deref()) {
        eprint!("{msg}");
        return ExitCode::FAILURE;
    }
    let backend = match std::env::var_os("NOMAD_CUDAJAIL_SIM_STATE").filter(|p| !p.is_empty()) {
        Some(p) => {
            nomad::server::log(
                "warn",
                &format!(
                    "simulated FreeBSD host from {} (NOMAD_CUDAJAIL_SIM_STATE): jails are simulated, task programs run on this machine",
                    std::path::Path::new(&p).display()
                ),
            );
            Backend::sim(p.into())
        }
        None => Backend::native(),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            nomad::server::log(
                "error",
                &format!("cannot find this binary for the supervisors: {e}"),
            );
            return ExitCode::FAILURE;
        }
    };
    let routes = CudajailDriver::new(backend, exe).routes();
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
