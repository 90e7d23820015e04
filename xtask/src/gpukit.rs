//! `cargo xtask gpu-kit [--fresh-root]`: everything the gpu tier proves, prepared here for one
//! short run on a GPU machine that has no network (so no debootstrap, no crates) and perhaps no
//! Rust: `.gpu-kit/` (ignored by git) with the gpu-tier test programs, `nvgpu`, the Nomad
//! device plugin, the CUDA check and the uvm shim, the template `up` builds (debootstrapped by
//! the real-linux test and exported with the shim and the check built inside by its own
//! compiler), and `run.sh`, which runs them all and logs to `$OUT/gpu.log`.
//!
//! On the GPU machine, from the repository root: `bash .gpu-kit/run.sh` (carry `.gpu-kit`).

use crate::ci::{run_step, Ctx};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The gpu-tier tests: (package, test target). Each becomes `bin/<package>-<test>`.
pub const TESTS: &[(&str, &str)] = &[
    ("nvgpu-rs", "gpu"),
    ("cudajail", "cuda_probe"),
    ("cudajail", "gpu_root"),
    ("nomad-device-nvgpu", "gpu"),
];

/// The script the GPU machine runs: every gpu-tier check, each under a time limit, the machine
/// described first, a summary of exit codes last. Each check's own output says what it
/// compared.
pub const RUN_SH: &str = r###"#!/bin/bash
# Made by `cargo xtask gpu-kit`. Run from the repository root on a machine with an NVIDIA GPU,
# as root: bash .gpu-kit/run.sh   (the log goes to $OUT/gpu.log, or /tmp/gpu-kit/gpu.log)
set -u
K="$PWD/.gpu-kit"
O="${OUT:-/tmp/gpu-kit}"
mkdir -p "$O"
exec > >(tee -a "$O/gpu.log") 2>&1
export CUDAJAIL_CUDA_PROBE="$K/bin/cuda-probe" CUDAJAIL_UVM_SO="$K/bin/libcudajail_uvm.so"
export NOMAD_NVGPU_BIN="$K/bin/nomad-device-nvgpu" CUDAJAIL_GPU_ROOT="$K/root.tar.xz"
summary=""
check() {
    local name="$1" limit="$2"; shift 2
    echo; echo "=== $name"; echo "+ $*"
    local t0=$(date +%s.%N)
    timeout "$limit" "$@"; local rc=$?
    local t1=$(date +%s.%N)
    echo "=== $name: exit $rc ($(echo "$t1 - $t0" | bc 2>/dev/null || echo '?') s)"
    summary="$summary$(printf '\n%-58s exit %s' "$name" "$rc")"
}
echo "# cudajail gpu kit $(cat "$K/made" 2>/dev/null), run $(date -u +%FT%TZ) on $(hostname)"
uname -a
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,memory.total,driver_version --format=csv
nvidia-smi -L
cat /proc/driver/nvidia/version
for f in /proc/driver/nvidia/gpus/*/information; do echo "## $f"; cat "$f"; done
ls -l /dev/nvidia* 2>&1
check "nvgpu against nvidia-smi; fast path = driver (#19)" 120 "$K/bin/nvgpu-rs-gpu" --ignored --nocapture --test-threads 1
check "nvgpu list" 30 "$K/bin/nvgpu" list
check "nvgpu list --brief" 30 "$K/bin/nvgpu" list --brief
check "nvgpu list --brief --fast" 30 "$K/bin/nvgpu" list --brief --fast
check "nvgpu list against its floor; fast path timed (#19)" 180 "$K/bin/nvgpu" bench --breakdown --iters 31
check "the CUDA check against nvidia-smi; no nvidia-uvm + shim" 180 "$K/bin/cudajail-cuda_probe" --ignored --nocapture --test-threads 1
check "the template passes the CUDA check in a chroot (#13)" 300 "$K/bin/cudajail-gpu_root" --ignored --nocapture
check "Nomad device plugin fingerprint vs nvidia-smi (#18)" 120 "$K/bin/nomad-device-nvgpu-gpu" --ignored --nocapture
echo; echo "=== summary$summary"
"###;

/// The newest `executable` cargo reported for `target` (a test target's name) in
/// `--message-format=json` output.
fn executable_of(json: &str, target: &str) -> Option<PathBuf> {
    json.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == target)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
}

/// `OUT_DIR` of `package`'s build script, from cargo's json messages.
fn out_dir_of(json: &str, package: &str) -> Option<PathBuf> {
    json.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["reason"] == "build-script-executed"
                && v["package_id"].as_str().is_some_and(|id| {
                    id.contains(&format!("#{package}@"))
                        || id.contains(&format!("/{package}#"))
                        || id.starts_with(&format!("{package} "))
                })
        })
        .find_map(|v| v["out_dir"].as_str().map(PathBuf::from))
}

fn copy_stripped(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to).map_err(|e| format!("copying {}: {e}", from.display()))?;
    // Debug sections are most of a test program's size; the kit must fit the device's limit.
    let _ = Command::new("strip").arg("--strip-debug").arg(to).status();
    Ok(())
}

/// Builds the kit.
///
/// # Errors
/// A build, the debootstrap export (root, network), or a copy failed.
pub fn gpu_kit(ctx: &Ctx, fresh_root: bool) -> Result<(), String> {
    let kit = ctx.root.join(".gpu-kit");
    let bin = kit.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let root_tar = kit.join("root.tar.xz");
    let have_root = std::fs::metadata(&root_tar).is_ok_and(|m| m.len() > 0);
    if fresh_root || !have_root {
        run_step(
            "gpu-kit: debootstrap the template and export it",
            ctx.cargo()
                .args([
                    "test",
                    "-p",
                    "cudajail",
                    "--test",
                    "debootstrap",
                    "--",
                    "--ignored",
                    "--nocapture",
                ])
                .env("CUDAJAIL_EXPORT_ROOT", &root_tar),
        )?;
        if !std::fs::metadata(&root_tar).is_ok_and(|m| m.len() > 0) {
            return Err(format!(
                "{} was not written: the debootstrap test skipped (it needs root, debootstrap and the Debian mirror; see its SKIP line)",
                root_tar.display()
            ));
        }
    } else {
        println!(
            "== gpu-kit: keeping {} (--fresh-root makes it again)",
            root_tar.display()
        );
    }
    let mut json = String::new();
    for (pkg, test) in TESTS {
        let o = ctx
            .cargo()
            .args([
                "test",
                "--release",
                "-p",
                pkg,
                "--test",
                test,
                "--no-run",
                "--message-format=json",
            ])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cargo: {e}"))?;
        if !o.status.success() {
            return Err(format!("building {pkg}'s {test} test failed"));
        }
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let exe = executable_of(&text, test)
            .ok_or_else(|| format!("cargo named no executable for {pkg}'s {test} test"))?;
        copy_stripped(&exe, &bin.join(format!("{pkg}-{test}")))?;
        json.push_str(&text);
    }
    let o = ctx
        .cargo()
        .args([
            "build",
            "--release",
            "-p",
            "nvgpu-cli",
            "-p",
            "nomad-device-nvgpu",
            "-p",
            "cudajail",
            "--message-format=json",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !o.status.success() {
        return Err("building nvgpu and the Nomad device plugin failed".into());
    }
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for name in ["nvgpu", "nomad-device-nvgpu"] {
        let exe =
            executable_of(&text, name).ok_or_else(|| format!("cargo named no {name} binary"))?;
        copy_stripped(&exe, &bin.join(name))?;
    }
    json.push_str(&text);
    let out = out_dir_of(&json, "cudajail").ok_or(
        "cargo named no build-script output of cudajail (the CUDA check and the uvm shim)",
    )?;
    for f in ["cuda-probe", "libcudajail_uvm.so"] {
        std::fs::copy(out.join(f), bin.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    std::fs::write(kit.join("run.sh"), RUN_SH).map_err(|e| format!("run.sh: {e}"))?;
    let head = Command::new("git")
        .current_dir(&ctx.root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    std::fs::write(kit.join("made"), format!("from {head}\n")).map_err(|e| e.to_string())?;
    let mut total = 0u64;
    let mut listing = Vec::new();
    for dir in [&kit, &bin] {
        for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
            let e = e.map_err(|e| e.to_string())?;
            let m = e.metadata().map_err(|e| e.to_string())?;
            if m.is_file() {
                total += m.len();
                listing.push(format!(
                    "{:>10}  {}",
                    m.len(),
                    e.path()
                        .strip_prefix(&ctx.root)
                        .unwrap_or(&e.path())
                        .display()
                ));
            }
        }
    }
    listing.sort();
    println!("{}", listing.join("\n"));
    println!(
        "gpu kit: {:.1} MiB in {} (the device takes 64 MiB with the working tree)",
        total as f64 / 1048576.0,
        kit.display()
    );
    if total > 56 << 20 {
        return Err(format!(
            "the kit is {total} bytes: too large to carry with the working tree"
        ));
    }
    println!("run it there: command `bash .gpu-kit/run.sh`, carry [\".gpu-kit\"]");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_executables_and_build_outputs_in_cargos_messages() {
        let json = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tools/cudajail#0.1.0","target":{"name":"gpu_root","kind":["test"]},"executable":"/w/target/release/deps/gpu_root-abc"}
{"reason":"build-script-executed","package_id":"path+file:///w/tools/cudajail#0.1.0","out_dir":"/w/target/release/build/cudajail-123/out"}
{"reason":"build-script-executed","package_id":"path+file:///w/tools/cudajail-other#0.1.0","out_dir":"/nope"}
not json"#;
        assert_eq!(
            executable_of(json, "gpu_root"),
            Some(PathBuf::from("/w/target/release/deps/gpu_root-abc"))
        );
        assert_eq!(executable_of(json, "gpu"), None);
        assert_eq!(
            out_dir_of(json, "cudajail"),
            Some(PathBuf::from("/w/target/release/build/cudajail-123/out"))
        );
    }

    #[test]
    fn run_sh_runs_every_kit_test() {
        for (pkg, test) in TESTS {
            assert!(
                RUN_SH.contains(&format!("$K/bin/{pkg}-{test}\"")),
                "{pkg}-{test}"
            );
        }
    }
}
