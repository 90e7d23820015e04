//! `cargo xtask ci`: every check, in order, then a table of tiers.

use crate::abi;
use crate::setup::Setup;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where things are.
pub struct Ctx {
    /// The workspace root.
    pub root: PathBuf,
    /// The python to use for zig and pip.
    pub python: String,
    /// `cargo`.
    pub cargo: String,
}

impl Ctx {
    /// Finds the workspace root (the parent of this crate) and the tools.
    pub fn new() -> Result<Ctx, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("xtask has no parent directory")?
            .to_path_buf();
        let python = std::env::var("XTASK_PYTHON").unwrap_or_else(|_| "python3".into());
        // pip puts cargo-zigbuild into python's script directory; make sure it is on PATH.
        if let Ok(o) = Command::new(&python)
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ])
            .output()
        {
            let scripts = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !scripts.is_empty() {
                let path = std::env::var("PATH").unwrap_or_default();
                if !path.split(':').any(|p| p == scripts) {
                    std::env::set_var("PATH", format!("{scripts}:{path}"));
                }
            }
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        Ok(Ctx {
            root,
            python,
            cargo,
        })
    }

    pub(crate) fn cargo(&self) -> Command {
        let mut c = Command::new(&self.cargo);
        c.current_dir(&self.root);
        c
    }

    pub(crate) fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }
}

/// Runs a command quietly, true when it succeeded.
pub fn sh_ok(cmd: &mut Command) -> bool {
    cmd.stderr(Stdio::null());
    if cmd.get_program() != "dpkg" {
        cmd.stdout(Stdio::null());
    }
    cmd.status().is_ok_and(|s| s.success())
}

pub fn run_step(name: &str, cmd: &mut Command) -> Result<(), String> {
    println!("== {name}");
    let t = Instant::now();
    let st = cmd
        .status()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    println!("   {name}: {:.0?}", t.elapsed());
    if st.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({st})"))
    }
}

/// Test counts of one tier.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Tests passed.
    pub passed: usize,
    /// Tests failed.
    pub failed: usize,
    /// Tests ignored (root, GPU and other tests this machine cannot run).
    pub ignored: usize,
    /// Tests that passed by printing `SKIP: <reason>` (a missing prerequisite), not by proving.
    pub skipped_inside: usize,
}

impl Counts {
    /// Adds `o`'s counts.
    pub fn add(&mut self, o: &Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.ignored += o.ignored;
        self.skipped_inside += o.skipped_inside;
    }
}

/// Adds one `test result: ok. 3 passed; 0 failed; 1 ignored; …` line to `c` (other lines are
/// ignored).
fn add_test_result(c: &mut Counts, line: &str) {
    let Some(r) = line.trim().strip_prefix("test result: ") else {
        return;
    };
    for part in r.split(';') {
        let mut w = part.split_whitespace().rev();
        let (Some(label), Some(num)) = (w.next(), w.next()) else {
            continue;
        };
        let n: usize = num.parse().unwrap_or(0);
        match label {
            "passed" => c.passed += n,
            "failed" => c.failed += n,
            "ignored" => c.ignored += n,
            _ => {}
        }
    }
}

/// Packages whose tests form the sim tier.
pub(crate) const SIM_PACKAGES: &[&str] = &["hostsim-rs", "workspace-tests"];

/// Runs one `cargo test` group, echoing its output and adding up the `test result:` lines.
pub(crate) fn cargo_test_group(ctx: &Ctx, label: &str, args: &[&str]) -> Result<Counts, String> {
    println!("== cargo test ({label}): {}", args.join(" "));
    let t = Instant::now();
    let mut child = ctx
        .cargo()
        .arg("test")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test: {e}"))?;
    let out = child.stdout.take().ok_or("cargo test: no stdout")?;
    let mut c = Counts::default();
    for line in BufReader::new(out).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        add_test_result(&mut c, &line);
        // With --nocapture a test's output can follow its `test name ... ` prefix.
        if line.contains("SKIP: ") {
            c.skipped_inside += 1;
        }
    }
    let st = child.wait().map_err(|e| e.to_string())?;
    println!("   cargo test ({label}): {:.0?}", t.elapsed());
    if st.success() {
        Ok(c)
    } else {
        Err(format!("cargo test ({label}) failed ({st})"))
    }
}

