//! `exec`, `run` and `sync-driver`: programs in and for the jail.

use super::{load_spec, resolve, sim_upgrade_driver, target, with_env, with_env_prep, Failure};
use crate::{engine, shim};
use std::path::Path;

/// `cudajail exec [-u USER] NAME -- COMMAND`.
pub(crate) fn exec(
    name: &str,
    user: Option<&str>,
    command: &[String],
    sim: bool,
) -> Result<String, Failure> {
    let jn = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(u) = user {
        if u.is_empty()
            || !u
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            || u.starts_with('-')
        {
            return Err(Failure::Usage(format!(
                "-u {u:?}: a user name (letters, digits, _ - .)"
            )));
        }
    }
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
