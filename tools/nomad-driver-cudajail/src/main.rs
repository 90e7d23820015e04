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
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("nomad-driver-cudajail: cannot find this binary for the supervisors: {e}");
            return ExitCode::FAILURE;
        }
    };
    nomad::server::run("nomad-driver-cudajail", move || {
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
        CudajailDriver::new(backend, exe).routes()
    })
}