/// The newest `/boot/vmlinuz-*` whose modules include the zfs module dkms built.
fn zfs_kernel() -> Option<(String, PathBuf)> {
    let mut best: Option<(String, PathBuf)> = None;
    for e in std::fs::read_dir("/boot").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(ver) = name.strip_prefix("vmlinuz-") else {
            continue;
        };
        let dkms = Path::new("/lib/modules").join(ver).join("updates/dkms");
        let has = std::fs::read_dir(&dkms).is_ok_and(|rd| {
            rd.flatten()
                .any(|f| f.file_name().to_string_lossy().starts_with("zfs.ko"))
        });
        if has && best.as_ref().is_none_or(|(v, _)| v.as_str() < ver) {
            best = Some((ver.to_string(), e.path()));
        }
    }
    best
}

/// The executable cargo built for a test or example target (from `--message-format=json`).
fn built_executable(ctx: &Ctx, args: &[&str], target: &str) -> Result<PathBuf, String> {
    let out = ctx
        .cargo()
        .args(args)
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("cargo {} failed", args.join(" ")));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| {
            l.contains("\"executable\":\"") && l.contains(&format!("\"name\":\"{target}\""))
        })
        .find_map(|l| {
            l.split("\"executable\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(PathBuf::from)
        })
        .ok_or_else(|| format!("no executable for {target}"))
}

/// The real-ZFS tier: boots the dkms-built kernel in a VM (virtme-ng, no KVM), creates a
/// file-backed pool and runs the zfs crate's real tests and the clone benchmark there.
pub(crate) fn real_zfs(ctx: &Ctx, s: &Setup) -> Result<(Counts, String), String> {
    if let Some(why) = &s.no_libzfs {
        return Err(format!("SKIP: {why}"));
    }
    let Some((ver, kernel)) = zfs_kernel() else {
        return Err("SKIP: no kernel with a dkms-built zfs module under /boot".into());
    };
    if !sh_ok(Command::new("vng").arg("--version")) {
        return Err("SKIP: virtme-ng (vng) is not installed".into());
    }
    println!("== real-zfs tier: OpenZFS {ver} in a VM");
    let t = Instant::now();
    let test = built_executable(
        ctx,
        &["test", "-p", "zfs-ops", "--test", "real_zfs", "--no-run"],
        "real_zfs",
    )?;
    let bench = built_executable(
        ctx,
        &[
            "build",
            "--release",
            "-p",
            "zfs-ops",
            "--example",
            "clone_bench",
        ],
        "clone_bench",
    )?;
    let dir = ctx.target_dir().join("zfs-vm");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let script = format!(
        "set -x\nD={d}\nmodprobe zfs || {{ echo modprobe-failed > $D/test.rc; exit 0; }}\n\
         truncate -s 1G $D/pool.img\nmkdir -p $D/mnt\n\
         zpool create -f -m $D/mnt/testpool testpool $D/pool.img > $D/zpool.log 2>&1 || {{ echo zpool-failed > $D/test.rc; exit 0; }}\n\
         ZFS_TEST_POOL=testpool {test} --ignored --test-threads=1 > $D/test.log 2>&1; echo $? > $D/test.rc\n\
         ZFS_TEST_POOL=testpool BENCH_MB=200 {bench} > $D/bench.log 2>&1; echo $? > $D/bench.rc\n\
         zpool destroy testpool\nrm -f $D/pool.img\n",
        d = dir.display(),
        test = test.display(),
        bench = bench.display()
    );
    std::fs::write(dir.join("run.sh"), script).map_err(|e| e.to_string())?;
    let st = Command::new("timeout")
        .args(["1200", "vng", "--run"])
        .arg(&kernel)
        .args(["--disable-kvm", "--memory", "2G", "--cpus", "2", "--rwdir"])
        .arg(&dir)
        .arg("--exec")
        .arg(format!("sh {}/run.sh", dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("vng: {e}"))?;
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let log = read("test.log");
    println!("{log}");
    let rc = read("test.rc").trim().to_string();
    // The VM not booting, or the module or pool not coming up, is the machine's problem, not the
    // code's: reported as skipped (loudly). Tests that ran and failed fail CI.
    if rc.is_empty() || rc.ends_with("-failed") {
        return Err(format!(
            "SKIP: the VM did not get to run the tests (vng exit {st}, marker {rc:?}); see target/zfs-vm"
        ));
    }
    println!(
        "   real-zfs VM: {:.0?} (vng exit {st}, tests exit {rc:?})",
        t.elapsed()
    );
    let mut c = Counts::default();
    for line in log.lines() {
        add_test_result(&mut c, line);
    }
    let bench_out = read("bench.log");
    println!("{bench_out}");
    let mut ratio = bench_out
        .lines()
        .find(|l| l.starts_with("ratio"))
        .unwrap_or("no benchmark result")
        .to_string();
    if let Some(j) = bench_out.lines().find(|l| l.starts_with("jails:")) {
        ratio = format!("{ratio}; {j}");
    }
    if rc != "0" || c.passed == 0 {
        return Err(format!(
            "real-ZFS tests failed in the VM (exit {rc:?}, {} passed, {} failed)",
            c.passed, c.failed
        ));
    }
    Ok((c, ratio))
}

/// How many `#[ignore = "root: …"]` tests the workspace has.
pub(crate) fn count_root_tests(root: &Path) -> usize {
    let needle = concat!("#[ignore = \"", "root:");
    let mut n = 0;
    let mut stack: Vec<PathBuf> = vec![root.join("crates"), root.join("tools"), root.join("tests")];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                n += std::fs::read_to_string(&path)
                    .map(|t| t.matches(needle).count())
                    .unwrap_or(0);
            }
        }
    }
    n
}

