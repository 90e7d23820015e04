//! `nvgpu`: what the NVIDIA kernel driver has, without NVML.
//!
//! - `nvgpu list [--json]`: like `nvidia-smi -L`, plus memory and PCI.
//! - `nvgpu list --brief [--fast] [--json]`: minor, name, UUID and PCI only; `--fast` reads
//!   them from `/proc/driver/nvidia` (Linux) or `hw.nvidia.gpus` (FreeBSD) without opening the
//!   driver (`nvgpu::fast`), the same output where they hold all of it.
//! - `nvgpu version`: the kernel driver's version.
//! - `nvgpu bench [--iters N]`: times `gpus()` against `nvidia-smi --query-gpu=…` and prints the ratio.
//! - `nvgpu bench --breakdown [--iters N]`: where `nvgpu list` goes — process start (`true`),
//!   each driver call (median per list) and the whole process — and `list` against its floor
//!   (process start plus the driver's calls, none of ours).
//!
//! Exit codes: 0 success, 1 failure, 2 usage.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nvgpu",
    version,
    about = "NVIDIA GPUs from the kernel driver, without NVML",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List GPUs (name, UUID, PCI, memory).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Only minor, name, UUID and PCI address (`nvidia-smi -L`'s shape plus the PCI
        /// address), without memory.
        #[arg(long)]
        brief: bool,
        /// With --brief: read the driver's text interfaces (Linux `/proc/driver/nvidia`,
        /// FreeBSD `hw.nvidia.gpus`) instead of opening it; falls back to the driver (saying
        /// so on stderr) where they leave something out.
        #[arg(long, requires = "brief")]
        fast: bool,
    },
    /// Print the kernel driver version.
    Version,
    /// Time gpus() against nvidia-smi, or (--breakdown) where `nvgpu list` goes.
    Bench {
        /// Iterations of each.
        #[arg(long, default_value_t = 20)]
        iters: u32,
        /// Break `nvgpu list` down: process start, each driver call, the whole process, and
        /// the ratio to the floor.
        #[arg(long)]
        breakdown: bool,
    },
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn driver() -> anyhow::Result<nvgpu_lib::Driver<nvgpu_lib::NativeTransport>> {
    nvgpu_lib::Driver::open(nvgpu_lib::NativeTransport::new())
        .context("opening the NVIDIA driver (is nvidia.ko loaded and /dev/nvidiactl present?)")
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn driver() -> anyhow::Result<nvgpu_lib::Driver<NoDriver>> {
    anyhow::bail!("nvgpu talks to the NVIDIA driver on Linux and FreeBSD only")
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
struct NoDriver;
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
impl nvgpu_lib::NvTransport for NoDriver {
    fn open(&self, _: nvgpu_lib::NvDevice) -> nvgpu_lib::Result<()> {
        unreachable!()
    }
    fn escape(&self, _: nvgpu_lib::NvDevice, _: u8, _: &mut [u8]) -> nvgpu_lib::Result<()> {
        unreachable!()
    }
    fn rm_alloc(
        &self,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: &mut [u8],
    ) -> nvgpu_lib::Result<(u32, nvgpu_lib::codec::NvStatus)> {
        unreachable!()
    }
    fn rm_control(
        &self,
        _: u32,
        _: u32,
        _: u32,
        _: &mut [u8],
    ) -> nvgpu_lib::Result<nvgpu_lib::codec::NvStatus> {
        unreachable!()
    }
    fn rm_free(&self, _: u32, _: u32, _: u32) -> nvgpu_lib::Result<nvgpu_lib::codec::NvStatus> {
        unreachable!()
    }
}

/// The brief answer: from the driver's text interfaces when `fast` and they hold all of it,
/// else from the driver.
fn summary(fast: bool) -> anyhow::Result<nvgpu_lib::fast::Summary> {
    if fast {
        match nvgpu_lib::fast::read_host() {
            Ok(nvgpu_lib::fast::Coverage::Full(s)) => return Ok(s),
            Ok(nvgpu_lib::fast::Coverage::Partial(why)) => {
                eprintln!(
                    "nvgpu: the fast path does not cover this host ({why}); asking the driver"
                )
            }
            // No text interface (no driver, or a sandbox that hides /proc/driver): the
            // driver is asked, and its error is the one that tells.
            Err(e) => eprintln!("nvgpu: the fast path failed ({e}); asking the driver"),
        }
    }
    Ok(driver()?.summary()?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Version => {
            #[cfg(target_os = "freebsd")]
            match nvgpu_lib::sysctl_version() {
                Ok(v) => println!("hw.nvidia.version: {v}"),
                Err(e) => eprintln!("nvgpu: {e}"),
            }
            println!("{}", driver()?.version());
        }
        Cmd::List {
            json,
            brief: true,
            fast,
        } => {
            let s = summary(fast)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", s.lines());
            }
        }
        Cmd::List { json, .. } => {
            let d = driver()?;
            let gpus = d.gpus()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "driver_version": d.version(), "gpus": gpus })
                    )?
                );
            } else {
                for g in &gpus {
                    println!(
                        "GPU {}: {} (UUID: {}) pci {} [{:04x}:{:04x}] memory {} MiB total, {} MiB free",
                        g.minor, g.name, g.uuid, g.pci_bus_id, g.vendor_id, g.device_id, g.memory_total_mib, g.memory_free_mib
                    );
                }
            }
        }
        Cmd::Bench {
            iters,
            breakdown: true,
        } => breakdown(iters)?,
        Cmd::Bench { iters, .. } => {
            let iters = iters.max(1);
            let t = std::time::Instant::now();
            let mut n = 0;
            for _ in 0..iters {
                let d = driver()?;
                n = d.gpus()?.len();
            }
            let cold = t.elapsed() / iters;
            let d = driver()?;
            d.gpus()?;
            let t = std::time::Instant::now();
            for _ in 0..iters {
                n = d.gpus()?.len();
            }
            let ours = t.elapsed() / iters;
            let t = std::time::Instant::now();
            for _ in 0..iters {
                let out = std::process::Command::new("nvidia-smi")
                    .args([
                        "--query-gpu=name,uuid,memory.total,driver_version,pci.bus_id",
                        "--format=csv,noheader",
                    ])
                    .output()
                    .context("running nvidia-smi")?;
                anyhow::ensure!(out.status.success(), "nvidia-smi failed");
            }
            let smi = t.elapsed() / iters;
            let t = std::time::Instant::now();
            for _ in 0..iters {
                let out = std::process::Command::new("nvidia-smi")
                    .arg("-L")
                    .output()
                    .context("running nvidia-smi -L")?;
                anyhow::ensure!(out.status.success(), "nvidia-smi -L failed");
            }
            let smi_l = t.elapsed() / iters;
            let ratio = |a: std::time::Duration, b: std::time::Duration| {
                a.as_secs_f64() / b.as_secs_f64().max(1e-9)
            };
            println!("nvgpu gpus() on an open driver ({n} GPUs): {ours:?} per call");
            println!("nvgpu open + version + gpus():           {cold:?} per call");
            println!("nvidia-smi --query-gpu=...:              {smi:?} per call");
            println!("nvidia-smi -L:                           {smi_l:?} per call");
            println!(
                "ratio gpus() vs nvidia-smi -L:           {:.1}x",
                ratio(smi_l, ours)
            );
            println!(
                "ratio gpus() vs nvidia-smi --query-gpu:  {:.1}x",
                ratio(smi, ours)
            );
            println!(
                "ratio open+gpus() vs nvidia-smi -L:      {:.1}x",
                ratio(smi_l, cold)
            );
        }
    }
    Ok(())
}

