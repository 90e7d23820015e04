//! `cargo xtask dist`: the FreeBSD staging tree, laid out as the port installs it below
//! `PREFIX` (`/usr/local`): the binaries cross-built for FreeBSD, a man page per command and
//! `cudajail.toml(5)` (gzipped, as the ports framework compresses them), completions for bash,
//! zsh, fish and tcsh, the documentation, the example spec and the rc.d script; then a tarball.
//! [`check_plist`] proves the port's `pkg-plist` lists exactly what is staged (the rc.d script is
//! `USE_RC_SUBR`'s and never listed). There is no sh completion: FreeBSD's sh has none.

use crate::ci::{run_step, Ctx};
use clap::CommandFactory;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Binaries and where the port installs them (relative to PREFIX).
pub const BINARIES: &[(&str, &str)] = &[
    ("cudajail", "bin/cudajail"),
    ("nvgpu", "bin/nvgpu"),
    (
        "nomad-device-nvgpu",
        "libexec/nomad/plugins/nomad-device-nvgpu",
    ),
    (
        "nomad-driver-cudajail",
        "libexec/nomad/plugins/nomad-driver-cudajail",
    ),
];

/// Completions: shell and path (relative to PREFIX).
pub const COMPLETIONS: &[(cudajail::CompletionShell, &str)] = &[
    (
        cudajail::CompletionShell::Bash,
        "share/bash-completion/completions/cudajail",
    ),
    (
        cudajail::CompletionShell::Zsh,
        "share/zsh/site-functions/_cudajail",
    ),
    (
        cudajail::CompletionShell::Fish,
        "share/fish/vendor_completions.d/cudajail.fish",
    ),
    (
        cudajail::CompletionShell::Tcsh,
        "share/tcsh/completions/cudajail.tcsh",
    ),
];

/// The rc.d script's place (not in pkg-plist).
pub const RC_SCRIPT: &str = "etc/rc.d/cudajail";

fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("gzip: no stdin")?
        .write_all(data)
        .map_err(|e| format!("gzip: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("gzip: {e}"))?;
    if !out.status.success() {
        return Err("gzip failed".into());
    }
    Ok(out.stdout)
}

/// Stages everything below `prefix` and returns the staged paths relative to it, sorted.
/// `bins`: the directory of the FreeBSD binaries; `None` stages everything but them.
pub fn stage(root: &Path, prefix: &Path, bins: Option<&Path>) -> Result<Vec<String>, String> {
    let _ = std::fs::remove_dir_all(prefix);
    if let Some(dir) = bins {
        for (bin, rel) in BINARIES {
            let from = dir.join(bin);
            let data = std::fs::read(&from).map_err(|e| format!("{}: {e}", from.display()))?;
            crate::ci::freebsd_elf(&data).map_err(|e| format!("{}: {e}", from.display()))?;
            write(&prefix.join(rel), &data, 0o755)?;
        }
    }
    // Man pages, written by the tool itself, then gzipped.
    let tmp = prefix.with_extension("man.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let cli = <cudajail::Cli as clap::Parser>::try_parse_from([
        "cudajail",
        "man",
        "--dir",
        tmp.to_str().ok_or("the staging path is not UTF-8")?,
    ])
    .map_err(|e| e.to_string())?;
    cudajail::run(&cli).map_err(|e| format!("cudajail man: {e:?}"))?;
    for sec in ["man1", "man5"] {
        let dir = tmp.join(sec);
        for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let data = std::fs::read(e.path()).map_err(|e| e.to_string())?;
            let name = e.file_name().to_string_lossy().into_owned();
            write(
                &prefix.join(format!("share/man/{sec}/{name}.gz")),
                &gzip(&data)?,
                0o444,
            )?;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for (shell, rel) in COMPLETIONS {
        let text = cudajail::CompletionShell::script_for(*shell, cudajail::Cli::command());
        write(&prefix.join(rel), format!("{text}\n").as_bytes(), 0o444)?;
    }
    for (from, rel, mode) in [
        ("README.md", "share/doc/cudajail/README.md", 0o444),
        ("docs/json.md", "share/doc/cudajail/json.md", 0o444),
        ("docs/nomad.md", "share/doc/cudajail/nomad.md", 0o444),
        (
            "docs/example-spec.toml",
            "share/examples/cudajail/example-spec.toml",
            0o444,
        ),
        (
            "examples/nomad/client.hcl",
            "share/examples/cudajail/nomad/client.hcl",
            0o444,
        ),
        (
            "examples/nomad/gpu-smoke.nomad.hcl",
            "share/examples/cudajail/nomad/gpu-smoke.nomad.hcl",
            0o444,
        ),
        (
            "examples/nomad/llama.nomad.hcl",
            "share/examples/cudajail/nomad/llama.nomad.hcl",
            0o444,
        ),
        ("tools/cudajail/rc.d/cudajail", RC_SCRIPT, 0o555),
    ] {
        let data = std::fs::read(root.join(from)).map_err(|e| format!("{from}: {e}"))?;
        write(&prefix.join(rel), &data, mode)?;
    }
    let mut out = Vec::new();
    list(prefix, prefix, &mut out)?;
    out.sort();
    Ok(out)
}

fn list(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let p = e.path();
        if e.file_type().map_err(|e| e.to_string())?.is_dir() {
            list(base, &p, out)?;
        } else {
            out.push(
                p.strip_prefix(base)
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

/// `pkg-plist`'s entries as paths below PREFIX (`%%PORTDOCS%%%%DOCSDIR%%` is
/// `share/doc/cudajail`, `%%PORTEXAMPLES%%%%EXAMPLESDIR%%` `share/examples/cudajail`).
pub fn plist_paths(plist: &str) -> Vec<String> {
    let mut v: Vec<String> = plist
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('@'))
        .map(|l| {
            l.replace("%%PORTDOCS%%%%DOCSDIR%%", "share/doc/cudajail")
                .replace("%%PORTEXAMPLES%%%%EXAMPLESDIR%%", "share/examples/cudajail")
        })
        .collect();
    v.sort();
    v
}

/// Whether `plist` lists exactly the `staged` files (the rc.d script aside; without
/// binaries staged, the binaries aside too).
pub fn check_plist(plist: &str, staged: &[String], with_bins: bool) -> Result<(), String> {
    let mut listed = plist_paths(plist);
    if !with_bins {
        listed.retain(|p| !BINARIES.iter().any(|(_, r)| r == p));
    }
    let staged: Vec<String> = staged.iter().filter(|p| *p != RC_SCRIPT).cloned().collect();
    let missing: Vec<&String> = staged.iter().filter(|p| !listed.contains(p)).collect();
    let extra: Vec<&String> = listed.iter().filter(|p| !staged.contains(p)).collect();
    if missing.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "pkg-plist does not match the staged tree: staged but not listed {missing:?}; listed \
             but not staged {extra:?} (run `cargo xtask port`)"
        ))
    }
}