/// The backstop: the keyword that opts out of Rust's checks may appear only inside `sys/` modules.
pub(crate) fn unsafe_outside_sys(root: &Path) -> Vec<String> {
    let word = concat!("un", "safe");
    let mut bad = Vec::new();
    let mut stack: Vec<PathBuf> = ["crates", "tools", "tests", "xtask"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                if rel.split('/').any(|c| c == "sys") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for (i, line) in text.lines().enumerate() {
                    if contains_word(line, word) {
                        bad.push(format!("{rel}:{}: {}", i + 1, line.trim()));
                    }
                }
            }
        }
    }
    bad.sort();
    bad
}

fn contains_word(line: &str, word: &str) -> bool {
    let b = line.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    line.match_indices(word).any(|(i, _)| {
        let before = i == 0 || !is_word(b[i - 1]);
        let after = b.get(i + word.len()).is_none_or(|c| !is_word(*c));
        before && after
    })
}

/// The ABI harness as a CI step.
pub fn abi_step(ctx: &Ctx, s: &Setup) -> Result<usize, String> {
    println!("== abi conformance (zig cc, FreeBSD + Linux headers, amd64 + arm64)");
    let Some(python) = &s.python else {
        return Err(
            "zig is not installed (pip install ziglang failed); the ABI tier cannot run".into(),
        );
    };
    let zig = abi::Zig {
        python: python.clone(),
        cache: ctx.target_dir().join("zig-cache"),
    };
    let sets = abi::all_sets();
    let o = abi::check(&sets, &zig, &ctx.target_dir().join("abi"));
    for e in &o.errors {
        println!("   ERROR {e}");
    }
    for m in &o.mismatches {
        println!("   {m}");
    }
    println!(
        "   {} facts from {} sets checked on their targets, {} mismatches, {} errors",
        o.checked,
        sets.len(),
        o.mismatches.len(),
        o.errors.len()
    );
    if o.errors.is_empty() && o.mismatches.is_empty() {
        Ok(o.checked)
    } else {
        Err(format!(
            "ABI conformance failed: {} mismatches, {} compile errors",
            o.mismatches.len(),
            o.errors.len()
        ))
    }
}