/// The median wall time of running `cmd` `iters` times (output discarded).
fn median_run(cmd: &mut std::process::Command, iters: u32) -> anyhow::Result<std::time::Duration> {
    let mut v = Vec::new();
    for _ in 0..iters {
        let t = std::time::Instant::now();
        let st = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {cmd:?}"))?;
        v.push(t.elapsed());
        anyhow::ensure!(st.success(), "{cmd:?} failed");
    }
    v.sort();
    Ok(v[v.len() / 2])
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn breakdown(iters: u32) -> anyhow::Result<()> {
    let iters = iters.max(3);
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
    let (phases, inproc) = nvgpu_lib::list_breakdown(nvgpu_lib::NativeTransport::new, iters)
        .context("opening the NVIDIA driver (is nvidia.ko loaded and /dev/nvidiactl present?)")?;
    let exe = std::env::current_exe().context("this program's path")?;
    let start = median_run(&mut std::process::Command::new("true"), iters)?;
    let list = median_run(std::process::Command::new(&exe).arg("list"), iters)?;
    // One table row: step, calls, median in µs.
    let row = |name: &str, calls: &dyn std::fmt::Display, d: std::time::Duration| {
        println!("{:<34} {:>6} {:>12.1}", name, calls.to_string(), us(d));
    };
    println!("`nvgpu list` broken down ({iters} runs each, medians):");
    println!("{:<34} {:>6} {:>12}", "step", "calls", "µs");
    row("process start (`true`)", &1, start);
    let mut driver = std::time::Duration::ZERO;
    for p in &phases {
        row(&p.name, &p.calls, p.median);
        driver += p.median;
    }
    row("driver calls, summed", &"", driver);
    row("open + gpus() + teardown, in process", &"", inproc);
    row("`nvgpu list`, whole process", &"", list);
    let floor = start + driver;
    println!(
        "floor (process start + these driver calls): {:.1} µs; `nvgpu list` is {:.2}x of it",
        us(floor),
        list.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
    println!(
        "(a cheaper sequence for the same answer is the floor's open question: one version \
         escape instead of two, no FB_GET_INFO_V2 size probe)"
    );
    // The fast path (#19): the brief answer without opening the driver, next to the same
    // answer from the driver; the outputs must be equal for the ratio to mean anything.
    let brief = |fast: bool| {
        let mut c = std::process::Command::new(&exe);
        c.args(["list", "--brief"]);
        if fast {
            c.arg("--fast");
        }
        c
    };
    let out_driver = brief(false).output().context("nvgpu list --brief")?;
    let out_fast = brief(true).output().context("nvgpu list --brief --fast")?;
    let same = out_driver.status.success() && out_driver.stdout == out_fast.stdout;
    let t_driver = median_run(&mut brief(false), iters)?;
    let t_fast = median_run(&mut brief(true), iters)?;
    row("`nvgpu list --brief` (driver)", &"", t_driver);
    row("`nvgpu list --brief --fast`", &"", t_fast);
    println!(
        "fast path: {:.2}x faster; outputs {}{}",
        t_driver.as_secs_f64() / t_fast.as_secs_f64().max(1e-9),
        if same { "equal" } else { "DIFFER" },
        String::from_utf8_lossy(&out_fast.stderr)
            .lines()
            .next()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default()
    );
    anyhow::ensure!(
        same,
        "the fast path's output differs from the driver's:\n{}\nvs\n{}",
        String::from_utf8_lossy(&out_fast.stdout),
        String::from_utf8_lossy(&out_driver.stdout)
    );
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn breakdown(_iters: u32) -> anyhow::Result<()> {
    anyhow::bail!("nvgpu talks to the NVIDIA driver on Linux and FreeBSD only")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nvgpu: {e:#}");
            ExitCode::from(1)
        }
    }
}
