//! `cudajail template build|list|rm`.

use super::{load_spec, with_env, Failure};
use crate::engine;

/// `cudajail template …`.
pub(crate) fn template(cmd: &crate::cli::TemplateCmd) -> Result<String, Failure> {
    use crate::cli::TemplateCmd;
    match cmd {
        TemplateCmd::Build { spec, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                let p = engine::plan(env, &v)?;
                let r = engine::template_build(env, &v, &p)?;
                let t = p.recipe_template.as_ref().unwrap_or(&p.template);
                Ok(format!("{}: {} ({t})", r.id, r.outcome))
            })
        }
        TemplateCmd::List { spec, json, sim } => {
            let v = load_spec(spec.as_deref())?;
            with_env(*sim, &v, |env| {
                let l = engine::template_list(env, &v.pool)?;
                Ok(if *json {
                    serde_json::to_string_pretty(&l)?
                } else {
                    l.iter()
                        .map(|t| {
                            format!(
                                "{:<10} {:<10} {:<40} jails: {}",
                                t.suite,
                                t.recipe.as_deref().unwrap_or("-"),
                                t.snapshot.as_deref().unwrap_or("(not built)"),
                                if t.clones.is_empty() {
                                    "-".to_string()
                                } else {
                                    t.clones.join(", ")
                                }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            })
        }
        TemplateCmd::Rm { suite, spec, sim } => {
            let v = load_spec(spec.as_deref())?;
            let su: linuxulator::Suite = suite
                .parse()
                .map_err(|e: linuxulator::Error| Failure::Usage(e.to_string()))?;
            with_env(*sim, &v, |env| {
                Ok(engine::template_rm(env, &v.pool, su)?
                    .iter()
                    .map(|d| format!("destroyed {d}"))
                    .collect::<Vec<_>>()
                    .join("\n"))
            })
        }
    }
}