/// Links every tool for FreeBSD and checks each result is a FreeBSD ELF.
pub fn cross_link(ctx: &Ctx) -> Result<usize, String> {
    run_step(
        "cargo zigbuild --target x86_64-unknown-freebsd (link every tool)",
        ctx.cargo()
            .args(["zigbuild", "--target", "x86_64-unknown-freebsd", "--bins"])
            .args(TOOLS.iter().flat_map(|t| ["-p", t]))
            .env("ZIG_GLOBAL_CACHE_DIR", ctx.target_dir().join("zig-cache"))
            .env("ZIG_LOCAL_CACHE_DIR", ctx.target_dir().join("zig-cache")),
    )?;
    // The crates' example programs (one small real tool each) link for FreeBSD too.
    let mut ex = ctx.cargo();
    ex.args(["zigbuild", "--target", "x86_64-unknown-freebsd"]);
    for (pkg, example) in EXAMPLES {
        ex.args(["-p", pkg, "--example", example]);
    }
    run_step(
        "cargo zigbuild --target x86_64-unknown-freebsd (the crates' example programs)",
        ex.env("ZIG_GLOBAL_CACHE_DIR", ctx.target_dir().join("zig-cache"))
            .env("ZIG_LOCAL_CACHE_DIR", ctx.target_dir().join("zig-cache")),
    )?;
    let dir = ctx.target_dir().join("x86_64-unknown-freebsd/debug");
    let mut n = 0;
    let examples = EXAMPLES.iter().map(|(_, e)| format!("examples/{e}"));
    for bin in TOOL_BINS.iter().map(|b| b.to_string()).chain(examples) {
        let path = dir.join(&bin);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let what = freebsd_elf(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("   {}: {what}", path.display());
        n += 1;
    }
    Ok(n)
}

/// Tool packages linked for FreeBSD.
const TOOLS: &[&str] = &[
    "cudajail",
    "nvgpu-cli",
    "nomad-device-nvgpu",
    "nomad-driver-cudajail",
];
/// Their binaries.
const TOOL_BINS: &[&str] = &[
    "cudajail",
    "nvgpu",
    "nomad-device-nvgpu",
    "nomad-driver-cudajail",
];
/// The crates' example programs, by package.
const EXAMPLES: &[(&str, &str)] = &[
    ("jail-rs", "jls"),
    ("kld-rs", "kldstat"),
    ("linuxulator-rs", "linux_status"),
    ("zfs-ops", "zfs_clone"),
    ("devfs-rs", "devfs_show"),
    ("devfs-rs", "devfs-gpu"),
];

/// Checks an executable is a FreeBSD ELF: reads the program headers, requires the interpreter
/// (`PT_INTERP`) to be FreeBSD's run-time linker and the OS/ABI byte or a `PT_NOTE` ABI tag to
/// say FreeBSD.
pub fn freebsd_elf(b: &[u8]) -> Result<String, String> {
    let u16_at = |o: usize| b.get(o..o + 2).map(|x| u16::from_le_bytes([x[0], x[1]]));
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .and_then(|x| x.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return Err("not a little-endian 64-bit ELF file".into());
    }
    let osabi = b[7];
    let phoff = u64_at(0x20).ok_or("truncated header")? as usize;
    let phentsize = usize::from(u16_at(0x36).ok_or("truncated header")?);
    let phnum = usize::from(u16_at(0x38).ok_or("truncated header")?);
    let (mut interp, mut note) = (None, false);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(ph).ok_or("truncated program header")?;
        let off = u64_at(ph + 8).ok_or("truncated program header")? as usize;
        let size = u64_at(ph + 0x20).ok_or("truncated program header")? as usize;
        let data = b.get(off..off + size).ok_or("segment outside the file")?;
        match p_type {
            3 => {
                interp = Some(
                    String::from_utf8_lossy(data)
                        .trim_end_matches('\0')
                        .to_string(),
                )
            }
            4 => {
                // Notes: namesz, descsz, type, name (padded to 4), desc (padded to 4).
                let mut at = 0;
                while at + 12 <= data.len() {
                    let word = |o: usize| {
                        u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]])
                            as usize
                    };
                    let (namesz, descsz) = (word(at), word(at + 4));
                    let name = data.get(at + 12..at + 12 + namesz).unwrap_or(&[]);
                    note |= name == b"FreeBSD\0";
                    at += 12 + namesz.div_ceil(4) * 4 + descsz.div_ceil(4) * 4;
                }
            }
            _ => {}
        }
    }
    let interp_ok = interp.as_deref() == Some("/libexec/ld-elf.so.1");
    if (osabi == 9 || note) && interp_ok {
        Ok(format!(
            "FreeBSD ELF (OS/ABI byte {osabi}{}, interpreter /libexec/ld-elf.so.1, {} bytes)",
            if note { ", FreeBSD ABI note" } else { "" },
            b.len()
        ))
    } else {
        Err(format!("not a FreeBSD executable (OS/ABI {osabi}, FreeBSD note {note}, interpreter {interp:?})"))
    }
}

