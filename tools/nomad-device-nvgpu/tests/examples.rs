//! The Nomad files in examples/nomad parse as HCL and say what the plugin understands: the
//! agent's plugin block uses the executable's name and only attributes of the plugin's schema
//! with the right types; the job asks for `nvidia/gpu` devices as the plugin fingerprints them.

use hcl::{Block, Body, Expression};
use std::path::Path;

fn parse(name: &str) -> Body {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/nomad")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap();
    hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
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

#[test]
fn the_client_config_loads_the_plugin_by_its_executable_name_with_its_schema() {
    let body = parse("client.hcl");
    let plugin = blocks(&body, "plugin")
        .find(|b| label(b) == nomad::service::PLUGIN_NAME)
        .expect("a plugin block for nomad-device-nvgpu");
    let config = blocks(plugin.body(), "config")
        .next()
        .expect("a config block");
    let Some(hcl_schema) = nomad::config::schema().block else {
        panic!()
    };
    let nomad::proto::hashicorp::nomad::plugins::shared::hclspec::spec::Block::Object(o) =
        hcl_schema
    else {
        panic!("the schema is an object")
    };
    for a in config.body().attributes() {
        let key = a.key();
        assert!(
            o.attributes.contains_key(key),
            "{key} is not in the plugin's schema"
        );
        let ok = match (key, a.expr()) {
            ("enabled", Expression::Bool(_)) => true,
            ("fingerprint_period", Expression::String(s)) => {
                nomad::config::parse_go_duration(s).is_some()
            }
            ("ignored_gpu_ids", Expression::Array(v)) => {
                v.iter().all(|x| matches!(x, Expression::String(_)))
            }
            _ => false,
        };
        assert!(ok, "{key} has the wrong type");
    }
}

#[test]
fn the_job_asks_for_an_nvidia_gpu_as_the_plugin_names_it() {
    let body = parse("gpu-smoke.nomad.hcl");
    let job = blocks(&body, "job").next().expect("a job");
    let mut devices = Vec::new();
    for g in blocks(job.body(), "group") {
        for t in blocks(g.body(), "task") {
            for r in blocks(t.body(), "resources") {
                devices.extend(blocks(r.body(), "device").map(label));
            }
        }
    }
    let want = format!("{}/{}", nomad::device::VENDOR, nomad::device::DEVICE_TYPE);
    assert_eq!(devices, [want]);
}
