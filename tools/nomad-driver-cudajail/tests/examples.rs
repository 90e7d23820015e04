//! examples/nomad/llama.nomad.hcl parses as HCL and uses the driver as it is: `driver =
//! "cudajail"`, a `config` block with only attributes of the driver's task schema (required
//! ones present, types right, the recipe one cudajail ships), and a GPU device request; the
//! agent's plugin block for the driver uses only the driver schema's attributes.

use hcl::{Block, Body, Expression};
use nomad::proto::hashicorp::nomad::plugins::shared::hclspec::{self, spec::Block as S};
use std::path::Path;

fn parse(name: &str) -> Body {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nomad")
        .join(name);
    hcl::parse(&std::fs::read_to_string(&p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn blocks<'a>(b: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    b.blocks().filter(move |x| x.identifier() == ident)
}

fn label(b: &Block) -> String {
    b.labels()
        .first()
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

/// (name, type, required) of an object schema's attributes.
fn attrs(s: hclspec::Spec) -> Vec<(String, String, bool)> {
    let Some(S::Object(o)) = s.block else {
        panic!("an object schema")
    };
    o.attributes
        .into_iter()
        .map(|(k, v)| match v.block {
            Some(S::Attr(a)) => (k, a.r#type, a.required),
            Some(S::Default(d)) => match d.primary.and_then(|p| p.block) {
                Some(S::Attr(a)) => (k, a.r#type, false),
                _ => panic!("{k}"),
            },
            _ => panic!("{k}"),
        })
        .collect()
}

fn typed(ty: &str, e: &Expression) -> bool {
    match (ty, e) {
        ("string", Expression::String(_)) | ("bool", Expression::Bool(_)) => true,
        ("list(string)", Expression::Array(v)) => {
            v.iter().all(|x| matches!(x, Expression::String(_)))
        }
        _ => false,
    }
}

fn check_against(body: &Body, schema: hclspec::Spec) {
    let a = attrs(schema);
    for at in body.attributes() {
        let (_, ty, _) = a
            .iter()
            .find(|(k, _, _)| k == at.key())
            .unwrap_or_else(|| panic!("{} is not in the schema", at.key()));
        assert!(typed(ty, at.expr()), "{} is not a {ty}", at.key());
    }
    for (k, _, req) in &a {
        assert!(
            !req || body.attributes().any(|x| x.key() == k),
            "required {k} missing"
        );
    }
}

#[test]
fn the_llama_job_uses_the_driver_as_it_is() {
    let body = parse("llama.nomad.hcl");
    let job = blocks(&body, "job").next().unwrap();
    let task = blocks(job.body(), "group")
        .flat_map(|g| blocks(g.body(), "task"))
        .next()
        .unwrap();
    let driver = task
        .body()
        .attributes()
        .find(|a| a.key() == "driver")
        .unwrap();
    assert!(
        matches!(driver.expr(), Expression::String(s) if s == cudajail_driver::service::DRIVER_NAME)
    );
    let config = blocks(task.body(), "config").next().unwrap();
    check_against(config.body(), cudajail_driver::config::task_schema());
    let recipe = config
        .body()
        .attributes()
        .find(|a| a.key() == "recipe")
        .unwrap();
    let Expression::String(r) = recipe.expr() else {
        panic!()
    };
    assert!(
        cudajail::recipe::Recipe::builtin(r).is_ok(),
        "cudajail ships recipe {r}"
    );
    // Its binds are allowed by the example agent's bind_roots.
    let client = parse("client.hcl");
    let plugin = blocks(&client, "plugin")
        .find(|b| label(b) == "nomad-driver-cudajail")
        .unwrap();
    let roots: Vec<String> = match blocks(plugin.body(), "config")
        .next()
        .unwrap()
        .body()
        .attributes()
        .find(|a| a.key() == "bind_roots")
        .map(|a| a.expr().clone())
    {
        Some(Expression::Array(v)) => v
            .iter()
            .map(|x| x.to_string().trim_matches('"').to_string())
            .collect(),
        _ => Vec::new(),
    };
    let cfg = cudajail_driver::config::DriverConfig {
        bind_roots: roots,
        ..Default::default()
    };
    if let Some(b) = config.body().attributes().find(|a| a.key() == "binds") {
        let Expression::Array(v) = b.expr() else {
            panic!()
        };
        for x in v {
            let Expression::String(s) = x else { panic!() };
            let host = s.split(':').next().unwrap();
            assert!(
                cfg.bind_allowed(host),
                "{host} is not below the agent's bind_roots {:?}",
                cfg.bind_roots
            );
        }
    }
    let devices: Vec<String> = blocks(task.body(), "resources")
        .flat_map(|r| blocks(r.body(), "device").map(label))
        .collect();
    assert_eq!(devices, ["nvidia/gpu"]);
}

#[test]
fn the_client_config_loads_the_driver_with_its_schema() {
    let body = parse("client.hcl");
    let plugin = blocks(&body, "plugin")
        .find(|b| label(b) == "nomad-driver-cudajail")
        .unwrap();
    let config = blocks(plugin.body(), "config").next().unwrap();
    check_against(config.body(), cudajail_driver::config::driver_schema());
}
