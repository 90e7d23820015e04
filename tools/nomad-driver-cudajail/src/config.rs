//! What the agent and the job say: the driver's `plugin "nomad-driver-cudajail" { config {…} }`
//! block and a task's `config {…}` block, their hclspec schemas and their go-cty msgpack
//! decoding.
//!
//! ```hcl
//! task "llama" {
//!   driver = "cudajail"
//!   config {
//!     command = "/opt/llama.cpp/build/bin/llama-server"
//!     args    = ["-m", "/models/llama.gguf"]
//!     recipe  = "llama-cpp"
//!   }
//!   resources { device "nvidia/gpu" { count = 1 } }
//! }
//! ```

use nomad::msgpack::{self, Value};
use nomad::proto::hashicorp::nomad::plugins::shared::hclspec::{self as hcl, spec::Block};
use std::collections::HashMap;
use std::path::PathBuf;

fn spec(b: Block) -> hcl::Spec {
    hcl::Spec { block: Some(b) }
}

fn attr(name: &str, ty: &str, required: bool) -> hcl::Spec {
    spec(Block::Attr(hcl::Attr {
        name: name.into(),
        r#type: ty.into(),
        required,
    }))
}

fn defaulted(name: &str, ty: &str, literal: &str) -> hcl::Spec {
    spec(Block::Default(Box::new(hcl::Default {
        primary: Some(Box::new(attr(name, ty, false))),
        default: Some(Box::new(spec(Block::Literal(hcl::Literal {
            value: literal.into(),
        })))),
    })))
}

fn object(attrs: Vec<(&str, hcl::Spec)>) -> hcl::Spec {
    let attributes: HashMap<String, hcl::Spec> =
        attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    spec(Block::Object(hcl::Object { attributes }))
}

/// The driver's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// The ZFS pool the jails are made on (`None`: the host's, as `cudajail up` picks it).
    pub pool: Option<String>,
    /// Where each task's state is kept (its supervisor's pid, its exit status).
    pub state_dir: PathBuf,
    /// Host directories below which a task may bind paths into its jail (`binds`); empty: no
    /// task may bind anything. Jobs are written by whoever may submit them; the operator
    /// decides which host files they reach.
    pub bind_roots: Vec<String>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            pool: None,
            state_dir: PathBuf::from("/var/db/nomad-driver-cudajail"),
            bind_roots: Vec::new(),
        }
    }
}

/// An absolute path without `.`/`..` components or doubled slashes, trailing slash dropped.
fn clean_abs(p: &str) -> Option<String> {
    let body = p.strip_prefix('/')?.trim_end_matches('/');
    if body.is_empty() {
        return Some("/".into());
    }
    if body
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    Some(format!("/{body}"))
}

impl DriverConfig {
    /// Creates `state_dir` (0700) if missing and checks it is a directory of this user that
    /// nobody else may write: the driver reads pids from it and signals them as root.
    ///
    /// # Errors
    /// It cannot be made, is a symlink or not a directory, belongs to another user, or is
    /// group- or world-writable (the message says how to fix it).
    pub fn prepare_state_dir(&self, euid: u32) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let d = &self.state_dir;
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d)
        {
            return Err(format!("state_dir {}: {e}", d.display()));
        }
        let m =
            std::fs::symlink_metadata(d).map_err(|e| format!("state_dir {}: {e}", d.display()))?;
        if !m.file_type().is_dir() {
            return Err(format!(
                "state_dir {} is not a directory (a symlink?)",
                d.display()
            ));
        }
        if m.uid() != euid || m.mode() & 0o022 != 0 {
            return Err(format!(
                "state_dir {} is owned by uid {} with mode {:o}: the driver signals the pids it keeps there, so it must be this user's ({euid}) and writable by nobody else (chown {euid} {0}; chmod 0700 {0})",
                d.display(),
                m.uid(),
                m.mode() & 0o7777
            ));
        }
        Ok(())
    }

    /// Whether `host` lies at or below one of [`DriverConfig::bind_roots`] (compared by path
    /// components, after refusing `..`).
    pub fn bind_allowed(&self, host: &str) -> bool {
        let Some(h) = clean_abs(host) else {
            return false;
        };
        self.bind_roots
            .iter()
            .filter_map(|r| clean_abs(r))
            .any(|r| r == "/" || h == r || h.starts_with(&format!("{r}/")))
    }
}

/// The driver block's schema.
pub fn driver_schema() -> hcl::Spec {
    object(vec![
        ("pool", attr("pool", "string", false)),
        (
            "state_dir",
            defaulted("state_dir", "string", "\"/var/db/nomad-driver-cudajail\""),
        ),
        ("bind_roots", defaulted("bind_roots", "list(string)", "[]")),
    ])
}

fn get_str(v: &Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn get_bool(v: &Value, key: &str) -> Result<Option<bool>, String> {
    match v.get(key) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{key} must be a bool")),
    }
}

