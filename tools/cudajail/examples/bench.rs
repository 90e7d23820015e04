//! Benchmarks that print numbers and ratios (nothing here is asserted):
//! `cargo run --release -p cudajail --example bench`
//! - `plan` latency for the default spec;
//! - `up` + `destroy` on the simulated host (the engine's own cost, no kernel);
//! - the size of the cudajail binaries that exist under target/ (host and FreeBSD).

use std::time::Instant;

fn main() {
    let v = cudajail::spec::Spec::default()
        .validate(None)
        .expect("default spec");
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(cudajail::plan::build(&v, &[], false).expect("plan"));
    }
    let plan = t.elapsed() / n;
    let m = 50;
    let t = Instant::now();
    for _ in 0..m {
        let h = hostsim::SimHost::freebsd14_cuda_ready(1);
        let env = cudajail::engine::sim_env(&h);
        let p = cudajail::engine::plan(&env, &v).expect("plan");
        cudajail::engine::up(&env, &v, &p).expect("up");
        cudajail::engine::destroy(&env, &v, &p, false).expect("destroy");
    }
    let cycle = t.elapsed() / m;
    println!("plan (default spec):                 {plan:?}");
    println!("up + destroy on the simulated host:  {cycle:?}");
    println!(
        "ratio up+destroy / plan:             {:.0}x",
        cycle.as_secs_f64() / plan.as_secs_f64().max(1e-12)
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    for p in [
        "release/cudajail",
        "debug/cudajail",
        "x86_64-unknown-freebsd/debug/cudajail",
        "x86_64-unknown-freebsd/release/cudajail",
    ] {
        if let Ok(meta) = std::fs::metadata(root.join(p)) {
            println!(
                "binary {p}: {:.1} MiB",
                meta.len() as f64 / (1024.0 * 1024.0)
            );
        }
    }
}