/// Where `cargo xtask dist` stages (`target/dist/stage/usr/local`).
pub fn prefix(ctx: &Ctx) -> PathBuf {
    ctx.target_dir().join("dist/stage/usr/local")
}

/// `cargo xtask dist`: release binaries for FreeBSD, the staging tree, the pkg-plist check and
/// a tarball `target/dist/cudajail-VERSION-x86_64-unknown-freebsd.tar.gz`.
pub fn dist(ctx: &Ctx, release: bool) -> Result<(), String> {
    let mut c = ctx.cargo();
    c.args(["zigbuild", "--target", "x86_64-unknown-freebsd", "--bins"]);
    if release {
        c.arg("--release");
    }
    for p in [
        "cudajail",
        "nvgpu-cli",
        "nomad-device-nvgpu",
        "nomad-driver-cudajail",
    ] {
        c.args(["-p", p]);
    }
    run_step(
        "cargo zigbuild --target x86_64-unknown-freebsd (the binaries to stage)",
        c.env("ZIG_GLOBAL_CACHE_DIR", ctx.target_dir().join("zig-cache"))
            .env("ZIG_LOCAL_CACHE_DIR", ctx.target_dir().join("zig-cache")),
    )?;
    let bins = ctx
        .target_dir()
        .join("x86_64-unknown-freebsd")
        .join(if release { "release" } else { "debug" });
    let prefix = prefix(ctx);
    let staged = stage(&ctx.root, &prefix, Some(&bins))?;
    let plist = std::fs::read_to_string(ctx.root.join(crate::port::PORT).join("pkg-plist"))
        .map_err(|e| format!("pkg-plist: {e}"))?;
    check_plist(&plist, &staged, true)?;
    println!(
        "   staged {} files below {}; pkg-plist lists exactly them",
        staged.len(),
        prefix.display()
    );
    let version = env!("CARGO_PKG_VERSION");
    let tarball = ctx.target_dir().join(format!(
        "dist/cudajail-{version}-x86_64-unknown-freebsd.tar.gz"
    ));
    let stage_root = ctx.target_dir().join("dist/stage");
    run_step(
        "tar (the staged tree)",
        Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("--owner=0")
            .arg("--group=0")
            .arg("-C")
            .arg(&stage_root)
            .arg("usr"),
    )?;
    println!("   {}", tarball.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything but the binaries staged here (CI's cross tier stages them too, with
    /// `cargo xtask dist`): pkg-plist must list exactly that.
    #[test]
    fn pkg_plist_lists_exactly_the_staged_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let prefix =
            std::env::temp_dir().join(format!("xtask-dist-{}/usr/local", std::process::id()));
        let staged = stage(&root, &prefix, None).unwrap();
        let plist =
            std::fs::read_to_string(root.join(crate::port::PORT).join("pkg-plist")).unwrap();
        check_plist(&plist, &staged, false).unwrap();
        assert!(staged.contains(&RC_SCRIPT.to_string()));
        assert!(staged
            .iter()
            .any(|p| p == "share/tcsh/completions/cudajail.tcsh"));
        // A file the plist does not know is caught, and a listed file not staged.
        let mut more = staged.clone();
        more.push("share/stray".into());
        assert!(check_plist(&plist, &more, false)
            .unwrap_err()
            .contains("share/stray"));
        let fewer: Vec<String> = staged
            .iter()
            .filter(|p| !p.ends_with(".fish"))
            .cloned()
            .collect();
        assert!(check_plist(&plist, &fewer, false)
            .unwrap_err()
            .contains("cudajail.fish"));
        let _ = std::fs::remove_dir_all(prefix.parent().unwrap().parent().unwrap());
    }
}
