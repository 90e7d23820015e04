//! `cargo xtask ci` as a table: every tier is a [`Tier`] (name, what it needs, the function that
//! runs it), [`TIERS`] lists them in the order they run, and one runner ([`run_ci`]) runs them
//! all, prints one row per tier and fails when any step failed. A tier whose prerequisite is
//! missing reports `skipped` with the reason; it never passes silently.

use crate::ci::{self, cargo_test_group, run_step, Counts, Ctx};
use crate::setup::{self, Setup};
use std::path::Path;
use std::time::Instant;

/// How a tier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It ran (and passed, unless `failures` say otherwise).
    Ran,
    /// A prerequisite is missing; the detail says which.
    Skipped,
    /// A step failed.
    Failed,
}

/// What a tier reports.
#[derive(Debug)]
pub struct Outcome {
    /// Ran, skipped or failed.
    pub status: Status,
    /// The table's detail column.
    pub detail: String,
    /// Its tests.
    pub counts: Counts,
    /// The steps that failed (they fail the run).
    pub failures: Vec<String>,
}

impl Outcome {
    fn new(status: Status, detail: impl Into<String>) -> Outcome {
        Outcome {
            status,
            detail: detail.into(),
            counts: Counts::default(),
            failures: Vec::new(),
        }
    }

    /// Ran, or failed with `failures` (the status follows them).
    fn of(detail: impl Into<String>, failures: Vec<String>, counts: Counts) -> Outcome {
        Outcome {
            status: if failures.is_empty() {
                Status::Ran
            } else {
                Status::Failed
            },
            detail: detail.into(),
            counts,
            failures,
        }
    }
}

/// One tier of CI.
pub struct Tier {
    /// Its name in the table.
    pub name: &'static str,
    /// What it needs (installed by `cargo xtask setup` where the registries allow).
    pub needs: &'static str,
    /// Runs it.
    pub run: fn(&Ctx, &Setup) -> Outcome,
}

/// Every tier, in the order they run and are shown.
pub const TIERS: &[Tier] = &[
    Tier {
        name: "lint",
        needs: "the toolchain (rustfmt, clippy, rustdoc)",
        run: lint,
    },
    Tier {
        name: "abi",
        needs: "zig (PyPI) for the FreeBSD and Linux headers",
        run: abi,
    },
    Tier {
        name: "pure",
        needs: "any OS",
        run: pure,
    },
    Tier {
        name: "sim",
        needs: "any OS",
        run: sim,
    },
    Tier {
        name: "cross",
        needs: "the x86_64-unknown-freebsd target and cargo-zigbuild",
        run: cross,
    },
    Tier {
        name: "real-linux",
        needs: "Linux as root; OpenZFS and a kernel from bookworm-backports and qemu for the VM",
        run: real_linux,
    },
    Tier {
        name: "publish",
        needs: "the registry's index",
        run: publish,
    },
    Tier {
        name: "freebsd-root",
        needs: "a FreeBSD host, as root",
        run: freebsd_root,
    },
    Tier {
        name: "gpu",
        needs: "an NVIDIA GPU and its driver (/dev/nvidiactl)",
        run: gpu,
    },
];

fn step(r: Result<(), String>, failures: &mut Vec<String>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            println!("   FAILED: {e}");
            failures.push(e);
            false
        }
    }
}

/// `cargo clippy` and `cargo doc` over the workspace with warnings as errors, for the host or
/// for `target`; each failure goes onto `f`.
fn clippy_and_doc(ctx: &Ctx, target: Option<&str>, f: &mut Vec<String>) {
    let target_args: Vec<&str> = target.map_or(vec![], |t| vec!["--target", t]);
    let (clippy_label, doc_label) = match target {
        None => (
            "cargo clippy (host)".to_string(),
            "cargo doc (host, -D warnings)".to_string(),
        ),
        Some(t) => (
            format!("cargo clippy --target {t}"),
            format!("cargo doc --target {t} (-D warnings)"),
        ),
    };
    step(
        run_step(
            &clippy_label,
            ctx.cargo()
                .args(["clippy", "--workspace", "--all-targets", "--all-features"])
                .args(&target_args)
                .args(["--", "-D", "warnings"]),
        ),
        f,
    );
    step(
        run_step(
            &doc_label,
            ctx.cargo()
                .args(["doc", "--workspace", "--no-deps", "--all-features"])
                .args(&target_args)
                .env("RUSTDOCFLAGS", "-D warnings"),
        ),
        f,
    );
}