/// `cargo publish --dry-run` of every publishable crate, in dependency order; the number of
/// crates verified. Without the registry's index (no network) it is skipped, saying so.
pub fn publish_check(ctx: &Ctx) -> Result<usize, String> {
    println!("== cargo publish --dry-run --workspace");
    // Cargo extracts the dry run's local registry into $CARGO_HOME/registry/src once and, as
    // registry crates never change, reuses that extraction next time: our packages do change,
    // so their old extractions go first.
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")));
    if let Some(src) = home.map(|h| h.join("registry/src")) {
        let ours = [
            "sysabi-rs",
            "jail-rs",
            "devfs-rs",
            "zfs-ops",
            "libzfs-core-sys",
            "kld-rs",
            "linuxulator-rs",
            "nvgpu-rs",
            "rootfs-rs",
            "hostsim-rs",
            "nomad-nvgpu",
            "cudajail",
            "nvgpu-cli",
            "nomad-device-nvgpu",
            "nomad-driver-cudajail",
        ];
        // And their old build results: registry crates are never rebuilt, so the fingerprints
        // of ours go (in the dry run's own target directory), which makes cargo build them anew.
        let fp = ctx.target_dir().join("publish-check/debug/.fingerprint");
        for e in std::fs::read_dir(&fp).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if ours.iter().any(|o| n.starts_with(&format!("{o}-"))) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        for reg in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            if reg.file_name().to_string_lossy().starts_with("index.") {
                continue; // the real registry's extractions
            }
            for e in std::fs::read_dir(reg.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let n = e.file_name().to_string_lossy().into_owned();
                if ours.iter().any(|o| n.starts_with(&format!("{o}-"))) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let out = ctx
        .cargo()
        .env("CARGO_TARGET_DIR", ctx.target_dir().join("publish-check"))
        .args([
            "publish",
            "--dry-run",
            "--workspace",
            "--allow-dirty",
            "--exclude",
            "workspace-tests",
            "--exclude",
            "xtask",
        ])
        .output()
        .map_err(|e| format!("cargo publish: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let verified = err
        .lines()
        .filter(|l| l.trim_start().starts_with("Verifying"))
        .count();
    if out.status.success() {
        println!("   {verified} crates verified");
        return Ok(verified);
    }
    if err.contains("failed to get")
        || err.contains("failed to download")
        || err.contains("Couldn't resolve")
        || err.contains("network")
    {
        return Err("SKIP: the registry index is unreachable from here".into());
    }
    let first = err
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("cargo publish --dry-run failed");
    println!("{err}");
    Err(format!("publish check: {first}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_result_lines_add_up() {
        let mut c = Counts::default();
        add_test_result(&mut c, "test result: ok. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.1s");
        add_test_result(&mut c, "running 4 tests");
        add_test_result(
            &mut c,
            "  test result: FAILED. 1 passed; 0 failed; 0 ignored; 0 measured",
        );
        assert_eq!((c.passed, c.failed, c.ignored), (4, 1, 2));
    }

    #[test]
    fn word_matching() {
        let w = concat!("un", "safe");
        assert!(contains_word(&format!("{w} {{"), w));
        assert!(contains_word(&format!("let x = {w} fn"), w));
        assert!(!contains_word(&format!("{w}_code"), w));
        assert!(!contains_word(&format!("#![deny({w}_op_in_{w}_fn)]"), w));
    }

    #[test]
    fn elf_check_rejects_linux_binaries() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(freebsd_elf(&me).is_err());
        assert!(freebsd_elf(b"#!/bin/sh").is_err());
    }
}
