//! `cudajail up`: every step not done yet, with a progress bar on a terminal.

use super::{load_spec, with_env, Failure};
use crate::{engine, shim};
use std::path::Path;

/// `cudajail up`.
pub(crate) fn up(
    spec: Option<&Path>,
    persist: bool,
    sim: bool,
    json: bool,
) -> Result<String, Failure> {
    let mut v = load_spec(spec)?;
    v.spec.persist_config |= persist;
    with_env(sim, &v, |env| {
        let p = engine::plan(env, &v)?;
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal();
        let mut n = 0;
        let mut progress = |id: &str| {
            n += 1;
            if tty {
                let bar = "#".repeat(n) + &".".repeat(engine::STEPS.len() - n);
                eprint!("\r[{bar}] {n}/{} {id:<9}", engine::STEPS.len());
            }
        };
        let r = engine::up_with_progress(env, &v, &p, &mut progress);
        if tty {
            eprintln!();
        }
        let r = r?;
        Ok(if json {
            serde_json::to_string_pretty(&r)?
        } else {
            let mut t: String = r
                .iter()
                .map(|s| format!("{:<9} {}\n", s.id, s.outcome))
                .collect();
            t.push_str(&format!(
                "jail {} is up at {}; run Linux programs with `cudajail exec {} -- <program>`{}",
                p.name,
                p.root,
                p.name,
                if v.spec.cuda_check {
                    format!(
                        " (the CUDA check again: `cudajail exec {} -- {}`)",
                        p.name,
                        shim::PROBE_PATH
                    )
                } else {
                    String::new()
                }
            ));
            t
        })
    })
}
