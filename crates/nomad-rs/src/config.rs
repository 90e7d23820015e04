//! The device plugin's configuration block: its schema (what `ConfigSchema` answers, as
//! hcldec spec messages) and its decoding from go-cty msgpack (what `SetConfig` carries).
//!
//! ```hcl
//! plugin "nomad-device-nvgpu" {
//!   config {
//!     enabled            = true
//!     ignored_gpu_ids    = ["GPU-3f2a…"]
//!     fingerprint_period = "1m"
//!   }
//! }
//! ```
//! The names and defaults are those of NVIDIA's own Nomad device plugin, so a client
//! configuration written for it works unchanged.

use crate::msgpack::{self, Value};
use crate::proto::hashicorp::nomad::plugins::shared::hclspec::{self as hcl, spec::Block};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The shortest fingerprint period accepted (the plugin re-reads the driver this often).
pub const MIN_PERIOD: Duration = Duration::from_millis(10);

/// The device plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// `false`: fingerprint no devices at all.
    pub enabled: bool,
    /// GPU UUIDs never offered to Nomad.
    pub ignored_gpu_ids: BTreeSet<String>,
    /// How often the driver is asked again for changes.
    pub fingerprint_period: Duration,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            enabled: true,
            ignored_gpu_ids: BTreeSet::new(),
            fingerprint_period: Duration::from_secs(60),
        }
    }
}

fn spec(b: Block) -> hcl::Spec {
    hcl::Spec { block: Some(b) }
}

fn defaulted(name: &str, ty: &str, literal: &str) -> hcl::Spec {
    spec(Block::Default(Box::new(hcl::Default {
        primary: Some(Box::new(spec(Block::Attr(hcl::Attr {
            name: name.into(),
            r#type: ty.into(),
            required: false,
        })))),
        default: Some(Box::new(spec(Block::Literal(hcl::Literal {
            value: literal.into(),
        })))),
    })))
}

/// The schema `ConfigSchema` answers: an object of three optional attributes with defaults.
pub fn schema() -> hcl::Spec {
    let mut attributes = HashMap::new();
    attributes.insert("enabled".to_string(), defaulted("enabled", "bool", "true"));
    attributes.insert(
        "ignored_gpu_ids".to_string(),
        defaulted("ignored_gpu_ids", "list(string)", "[]"),
    );
    attributes.insert(
        "fingerprint_period".to_string(),
        defaulted("fingerprint_period", "string", "\"1m\""),
    );
    spec(Block::Object(hcl::Object { attributes }))
}

impl DeviceConfig {
    /// Decodes `SetConfigRequest.msgpack_config`. Empty input (a plugin loaded with no config)
    /// is the defaults; nil attributes take their defaults.
    ///
    /// # Errors
    /// Malformed msgpack, a value of the wrong type, or a bad or too short period; the message
    /// names the attribute.
    pub fn from_msgpack(b: &[u8]) -> Result<DeviceConfig, String> {
        let mut c = DeviceConfig::default();
        if b.is_empty() {
            return Ok(c);
        }
        let v = msgpack::decode(b).map_err(|e| format!("config: {e}"))?;
        if !matches!(v, Value::Map(_) | Value::Nil) {
            return Err("config: not an object".into());
        }
        match v.get("enabled") {
            None | Some(Value::Nil) => {}
            Some(Value::Bool(x)) => c.enabled = *x,
            Some(_) => return Err("config: enabled must be a bool".into()),
        }
        match v.get("ignored_gpu_ids") {
            None | Some(Value::Nil) => {}
            Some(Value::Array(a)) => {
                for x in a {
                    let s = x
                        .as_str()
                        .ok_or("config: ignored_gpu_ids must be a list of strings")?;
                    c.ignored_gpu_ids.insert(s.to_string());
                }
            }
            Some(_) => return Err("config: ignored_gpu_ids must be a list of strings".into()),
        }
        match v.get("fingerprint_period") {
            None | Some(Value::Nil) => {}
            Some(Value::Str(s)) => {
                let d = parse_go_duration(s)
                    .ok_or_else(|| format!("config: fingerprint_period {s:?} is not a duration such as \"1m\" or \"500ms\""))?;
                if d < MIN_PERIOD {
                    return Err(format!(
                        "config: fingerprint_period {s:?} is shorter than {}ms",
                        MIN_PERIOD.as_millis()
                    ));
                }
                c.fingerprint_period = d;
            }
            Some(_) => return Err("config: fingerprint_period must be a string".into()),
        }
        Ok(c)
    }
}

/// Parses a duration as Go's `time.ParseDuration` writes them: `"0"`, or signed-free decimal
/// numbers each followed by a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), such as
/// `"1h30m"` or `"1.5s"`. Negative durations and texts over 64 bytes are refused (`None`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let x: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let (nanos, len) = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("μs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ]
        .iter()
        .filter(|(u, _)| rest.starts_with(u))
        .map(|(u, n)| (*n, u.len()))
        .max_by_key(|(_, l)| *l)?;
        rest = &rest[len..];
        total += x * nanos;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(parse_go_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("10µs"), Some(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "1", "m", "-1s", "1x", "1..2s", ".s", "1s2"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_from_go_cty_msgpack() {
        assert_eq!(
            DeviceConfig::from_msgpack(&[]).unwrap(),
            DeviceConfig::default()
        );
        let m = |pairs: Vec<(&str, Value)>| {
            msgpack::encode(&Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::Str(k.into()), v))
                    .collect(),
            ))
        };
        let c = DeviceConfig::from_msgpack(&m(vec![
            ("enabled", Value::Bool(false)),
            ("fingerprint_period", Value::Str("250ms".into())),
            (
                "ignored_gpu_ids",
                Value::Array(vec![Value::Str("GPU-1".into())]),
            ),
        ]))
        .unwrap();
        assert!(!c.enabled);
        assert_eq!(c.fingerprint_period, Duration::from_millis(250));
        assert!(c.ignored_gpu_ids.contains("GPU-1"));
        // Unset attributes arrive as nil: defaults.
        let c = DeviceConfig::from_msgpack(&m(vec![("enabled", Value::Nil)])).unwrap();
        assert!(c.enabled);
        let e = DeviceConfig::from_msgpack(&m(vec![("enabled", Value::Str("yes".into()))]));
        assert!(e.unwrap_err().contains("enabled"));
        let e =
            DeviceConfig::from_msgpack(&m(vec![("fingerprint_period", Value::Str("1ms".into()))]));
        assert!(e.unwrap_err().contains("shorter"));
        let e = DeviceConfig::from_msgpack(&m(vec![(
            "ignored_gpu_ids",
            Value::Array(vec![Value::Int(1)]),
        )]));
        assert!(e.unwrap_err().contains("ignored_gpu_ids"));
        assert!(DeviceConfig::from_msgpack(&[0x91]).is_err());
    }

    #[test]
    fn the_schema_names_every_attribute_with_a_default() {
        let Some(Block::Object(o)) = schema().block else {
            panic!("not an object")
        };
        let mut names: Vec<_> = o.attributes.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["enabled", "fingerprint_period", "ignored_gpu_ids"]);
        assert!(o
            .attributes
            .values()
            .all(|s| matches!(s.block, Some(Block::Default(_)))));
    }

    proptest! {
        #[test]
        fn any_duration_text_parses_without_panic(s in ".{0,70}") {
            let _ = parse_go_duration(&s);
        }
        #[test]
        fn any_config_bytes_decode_without_panic(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = DeviceConfig::from_msgpack(&b);
        }
    }
}
