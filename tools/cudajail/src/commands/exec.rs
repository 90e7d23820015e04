//! `exec`, `run` and `sync-driver`: programs in and for the jail.

use super::{load_spec, resolve, sim_upgrade_driver, target, with_env, with_env_prep, Failure};
use crate::{engine, shim};
use std::path::Path;

/// A user name as `-u` takes it.
fn check_user(user: Option<&str>) -> Result<(), Failure> {
    if let Some(u) = user {
        if u.is_empty()
            || u.starts_with('-')
            || !u
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(Failure::Usage(format!(
                "-u {u:?}: a user name (letters, digits, _ - .)"
            )));
        }
    }
    Ok(())
}

/// `cudajail exec [-u USER] NAME -- COMMAND`.
pub(crate) fn exec(
    name: &str,
    user: Option<&str>,
    command: &[String],
    sim: bool,
) -> Result<String, Failure> {
    let jn = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
    check_user(user)?;
    let v = load_spec(None)?;
    let mut argv: Vec<&str> = Vec::new();
    if let Some(u) = user {
        // util-linux's runuser (Essential in Debian and Ubuntu): switch to the user, with
        // their groups, without asking for a password; root runs it.
        argv.extend(["/usr/sbin/runuser", "-u", u, "--"]);
    }
    argv.extend(command.iter().map(String::as_str));
    with_env(sim, &v, |env| {
        let j = env.jail.get(&jn)?.ok_or_else(|| {
            anyhow::anyhow!("jail {name} is not running; start it with `cudajail start {name}`")
        })?;
        let (code, out) = env.exec.exec(j.jid, &argv)?;
        if code != 0 {
            anyhow::bail!("{}\n{} exited with {code}", out.trim_end(), command[0]);
        }
        Ok(out)
    })
}

/// `cudajail console [-u USER] NAME`: bash as a login shell (root), or `runuser -l USER`.
pub(crate) fn console(name: &str, user: Option<&str>, sim: bool) -> Result<String, Failure> {
    let jn = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
    check_user(user)?;
    let v = load_spec(None)?;
    let argv: Vec<&str> = match user {
        Some(u) => vec!["/usr/sbin/runuser", "-l", u],
        None => vec!["/bin/bash", "-l"],
    };
    with_env(sim, &v, |env| {
        let j = env.jail.get(&jn)?.ok_or_else(|| {
            anyhow::anyhow!("jail {name} is not running; start it with `cudajail start {name}`")
        })?;
        if let Some(u) = user {
            // The user must exist in the jail before a terminal is handed over.
            let (code, out) = env
                .exec
                .exec(j.jid, &["/usr/sbin/runuser", "-u", u, "--", "id", "-un"])?;
            if code != 0 {
                anyhow::bail!(
                    "{} (mirror the host user with `users = [\"{u}\"]` in the spec)",
                    out.trim_end()
                );
            }
        }
        if sim {
            return Ok(format!(
                "would open a login shell in jail {name} (jid {}): {}",
                j.jid,
                argv.join(" ")
            ));
        }
        interactive(j.jid, &argv)
    })
}

/// Runs `argv` in the jail on this terminal (stdin, stdout, stderr inherited), with the
/// jail's clean environment and the caller's `TERM`.
#[cfg(target_os = "freebsd")]
fn interactive(jid: jail::Jid, argv: &[&str]) -> anyhow::Result<String> {
    use jail::JailCommandExt;
    let mut cmd = std::process::Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(jail::exec::JAIL_ENV.iter().copied())
        .jail(jid);
    if let Ok(t) = std::env::var("TERM") {
        cmd.env("TERM", t);
    }
    let st = cmd.status()?;
    if !st.success() {
        anyhow::bail!("{} exited with {st}", argv[0]);
    }
    Ok(String::new())
}

#[cfg(not(target_os = "freebsd"))]
fn interactive(_jid: jail::Jid, _argv: &[&str]) -> anyhow::Result<String> {
    anyhow::bail!("a console needs a FreeBSD host")
}

/// `cudajail run -- COMMAND` (the Linuxulator route, no jail), or `run --install-shim` /
/// `--uninstall-shim`.
pub(crate) fn run(
    command: &[String],
    install: bool,
    uninstall: bool,
    sim: bool,
) -> Result<String, Failure> {
    let v = load_spec(None)?;
    let prep = |h: &hostsim::SimHost| {
        // A Linux root with the shim built, as the error message tells a user to do.
        let _ =
            h.with_state(|s| s.write_file(&format!("/compat/linux{}", shim::SHIM_PATH), b"ELF"));
    };
    with_env_prep(sim, &v, prep, |env| {
        if install {
            return Ok(engine::run_install_shim(env)?.join("\n"));
        }
        if uninstall {
            return Ok(engine::run_uninstall_shim(env)?.join("\n"));
        }
        let out = engine::run_prepare(env)?;
        let (k, val) = engine::RUN_PRELOAD;
        let preload = match std::env::var(k) {
            Ok(old) if !old.is_empty() => format!("{val}:{old}"),
            _ => val.to_string(),
        };
        if sim {
            let mut out = out;
            out.push(format!("would run: {k}={preload} {}", command.join(" ")));
            return Ok(out.join("\n"));
        }
        for l in &out {
            eprintln!("cudajail: {l}");
        }
        let st = std::process::Command::new(&command[0])
            .args(&command[1..])
            .env(k, &preload)
            .status()?;
        if !st.success() {
            anyhow::bail!("{} exited with {st}", command[0]);
        }
        Ok(String::new())
    })
}

/// `cudajail sync-driver [NAME|SPEC]`.
pub(crate) fn sync_driver(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let t = target(spec)?;
    let d = load_spec(None)?;
    // On the simulated host: the driver upgrade this command exists for.
    with_env_prep(sim, &d, sim_upgrade_driver, |env| {
        let v = resolve(env, &t)?;
        let p = engine::plan(env, &v)?;
        Ok(engine::sync_driver(env, &p)?.join("\n"))
    })
}
