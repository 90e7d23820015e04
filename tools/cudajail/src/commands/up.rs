//! `cudajail up`: every step not done yet, with a progress bar on a terminal.

use super::{load_spec, with_env, Failure};
use crate::{engine, shim};
use std::path::Path;

/// `cudajail up`.
pub(crate) fn up(
    spec: Option<&Path>,
    persist: bool,
    recipe: Option<&str>,
    sim: bool,
    json: bool,
) -> Result<String, Failure> {
    let mut v = load_spec(spec)?;
    v.spec.persist_config |= persist;
    if let Some(r) = recipe {
        crate::recipe::Recipe::builtin(r).map_err(|e| Failure::Usage(e.to_string()))?;
        v.spec.recipe = Some(r.to_string());
    }
    with_env(sim, &v, |env| {
        let p = match engine::plan(env, &v) {
            Ok(p) => p,
            Err(e) if json => return Ok(Err(json_failure(None, &format!("{e:#}")))),
            Err(e) => return Err(e),
        };
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal();
        let started = std::time::Instant::now();
        let mut n = 0;
        let total = engine::STEPS.len() + usize::from(v.spec.recipe.is_some());
        let mut progress = |id: &str| {
            n += 1;
            if tty {
                let bar = "#".repeat(n) + &".".repeat(total - n);
                eprint!("\r[{bar}] {n}/{total} {id:<9}");
            } else {
                // Piped or logged: one line per step as it starts.
                eprintln!(
                    "cudajail: step {n}/{total} {id} ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        };
        let r = engine::up_with_progress(env, &v, &p, &mut progress);
        if tty {
            eprintln!();
        }
        let r = match r {
            Ok(r) => r,
            Err(e) if json => {
                let step = e.downcast_ref::<engine::StepFailed>().map(|s| s.step);
                return Ok(Err(json_failure(step, &format!("{e:#}"))));
            }
            Err(e) => return Err(e),
        };
        Ok(Ok(if json {
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
        }))
    })?
}

/// `up --json` when it fails: `{"ok": false, "failed_step": "jail" | null, "error": "…"}`
/// (`docs/json.md`), exit 1.
fn json_failure(step: Option<&str>, message: &str) -> Failure {
    let out = serde_json::to_string_pretty(&serde_json::json!({
        "ok": false,
        "failed_step": step,
        "error": message,
    }))
    .unwrap_or_default();
    Failure::Report {
        out,
        summary: message.lines().next().unwrap_or_default().to_string(),
    }
}
