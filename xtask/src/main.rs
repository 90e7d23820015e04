//! `cargo xtask`: the CI driver of the cudajail workspace.
//!
//! | command | does |
//! |---|---|
//! | `cargo xtask ci` | every tier of `tiers::TIERS` this machine can run, and a summary table |
//! | `cargo xtask setup` | only installs the toolchain pieces (idempotent) |
//! | `cargo xtask abi` | only the ABI conformance harness |
//! | `cargo xtask cross` | only the FreeBSD link of every tool |
//! | `cargo xtask bench` | every benchmark in one table (and `target/bench.json`) |
//! | `cargo xtask publish-check` | `cargo publish --dry-run` of every crate, in order |
//! | `cargo xtask port` | regenerates the FreeBSD port's generated files (`packaging/freebsd`) |
//! | `cargo xtask gpu-kit [--fresh-root]` | `.gpu-kit/`: the gpu tier's programs, the exported template and `run.sh`, for one run on a GPU machine without network (`gpukit`) |
//! | `cargo xtask dist [--debug]` | binaries for FreeBSD (release unless `--debug`), the port's staging tree checked against `pkg-plist`, a tarball |

mod abi;
mod bench;
mod ci;
mod dist;
mod gpukit;
mod port;
mod setup;
mod tiers;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ctx = match ci::Ctx::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::from(1);
        }
    };
    let res = match args.first().map(String::as_str) {
        Some("ci") => tiers::run_ci(&ctx),
        Some("setup") => setup::setup(&ctx).map(|_| ()),
        Some("abi") => setup::setup(&ctx).and_then(|s| ci::abi_step(&ctx, &s).map(|_| ())),
        Some("cross") => setup::setup(&ctx).and_then(|_| ci::cross_link(&ctx).map(|_| ())),
        Some("bench") => bench::bench(&ctx),
        Some("publish-check") => ci::publish_check(&ctx).map(|_| ()),
        Some("port") => port::port(&ctx),
        Some("gpu-kit") => gpukit::gpu_kit(&ctx, args.iter().any(|a| a == "--fresh-root")),
        Some("dist") => {
            let release = !args.iter().any(|a| a == "--debug");
            setup::setup(&ctx).and_then(|_| dist::dist(&ctx, release))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|setup|abi|cross|bench|publish-check|port|dist|gpu-kit>"
            );
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(1)
        }
    }
}
