//! Installs what CI needs on a fresh Debian machine, idempotently and quietly.

use crate::ci::{sh_ok, Ctx};
use std::process::Command;

/// Debian packages the tiers need, from the machine's own suites. The one list.
pub const APT_PACKAGES: &[&str] = &[
    "libclang-dev",
    "qemu-system-x86",
    "busybox-static",
    "debootstrap",
    // tcsh reads the completion script we write for it (a test).
    "tcsh",
];

/// Debian packages taken from bookworm-backports (OpenZFS 2.3 and a kernel it builds for): the
/// libzfs headers for the bindings, and the kernel + zfs module for the real-ZFS VM.
pub const BACKPORTS_PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "linux-headers-amd64",
    "zfs-dkms",
    "zfsutils-linux",
    "libzfslinux-dev",
];

/// Python packages for the real-ZFS VM (virtme-ng boots a kernel with the host's files).
pub const PIP_VM_PACKAGES: &[&str] = &["virtme-ng"];

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
    /// Why the libzfs bindings cannot be built here (then `CUDAJAIL_NO_LIBZFS=1` is set).
    pub no_libzfs: Option<String>,
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
    pip_ensure(&python, PIP_PACKAGES);
    let no_libzfs = setup_zfs(&python);
    if let Some(why) = &no_libzfs {
        println!("   LIBZFS BACKEND SKIPPED: {why}");
        std::env::set_var("CUDAJAIL_NO_LIBZFS", "1");
    }
    let zig_ok = sh_ok(Command::new(&python).args(["-m", "ziglang", "version"]));
    let zigbuild = sh_ok(Command::new("cargo-zigbuild").arg("--version"))
        || sh_ok(Command::new(&python).args(["-m", "cargo_zigbuild", "--version"]));
    println!("   rust target freebsd: {freebsd_target}; zig: {zig_ok}; cargo-zigbuild: {zigbuild}");
    Ok(Setup {
        python: zig_ok.then_some(python),
        freebsd_target,
        zigbuild,
        no_libzfs,
    })
}

/// `pip install` each package that `pip show` does not find.
fn pip_ensure(python: &str, pkgs: &[&str]) {
    for pkg in pkgs {
        if !sh_ok(Command::new(python).args(["-m", "pip", "show", "--quiet", pkg])) {
            println!("   pip install {pkg}");
            let _ = sh_ok(Command::new(python).args([
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
}

fn installed(p: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", p])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Adds bookworm-backports (and contrib) with the URIs and keyring of the machine's own Debian
/// source, then installs [`BACKPORTS_PACKAGES`] and virtme-ng. Returns why the libzfs bindings
/// cannot be built, if they cannot.
fn setup_zfs(python: &str) -> Option<String> {
    if std::env::var_os("CUDAJAIL_NO_LIBZFS").is_some() {
        return Some("CUDAJAIL_NO_LIBZFS is set".into());
    }
    if !BACKPORTS_PACKAGES.iter().all(|p| installed(p)) {
        let src =
            std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
        let field = |k: &str| {
            src.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        let (Some(uri), Some(key)) = (field("URIs:"), field("Signed-By:")) else {
            return Some(
                "no /etc/apt/sources.list.d/debian.sources to derive bookworm-backports from"
                    .into(),
            );
        };
        let uri = uri
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let text = format!(
            "Types: deb\nURIs: {uri}\nSuites: bookworm-backports\nComponents: main contrib\nSigned-By: {key}\n\n\
             Types: deb\nURIs: {uri}\nSuites: bookworm bookworm-updates\nComponents: contrib\nSigned-By: {key}\n"
        );
        if std::fs::write("/etc/apt/sources.list.d/cudajail-backports.sources", text).is_err() {
            return Some("cannot write /etc/apt/sources.list.d (not root?)".into());
        }
        println!(
            "   apt-get install -t bookworm-backports {} (builds the zfs module: minutes)",
            BACKPORTS_PACKAGES.join(" ")
        );
        let _ = sh_ok(Command::new("apt-get").args(["update", "-qq"]));
        if !sh_ok(
            Command::new("apt-get")
                .args([
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "-t",
                    "bookworm-backports",
                ])
                .args(BACKPORTS_PACKAGES)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        ) {
            return Some("apt-get install from bookworm-backports failed".into());
        }
    }
    pip_ensure(python, PIP_VM_PACKAGES);
    if !installed("libclang-dev") {
        return Some("libclang-dev (needed by bindgen) is not installed".into());
    }
    if !std::path::Path::new("/usr/include/libzfs/libzfs_core.h").exists() {
        return Some("libzfslinux-dev did not install its headers".into());
    }
    None
}
