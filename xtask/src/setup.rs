//! Installs what CI needs on a fresh Debian machine, idempotently and quietly.

use crate::ci::{sh_ok, Ctx};
use std::process::Command;

/// Debian packages the tiers need. The one list; later issues add to it.
pub const APT_PACKAGES: &[&str] = &[];

/// Rust targets added with rustup.
pub const RUST_TARGETS: &[&str] = &["x86_64-unknown-freebsd"];

/// Python packages (zig as a cross C compiler and linker for FreeBSD).
pub const PIP_PACKAGES: &[&str] = &["ziglang", "cargo-zigbuild"];

/// What setup found or installed.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The python that has `ziglang`, if any.
    pub python: Option<String>,
    /// Whether the FreeBSD Rust target is installed.
    pub freebsd_target: bool,
    /// Whether `cargo zigbuild` is available.
    pub zigbuild: bool,
}

/// Installs the pieces; failures to install are reported, and the tiers that need them are
/// then reported as skipped with the reason (never silently passed).
pub fn setup(ctx: &Ctx) -> Result<Setup, String> {
    println!("== setup");
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut freebsd_target = true;
    for t in RUST_TARGETS {
        if !installed.lines().any(|l| l.trim() == *t) {
            println!("   rustup target add {t}");
            if !sh_ok(Command::new("rustup").args(["target", "add", t])) {
                println!("   FREEBSD CHECK SKIPPED: rustup target add {t} failed");
                freebsd_target = false;
            }
        }
    }
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !sh_ok(
                Command::new("dpkg")
                    .args(["-s", p])
                    .stdout(std::process::Stdio::null()),
            )
        })
        .collect();
    if !missing.is_empty() {
        println!("   apt-get install {}", missing.join(" "));
        let _ = sh_ok(Command::new("apt-get").args(["update", "-qq"]));
        if !sh_ok(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        ) {
            println!("   apt-get install failed; tiers that need {missing:?} will be skipped");
        }
    }
    let python = ctx.python.clone();
    for pkg in PIP_PACKAGES {
        let have = sh_ok(Command::new(&python).args(["-m", "pip", "show", "--quiet", pkg]));
        if !have {
            println!("   pip install {pkg}");
            let _ = sh_ok(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                pkg,
            ]));
        }
    }
    let zig_ok = sh_ok(Command::new(&python).args(["-m", "ziglang", "version"]));
    let zigbuild = sh_ok(Command::new("cargo-zigbuild").arg("--version"))
        || sh_ok(Command::new(&python).args(["-m", "cargo_zigbuild", "--version"]));
    println!("   rust target freebsd: {freebsd_target}; zig: {zig_ok}; cargo-zigbuild: {zigbuild}");
    Ok(Setup {
        python: zig_ok.then_some(python),
        freebsd_target,
        zigbuild,
    })
}
