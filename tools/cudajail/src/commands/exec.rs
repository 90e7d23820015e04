//! `exec`, `run` and `sync-driver`: programs in and for the jail.

use super::{load_spec, sim_up_first, sim_upgrade_driver, with_env, with_env_prep, Failure};
use crate::{engine, shim};
use std::path::Path;

/// `cudajail exec NAME -- COMMAND`.
pub(crate) fn exec(name: &str, command: &[String], sim: bool) -> Result<String, Failure> {
    let jn = jail::JailName::new(name).map_err(|e| Failure::Usage(e.to_string()))?;
    // The simulated host gets the default jail first; the command runs in the named one.
    let v = load_spec(None)?;
    let argv: Vec<&str> = command.iter().map(String::as_str).collect();
    with_env(sim, &v, |env| {
        sim_up_first(env, &v, sim)?;
        let j = env.jail.get(&jn)?.ok_or_else(|| {
            anyhow::anyhow!("jail {name} is not running; start it with `cudajail start`")
        })?;
        let (code, out) = env.exec.exec(j.jid, &argv)?;
        if code != 0 {
            anyhow::bail!("{}\n{} exited with {code}", out.trim_end(), argv[0]);
        }
        Ok(out)
    })
}

/// `cudajail run -- COMMAND` (the Linuxulator route, no jail).
pub(crate) fn run(command: &[String], sim: bool) -> Result<String, Failure> {
    let v = load_spec(None)?;
    let prep = |h: &hostsim::SimHost| {
        // A Linux root with the shim built, as the error message tells a user to do.
        let _ =
            h.with_state(|s| s.write_file(&format!("/compat/linux{}", shim::SHIM_PATH), b"ELF"));
    };
    with_env_prep(sim, &v, prep, |env| {
        let mut out = engine::run_prepare(env)?;
        if sim {
            out.push(format!("would run: {}", command.join(" ")));
            return Ok(out.join("\n"));
        }
        for l in &out {
            eprintln!("cudajail: {l}");
        }
        let st = std::process::Command::new(&command[0])
            .args(&command[1..])
            .status()?;
        if !st.success() {
            anyhow::bail!("{} exited with {st}", command[0]);
        }
        Ok(String::new())
    })
}

/// `cudajail sync-driver`.
pub(crate) fn sync_driver(spec: Option<&Path>, sim: bool) -> Result<String, Failure> {
    let v = load_spec(spec)?;
    let prep = |h: &hostsim::SimHost| {
        let env = engine::sim_env(h);
        if let Ok(p) = engine::plan(&env, &v) {
            let _ = engine::up(&env, &v, &p);
        }
        sim_upgrade_driver(h);
    };
    with_env_prep(sim, &v, prep, |env| {
        let p = engine::plan(env, &v)?;
        Ok(engine::sync_driver(env, &p)?.join("\n"))
    })
}