fn get_strings(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v.get(key) {
        None | Some(Value::Nil) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{key} must be a list of strings")),
        Some(_) => Err(format!("{key} must be a list of strings")),
    }
}

fn object_of(b: &[u8], what: &str) -> Result<Value, String> {
    if b.is_empty() {
        return Ok(Value::Map(Vec::new()));
    }
    let v = msgpack::decode(b).map_err(|e| format!("{what}: {e}"))?;
    match v {
        Value::Map(_) => Ok(v),
        Value::Nil => Ok(Value::Map(Vec::new())),
        _ => Err(format!("{what}: not an object")),
    }
}

impl DriverConfig {
    /// Decodes `SetConfigRequest.msgpack_config`.
    ///
    /// # Errors
    /// Malformed msgpack, a wrong type, a relative `state_dir`.
    pub fn from_msgpack(b: &[u8]) -> Result<DriverConfig, String> {
        let v = object_of(b, "driver config")?;
        let mut c = DriverConfig {
            pool: get_str(&v, "pool").map_err(|e| format!("driver config: {e}"))?,
            ..DriverConfig::default()
        };
        if let Some(d) = get_str(&v, "state_dir").map_err(|e| format!("driver config: {e}"))? {
            if !d.starts_with('/') {
                return Err(format!(
                    "driver config: state_dir {d:?} must be an absolute path"
                ));
            }
            c.state_dir = PathBuf::from(d);
        }
        c.bind_roots = get_strings(&v, "bind_roots").map_err(|e| format!("driver config: {e}"))?;
        for r in &c.bind_roots {
            if clean_abs(r).is_none() {
                return Err(format!("driver config: bind_roots entry {r:?} must be an absolute path without . or .."));
            }
        }
        Ok(c)
    }
}

/// A task's `config` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSettings {
    /// The program, as the jail sees it.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The distribution suite of the jail (`noble`).
    pub suite: String,
    /// A cudajail recipe (`pytorch`, `llama-cpp`, `comfyui`).
    pub recipe: Option<String>,
    /// Whether `up` runs its CUDA check in the jail before the task starts.
    pub cuda_check: bool,
    /// `inherit` (the host's addresses) or `none`.
    pub network: String,
    /// Host directories bound into the jail: `HOST:TARGET`, `HOST:TARGET:rw` (read-only
    /// unless `rw`); allowed only below the driver's `bind_roots`.
    pub binds: Vec<linuxulator::mount::Bind>,
}

/// The task block's schema.
pub fn task_schema() -> hcl::Spec {
    object(vec![
        ("command", attr("command", "string", true)),
        ("args", defaulted("args", "list(string)", "[]")),
        ("suite", defaulted("suite", "string", "\"noble\"")),
        ("recipe", attr("recipe", "string", false)),
        ("cuda_check", defaulted("cuda_check", "bool", "false")),
        ("network", defaulted("network", "string", "\"inherit\"")),
        ("binds", defaulted("binds", "list(string)", "[]")),
    ])
}