fn lint(ctx: &Ctx, _: &Setup) -> Outcome {
    let mut f = Vec::new();
    step(
        run_step(
            "cargo fmt --check",
            ctx.cargo().args(["fmt", "--all", "--check"]),
        ),
        &mut f,
    );
    let word = concat!("un", "safe");
    println!("== {word} only in sys/ modules");
    let bad = ci::unsafe_outside_sys(&ctx.root);
    for b in &bad {
        println!("   {b}");
    }
    if !bad.is_empty() {
        step(
            Err(format!(
                "the word {word} appears outside sys/ ({} places)",
                bad.len()
            )),
            &mut f,
        );
    }
    clippy_and_doc(ctx, None, &mut f);
    Outcome::of(
        format!("fmt, clippy and doc (-D warnings); {word} only in sys/ modules"),
        f,
        Counts::default(),
    )
}

fn abi(ctx: &Ctx, s: &Setup) -> Outcome {
    match ci::abi_step(ctx, s) {
        Ok(n) => Outcome::new(
            Status::Ran,
            format!("{n} facts matched (FreeBSD + Linux headers, amd64 + arm64)"),
        ),
        Err(e) => Outcome::of(e.clone(), vec![e], Counts::default()),
    }
}

fn tests(ctx: &Ctx, label: &str, args: &[&str], what: &str) -> Outcome {
    match cargo_test_group(ctx, label, args) {
        Ok(c) if c.passed == 0 => Outcome {
            counts: c,
            ..Outcome::new(Status::Skipped, "no tests ran")
        },
        Ok(c) => Outcome::of(
            format!("{} passed, {} failed{what}", c.passed, c.failed),
            Vec::new(),
            c,
        ),
        Err(e) => Outcome::of(e.clone(), vec![e], Counts::default()),
    }
}

fn pure(ctx: &Ctx, _: &Setup) -> Outcome {
    let mut args = vec!["--workspace", "--all-features"];
    for p in ci::SIM_PACKAGES {
        args.extend(["--exclude", p]);
    }
    tests(ctx, "pure", &args, "")
}

fn sim(ctx: &Ctx, _: &Setup) -> Outcome {
    let mut args = vec!["--all-features"];
    for p in ci::SIM_PACKAGES {
        args.extend(["-p", p]);
    }
    tests(ctx, "sim", &args, " (hostsim and cross-crate scenarios)")
}

fn cross(ctx: &Ctx, s: &Setup) -> Outcome {
    if !s.freebsd_target {
        let why = "rustup target add x86_64-unknown-freebsd failed";
        return Outcome {
            failures: vec!["cross tier could not run".into()],
            ..Outcome::new(Status::Skipped, why)
        };
    }
    let mut f = Vec::new();
    clippy_and_doc(ctx, Some("x86_64-unknown-freebsd"), &mut f);
    let link = if s.zigbuild {
        // Then the port's staging tree from those binaries, checked against pkg-plist.
        ci::cross_link(ctx).and_then(|n| crate::dist::dist(ctx, false).map(|()| n))
    } else {
        Err("cargo-zigbuild is not installed".into())
    };
    let detail = match &link {
        Ok(n) => format!(
            "clippy + doc for x86_64-unknown-freebsd; {n} tools and example programs linked as FreeBSD ELF; `xtask dist` staging tree = pkg-plist"
        ),
        Err(e) => e.clone(),
    };
    step(link.map(|_| ()), &mut f);
    Outcome::of(detail, f, Counts::default())
}

fn real_linux(ctx: &Ctx, s: &Setup) -> Outcome {
    let mut f = Vec::new();
    let zfs = ci::real_zfs(ctx, s);
    let zfs_detail = match &zfs {
        Ok((c, ratio)) => format!(
            "OpenZFS VM: {} passed, {} failed; clone vs copy {ratio}",
            c.passed, c.failed
        ),
        Err(e) if e.starts_with("SKIP: ") => format!("OpenZFS VM skipped: {}", &e[6..]),
        Err(e) => format!("OpenZFS VM FAILED: {e}"),
    };
    let mut counts = zfs.as_ref().map(|(c, _)| *c).unwrap_or_default();
    if let Err(e) = zfs {
        if !e.starts_with("SKIP: ") {
            step(Err(e), &mut f);
        }
    }
    let real = cargo_test_group(
        ctx,
        "real-linux",
        &[
            "-p",
            "cudajail",
            "--test",
            "uvm_shim",
            "--test",
            "debootstrap",
            "--test",
            "cuda_probe",
            "--",
            "--ignored",
            // Shown, so that tests that skip themselves (printing `SKIP:`) are counted.
            "--nocapture",
        ],
    );
    let detail = match &real {
        Ok(c) => format!(
            "uvm shim in a real program + CUDA check (dlopen path) + debootstrap bookworm: {} passed ({} of them SKIPPED inside), {} failed; {zfs_detail}",
            c.passed, c.skipped_inside, c.failed
        ),
        Err(e) => e.clone(),
    };
    if let Ok(c) = &real {
        counts.add(c);
    }
    step(real.map(|_| ()), &mut f);
    Outcome::of(detail, f, counts)
}

