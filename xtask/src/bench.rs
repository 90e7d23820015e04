//! `cargo xtask bench`: every benchmark of the workspace in one table (what, ours, baseline,
//! ratio, machine), also written to `target/bench.json`. Whole-process timings run the release
//! binaries, interleaved with their baseline, and report the median and the p10–p90 spread;
//! in-process ones come from the examples (warm-up, median of 5). Nothing here is a test: no
//! number makes it fail.

use crate::ci::Ctx;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One line of the table.
struct Row {
    what: String,
    ours: String,
    baseline: String,
    ratio: String,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

/// Runs `a` and `b` `n` times each, interleaved; the median and p10/p90 of each, in seconds.
fn interleaved(a: &mut Command, b: &mut Command, n: usize) -> Result<([f64; 3], [f64; 3]), String> {
    let mut ta = Vec::with_capacity(n);
    let mut tb = Vec::with_capacity(n);
    let time = |c: &mut Command| -> Result<f64, String> {
        let t = Instant::now();
        let st = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{:?}: {e}", c.get_program()))?;
        if !st.success() {
            return Err(format!("{:?} failed: {st}", c.get_program()));
        }
        Ok(t.elapsed().as_secs_f64())
    };
    for _ in 0..n {
        ta.push(time(a)?);
        tb.push(time(b)?);
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        [at(0.5), at(0.1), at(0.9)]
    };
    Ok((stats(ta), stats(tb)))
}

fn ms(s: [f64; 3]) -> String {
    format!("{:.2} ms ({:.2}–{:.2})", s[0] * 1e3, s[1] * 1e3, s[2] * 1e3)
}

/// Runs a benchmark example with `--json` and pairs each line of kind `ours` with the line
/// of kind `base` that has the same `size_key` (the size of the input).
fn paired_runs(
    exe: &Path,
    ours: &str,
    base: &str,
    size_key: &str,
) -> Result<Vec<(serde_json::Value, serde_json::Value)>, String> {
    let out = Command::new(exe)
        .arg("--json")
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let mut runs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        runs.push(v);
    }
    Ok(runs
        .iter()
        .filter(|v| v["kind"] == ours)
        .map(|o| {
            let b = runs
                .iter()
                .find(|v| v["kind"] == base && v[size_key] == o[size_key])
                .cloned()
                .unwrap_or_default();
            (o.clone(), b)
        })
        .collect())
}

/// A number of a benchmark's JSON line (NaN when missing).
fn num(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

/// Runs every benchmark and prints the table.
pub fn bench(ctx: &Ctx) -> Result<(), String> {
    let st = ctx
        .cargo()
        .args([
            "build",
            "--release",
            "-p",
            "cudajail",
            "-p",
            "jail-rs",
            "-p",
            "devfs-rs",
            "--bins",
            "--examples",
        ])
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err("cargo build --release failed".into());
    }
    let rel = ctx.target_dir().join("release");
    let mut rows = Vec::new();

    // plan, whole process, against the cost of starting a process at all.
    let cj = rel.join("cudajail");
    let (plan, floor) = interleaved(Command::new(&cj).arg("plan"), &mut Command::new("true"), 31)?;
    rows.push(Row {
        what: "`cudajail plan`, whole process (target < 10 ms)".into(),
        ours: ms(plan),
        baseline: format!("`true`: {}", ms(floor)),
        ratio: format!("{:.1}x", plan[0] / floor[0].max(1e-9)),
    });

    // jail.conf parse and resolve, in process.
    for (flat, tree) in paired_runs(&rel.join("examples/conf_bench"), "flat", "tree", "jails")? {
        rows.push(Row {
            what: format!(
                "jail.conf parse+resolve, {} jails ({:.1} MB): FlatConf, one jail at a time",
                flat["jails"],
                num(&flat, "mb")
            ),
            ours: format!(
                "{:.1} MB/s (parse alone {:.1}); heap peak {:.2}x input",
                num(&flat, "parse_resolve_mb_s"),
                num(&flat, "parse_mb_s"),
                num(&flat, "heap_peak_ratio")
            ),
            baseline: format!(
                "owned tree + resolve_all: {:.1} MB/s, {:.1}x; target 50 MB/s, 3x",
                num(&tree, "parse_resolve_mb_s"),
                num(&tree, "heap_peak_ratio")
            ),
            ratio: format!("{:.2}x of target", num(&flat, "parse_resolve_mb_s") / 50.0),
        });
    }

    // devfs.rules: the boot loader's model (rc.subr, devfs(8), the kernel's numbering) parses.
    for (each, file) in paired_runs(
        &rel.join("examples/rules_bench"),
        "each",
        "file",
        "rulesets",
    )? {
        rows.push(Row {
            what: format!(
                "devfs.rules parse, {} rulesets of 40 rules ({:.1} MB): Loader::load_each, one rule at a time",
                each["rulesets"],
                num(&each, "mb")
            ),
            ours: format!(
                "{:.1} MB/s; heap peak {:.2}x input",
                num(&each, "parse_mb_s"),
                num(&each, "heap_peak_ratio")
            ),
            baseline: format!(
                "RulesFile::parse (every rule kept): {:.1} MB/s, {:.2}x; target 50 MB/s, 3x",
                num(&file, "parse_mb_s"),
                num(&file, "heap_peak_ratio")
            ),
            ratio: format!("{:.2}x of target", num(&each, "parse_mb_s") / 50.0),
        });
    }

    // What needs hardware this machine may not have: said, not silently dropped.
    let gpu = Path::new("/dev/nvidiactl").exists();
    rows.push(Row {
        what: "nvgpu `gpus()` vs `nvidia-smi -L`".into(),
        ours: if gpu {
            "run `cargo run --release -p nvgpu-cli --bin nvgpu -- bench`".into()
        } else {
            "skipped: no /dev/nvidiactl here".into()
        },
        baseline: "docs/gpu-h100-2026-11-27.log".into(),
        ratio: "-".into(),
    });
    rows.push(Row {
        what: "ZFS clone from template vs copying the tree".into(),
        ours: "in `cargo xtask ci` (real-ZFS VM tier)".into(),
        baseline: "copy".into(),
        ratio: "-".into(),
    });

    let m = machine();
    println!("\nmachine: {m}\n");
    println!("| what | ours | baseline | ratio |\n|---|---|---|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} |", r.what, r.ours, r.baseline, r.ratio);
    }
    let json = serde_json::json!({
        "machine": m,
        "rows": rows.iter().map(|r| serde_json::json!({
            "what": r.what, "ours": r.ours, "baseline": r.baseline, "ratio": r.ratio
        })).collect::<Vec<_>>(),
    });
    let path = ctx.target_dir().join("bench.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\n(written to {})", path.display());
    Ok(())
}