impl TaskSettings {
    /// Decodes `TaskConfig.msgpack_driver_config`.
    ///
    /// # Errors
    /// Malformed msgpack, a missing command, a wrong type (named).
    pub fn from_msgpack(b: &[u8]) -> Result<TaskSettings, String> {
        let v = object_of(b, "task config")?;
        let e = |x: String| format!("task config: {x}");
        let command = get_str(&v, "command")
            .map_err(e)?
            .filter(|c| !c.is_empty())
            .ok_or("task config: command is required")?;
        let args = get_strings(&v, "args").map_err(e)?;
        let mut binds = Vec::new();
        for b in get_strings(&v, "binds").map_err(e)? {
            let parts: Vec<&str> = b.split(':').collect();
            let (host, target, rw) = match parts.as_slice() {
                [h, t] => (*h, *t, false),
                [h, t, "rw"] => (*h, *t, true),
                [h, t, "ro"] => (*h, *t, false),
                _ => {
                    return Err(format!(
                        "task config: bind {b:?} is not HOST:TARGET[:rw|:ro]"
                    ))
                }
            };
            binds.push(linuxulator::mount::Bind {
                host: host.into(),
                target: target.into(),
                rw,
            });
        }
        Ok(TaskSettings {
            command,
            args,
            suite: get_str(&v, "suite")
                .map_err(e)?
                .unwrap_or_else(|| "noble".into()),
            recipe: get_str(&v, "recipe").map_err(e)?,
            cuda_check: get_bool(&v, "cuda_check").map_err(e)?.unwrap_or(false),
            network: get_str(&v, "network")
                .map_err(e)?
                .unwrap_or_else(|| "inherit".into()),
            binds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: Vec<(&str, Value)>) -> Vec<u8> {
        msgpack::encode(&Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::Str(k.into()), v))
                .collect(),
        ))
    }

    #[test]
    fn task_settings_from_go_cty_msgpack() {
        let t = TaskSettings::from_msgpack(&m(vec![
            ("command", Value::Str("/bin/sh".into())),
            (
                "args",
                Value::Array(vec![Value::Str("-c".into()), Value::Str("true".into())]),
            ),
            ("recipe", Value::Nil),
            ("suite", Value::Nil),
        ]))
        .unwrap();
        assert_eq!(
            (t.command.as_str(), t.args.len(), t.suite.as_str()),
            ("/bin/sh", 2, "noble")
        );
        assert!(t.recipe.is_none() && !t.cuda_check && t.network == "inherit");
        assert!(TaskSettings::from_msgpack(&m(vec![]))
            .unwrap_err()
            .contains("command is required"));
        let e = TaskSettings::from_msgpack(&m(vec![
            ("command", Value::Str("x".into())),
            ("args", Value::Array(vec![Value::Int(1)])),
        ]));
        assert!(e.unwrap_err().contains("args"));
        assert!(TaskSettings::from_msgpack(&[0xc1]).is_err());
        let t = TaskSettings::from_msgpack(&m(vec![
            ("command", Value::Str("x".into())),
            (
                "binds",
                Value::Array(vec![
                    Value::Str("/a:/b".into()),
                    Value::Str("/c:/d:rw".into()),
                ]),
            ),
        ]))
        .unwrap();
        assert_eq!(
            (t.binds.len(), t.binds[0].rw, t.binds[1].rw),
            (2, false, true)
        );
        assert!(TaskSettings::from_msgpack(&m(vec![
            ("command", Value::Str("x".into())),
            ("binds", Value::Array(vec![Value::Str("/a".into())])),
        ]))
        .is_err());
    }

    #[test]
    fn driver_config_from_go_cty_msgpack() {
        assert_eq!(
            DriverConfig::from_msgpack(&[]).unwrap(),
            DriverConfig::default()
        );
        let c = DriverConfig::from_msgpack(&m(vec![
            ("pool", Value::Str("tank".into())),
            ("state_dir", Value::Str("/tmp/x".into())),
        ]))
        .unwrap();
        assert_eq!(
            (c.pool.as_deref(), c.state_dir.to_str()),
            (Some("tank"), Some("/tmp/x"))
        );
        assert!(
            DriverConfig::from_msgpack(&m(vec![("state_dir", Value::Str("rel".into()))])).is_err()
        );
        let c = DriverConfig {
            bind_roots: vec!["/tank/models".into(), "/data/".into()],
            ..DriverConfig::default()
        };
        for ok in ["/tank/models", "/tank/models/llama", "/data/x"] {
            assert!(c.bind_allowed(ok), "{ok}");
        }
        for no in [
            "/tank/modelsX",
            "/tank",
            "/tank/models/../../etc",
            "relative",
            "/etc",
            "/tank//models/x",
        ] {
            assert!(!c.bind_allowed(no), "{no}");
        }
        assert!(
            !DriverConfig::default().bind_allowed("/tank/models"),
            "nothing without bind_roots"
        );
        let r = DriverConfig::from_msgpack(&m(vec![(
            "bind_roots",
            Value::Array(vec![Value::Str("/x/../etc".into())]),
        )]));
        assert!(r.unwrap_err().contains("bind_roots"));
    }

    #[test]
    fn the_state_dir_must_be_ours_and_closed_to_others() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let base = std::env::temp_dir().join(format!("driver-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let c = DriverConfig {
            state_dir: base.join("state"),
            ..DriverConfig::default()
        };
        let me = crate::sys::geteuid();
        c.prepare_state_dir(me).unwrap();
        assert_eq!(
            std::fs::metadata(&c.state_dir).unwrap().mode() & 0o777,
            0o700
        );
        std::fs::set_permissions(&c.state_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(c.prepare_state_dir(me).unwrap_err().contains("chmod 0700"));
        std::fs::set_permissions(&c.state_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(c
            .prepare_state_dir(me + 1)
            .unwrap_err()
            .contains("owned by"));
        std::fs::remove_dir(&c.state_dir).unwrap();
        std::os::unix::fs::symlink("/tmp", &c.state_dir).unwrap();
        assert!(c
            .prepare_state_dir(me)
            .unwrap_err()
            .contains("not a directory"));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn the_schemas_name_their_attributes() {
        for (s, want) in [
            (
                task_schema(),
                vec![
                    "args",
                    "binds",
                    "command",
                    "cuda_check",
                    "network",
                    "recipe",
                    "suite",
                ],
            ),
            (driver_schema(), vec!["bind_roots", "pool", "state_dir"]),
        ] {
            let Some(Block::Object(o)) = s.block else {
                panic!()
            };
            let mut k: Vec<String> = o.attributes.keys().cloned().collect();
            k.sort();
            assert_eq!(k, want);
        }
    }
}