fn publish(ctx: &Ctx, _: &Setup) -> Outcome {
    // Every crate packages and verifies as the registry would take it, in dependency order.
    match ci::publish_check(ctx) {
        Ok(n) => Outcome::new(
            Status::Ran,
            format!("cargo publish --dry-run: {n} crates packaged and verified"),
        ),
        Err(e) if e.starts_with("SKIP") => Outcome::new(Status::Skipped, e),
        Err(e) => Outcome::of(e.clone(), vec![e], Counts::default()),
    }
}

fn freebsd_root(ctx: &Ctx, _: &Setup) -> Outcome {
    Outcome::new(
        Status::Skipped,
        format!(
            "{} root tests written (FreeBSD only; compiled by the cross tier); run there as root: `cargo test -- --ignored`",
            ci::count_root_tests(&ctx.root)
        ),
    )
}

fn gpu(ctx: &Ctx, _: &Setup) -> Outcome {
    if !Path::new("/dev/nvidiactl").exists() {
        return Outcome::new(
            Status::Skipped,
            "no /dev/nvidiactl on this machine (last run by hand: docs/gpu-h100-2026-11-27.log, docs/gpu-h200-2026-11-27-nvgpu.log, docs/gpu-h200-2026-11-27-cuda-probe.log)",
        );
    }
    let mut f = Vec::new();
    for (what, pkg, test) in [
        ("nvgpu against nvidia-smi", "nvgpu-rs", "gpu"),
        (
            "the CUDA check against nvidia-smi",
            "cudajail",
            "cuda_probe",
        ),
        (
            "the exported template passing the CUDA check in a chroot (CUDAJAIL_GPU_ROOT, else SKIP)",
            "cudajail",
            "gpu_root",
        ),
        (
            "the Nomad device plugin's fingerprint against nvidia-smi",
            "nomad-device-nvgpu",
            "gpu",
        ),
    ] {
        step(
            run_step(
                &format!("gpu tier: {what}"),
                ctx.cargo().args([
                    "test",
                    "-p",
                    pkg,
                    "--test",
                    test,
                    "--",
                    "--ignored",
                    "--nocapture",
                ]),
            ),
            &mut f,
        );
    }
    // Where `nvgpu list` goes and how far it is from its floor (#19): printed for the log.
    step(
        run_step(
            "gpu tier: nvgpu list broken down against its floor",
            ctx.cargo().args([
                "run",
                "--release",
                "-p",
                "nvgpu-cli",
                "--bin",
                "nvgpu",
                "--",
                "bench",
                "--breakdown",
                "--iters",
                "31",
            ]),
        ),
        &mut f,
    );
    Outcome::of(
        "nvgpu, the CUDA check (cuInit, context, 1 MiB alloc) and the Nomad device plugin's fingerprint compared with nvidia-smi; `nvgpu list` broken down against its floor",
        f,
        Counts::default(),
    )
}

/// The whole CI run: setup, then every tier of [`TIERS`], then the table.
///
/// # Errors
/// Setup failed, or any tier's steps (listed).
pub fn run_ci(ctx: &Ctx) -> Result<(), String> {
    let start = Instant::now();
    let s = setup::setup(ctx)?;
    let mut rows = Vec::new();
    for t in TIERS {
        println!("## tier {} (needs {})", t.name, t.needs);
        rows.push((t.name, (t.run)(ctx, &s)));
    }
    println!();
    println!("{:<13} {:<8} detail", "tier", "status");
    println!("{}", "-".repeat(90));
    for (name, o) in &rows {
        let status = match o.status {
            Status::Ran => "ran",
            Status::Skipped => "skipped",
            Status::Failed => "FAILED",
        };
        println!("{name:<13} {status:<8} {}", o.detail);
    }
    println!("{}", "-".repeat(90));
    println!("total time {:.0?}", start.elapsed());
    let mut total = Counts::default();
    for (_, o) in &rows {
        total.add(&o.counts);
    }
    println!(
        "ci: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.ignored
    );
    let failures: Vec<&String> = rows.iter().flat_map(|(_, o)| &o.failures).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} step(s) failed: {}",
            failures.len(),
            failures
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_once_in_the_documented_order() {
        let names: Vec<&str> = TIERS.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "lint",
                "abi",
                "pure",
                "sim",
                "cross",
                "real-linux",
                "publish",
                "freebsd-root",
                "gpu"
            ]
        );
        assert!(TIERS.iter().all(|t| !t.needs.is_empty()));
    }

    #[test]
    fn a_failed_step_fails_the_tier_and_a_skip_does_not() {
        assert_eq!(
            Outcome::of("x", vec!["boom".into()], Counts::default()).status,
            Status::Failed
        );
        assert_eq!(
            Outcome::of("x", Vec::new(), Counts::default()).status,
            Status::Ran
        );
        let skipped = Outcome::new(Status::Skipped, "why");
        assert!(skipped.failures.is_empty());
    }
}
