//! Acts as Nomad's plugin loader against the `nomad-device-nvgpu` binary on a simulated host,
//! in the order Nomad calls (`helper/pluginutils/loader`, `client/devicemanager/instance.go`):
//! launch with the cookie, read the protocol line, connect over the unix socket, health check,
//! `PluginInfo`, `ConfigSchema`, `SetConfig` (go-cty msgpack), the `Fingerprint` stream with
//! Nomad's `DeviceGroup.Validate` rules, `Reserve`, the `Stats` stream, faults (a GPU vanishing
//! mid-stream, the driver unloaded), and `Shutdown`.
//!
//! Wire facts checked here against hashicorp/nomad aa026cc99cfb74a77e519a1c1f0c78ba1b452705
//! (`plugins/base/plugin.go`: cookie key and value; `plugins/base/proto/base.proto`,
//! `plugins/device/proto/device.proto`: service paths) and hashicorp/go-plugin
//! dd3617ad0257b2e8fe63d5afe805b16a146c3ab9 (`server.go`: the protocol line and the
//! wrong-cookie text; `internal/plugin/grpc_controller.proto`: `plugin.GRPCController`).

use nomad::msgpack::{encode, Value};
use nomad::proto::hashicorp::nomad::plugins::{base::proto as base, device as pb};
use nomad::proto::plugin::{grpc_controller_client::GrpcControllerClient, Empty};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_nomad-device-nvgpu");
const COOKIE: (&str, &str) = (
    "NOMAD_PLUGIN_MAGIC_COOKIE",
    "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255",
);

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nomad-loader-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn save(h: &hostsim::SimHost, p: &Path) {
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&h.snapshot()).unwrap()).unwrap();
    std::fs::rename(&tmp, p).unwrap();
}

/// Launches the plugin as go-plugin's client does ([`nomad::loader::launch`] checks the
/// protocol line as the host does; Nomad waits up to a minute for it, a test a few seconds).
fn launch(dir: &Path, state: &Path) -> nomad::loader::Launched {
    let p = nomad::loader::launch(
        Command::new(BIN)
            .env("NOMAD_NVGPU_SIM_STATE", state)
            .stderr(Stdio::inherit()),
        dir,
    )
    .unwrap();
    let f: Vec<&str> = p.line.trim_end().split('|').collect();
    assert_eq!(
        (f[0], f[1], f[2], f[4]),
        ("1", "2", "unix", "grpc"),
        "{:?}",
        p.line
    );
    assert_eq!(f.get(5), Some(&""), "no certificate without AutoMTLS");
    assert!(
        p.socket.starts_with(dir),
        "the socket is in PLUGIN_UNIX_SOCKET_DIR"
    );
    p
}

async fn connect(socket: &Path) -> Channel {
    nomad::loader::connect(socket).await.unwrap()
}

/// Nomad's `DeviceGroup.Validate` (plugins/device/device.go) and attribute units
/// (plugins/shared/structs/units.go: MiB is a known unit), written from their rules.
fn nomad_validate(g: &pb::DeviceGroup) -> Vec<String> {
    let mut e = Vec::new();
    for (what, v) in [
        ("vendor", &g.vendor),
        ("type", &g.device_type),
        ("name", &g.device_name),
    ] {
        if v.is_empty() {
            e.push(format!("device {what} must be specified"));
        }
    }
    for (i, d) in g.devices.iter().enumerate() {
        if d.id.is_empty() {
            e.push(format!("device {i}: device ID must be specified"));
        }
    }
    for (k, a) in &g.attributes {
        if a.value.is_none() {
            e.push(format!("attribute {k} has no value"));
        }
        if !["", "MiB"].contains(&a.unit.as_str()) {
            e.push(format!("attribute {k}: unknown unit {}", a.unit));
        }
    }
    e
}

fn config(period: &str, ignored: &[&str]) -> Vec<u8> {
    encode(&Value::Map(vec![
        (Value::Str("enabled".into()), Value::Bool(true)),
        (
            Value::Str("fingerprint_period".into()),
            Value::Str(period.into()),
        ),
        (
            Value::Str("ignored_gpu_ids".into()),
            Value::Array(ignored.iter().map(|s| Value::Str((*s).into())).collect()),
        ),
    ]))
}

async fn next<T>(s: &mut tonic::Streaming<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("a message within 10 s")
        .expect("the stream is open")
        .expect("not an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_loads_fingerprints_reserves_and_stops_the_device_plugin() {
    let dir = scratch("device");
    let state = dir.join("host.json");
    let host = hostsim::SimHost::freebsd14_with_gpus(2);
    save(&host, &state);
    let mut plugin = launch(&dir, &state);
    let ch = connect(&plugin.socket).await;

    // go-plugin's client pings the health service for "plugin".
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // The loader's fingerprint of the plugin.
    let mut basec = base::base_plugin_client::BasePluginClient::new(ch.clone());
    let info = basec
        .plugin_info(base::PluginInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.r#type, base::PluginType::Device as i32);
    assert!(info.plugin_api_versions.iter().any(|v| v == "v0.1.0"));
    assert_eq!(
        info.name, "nomad-device-nvgpu",
        "the executable's name, which the agent config uses"
    );
    assert!(
        info.plugin_version
            .split('.')
            .all(|p| p.parse::<u32>().is_ok()),
        "go-version parses it"
    );
    let schema = basec
        .config_schema(base::ConfigSchemaRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.spec.is_some());

    // SetConfig as the agent sends it: go-cty msgpack, the API version, Nomad's client config.
    let bad = basec
        .set_config(base::SetConfigRequest {
            msgpack_config: encode(&Value::Map(vec![(
                Value::Str("fingerprint_period".into()),
                Value::Str("soon".into()),
            )])),
            nomad_config: None,
            plugin_api_version: "v0.1.0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().contains("fingerprint_period"),
        "{}",
        bad.message()
    );
    basec
        .set_config(base::SetConfigRequest {
            msgpack_config: config("50ms", &[]),
            nomad_config: Some(base::NomadConfig {
                driver: Some(base::NomadDriverConfig {
                    client_max_port: 14512,
                    client_min_port: 14000,
                    topology: None,
                }),
            }),
            plugin_api_version: "v0.1.0".into(),
        })
        .await
        .unwrap();

    // Fingerprint: one group nvidia/gpu/<model>, one device per GPU.
    let mut dev = pb::device_plugin_client::DevicePluginClient::new(ch.clone());
    let mut fp = dev
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = next(&mut fp).await;
    assert_eq!(first.device_group.len(), 1);
    let g = &first.device_group[0];
    assert!(nomad_validate(g).is_empty(), "{:?}", nomad_validate(g));
    assert_eq!(
        (g.vendor.as_str(), g.device_type.as_str()),
        ("nvidia", "gpu")
    );
    let gpus = host.with_state(|s| s.gpus().to_vec());
    assert_eq!(g.device_name, gpus[0].name);
    let ids: Vec<&str> = g.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        gpus.iter().map(|x| x.uuid.as_str()).collect::<Vec<_>>()
    );
    assert!(g.devices.iter().all(|d| d.healthy
        && d.hw_locality
            .as_ref()
            .is_some_and(|l| !l.pci_bus_id.is_empty())));
    use nomad::proto::hashicorp::nomad::plugins::shared::structs::attribute::Value as A;
    let mem = &g.attributes["memory"];
    assert_eq!(
        (mem.value.clone(), mem.unit.as_str()),
        (Some(A::IntVal(i64::from(gpus[0].total_kib / 1024))), "MiB")
    );
    assert!(
        matches!(&g.attributes["driver_version"].value, Some(A::StringVal(v)) if !v.is_empty())
    );

    // Reserve the second GPU: its node, the control nodes, NVIDIA_VISIBLE_DEVICES.
    let second = g.devices[1].id.clone();
    let r = dev
        .reserve(pb::ReserveRequest {
            device_ids: vec![second.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .container_res
        .unwrap();
    assert_eq!(r.envs["NVIDIA_VISIBLE_DEVICES"], second);
    let nodes: Vec<&str> = r.devices.iter().map(|d| d.host_path.as_str()).collect();
    assert_eq!(
        nodes,
        ["/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia1"]
    );
    assert!(r
        .devices
        .iter()
        .all(|d| d.task_path == d.host_path && d.permissions == "rw"));
    let unknown = dev
        .reserve(pb::ReserveRequest {
            device_ids: vec!["GPU-not-here".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().contains("GPU-not-here"));

    // Stats at the requested interval, each sample timestamped, one entry per GPU.
    let mut st = dev
        .stats(pb::StatsRequest {
            collection_interval: Some(prost_types::Duration {
                seconds: 0,
                nanos: 50_000_000,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..2 {
        let s = next(&mut st).await;
        assert_eq!(s.groups.len(), 1);
        let inst = &s.groups[0].instance_stats;
        assert_eq!(inst.len(), 2);
        for (id, d) in inst {
            assert!(ids.contains(&id.as_str()));
            assert!(
                d.timestamp.is_some(),
                "Nomad drops samples without a timestamp"
            );
            let sum = d.summary.as_ref().unwrap();
            assert!(sum.int_numerator_val.unwrap() <= sum.int_denominator_val.unwrap());
        }
    }
    drop(st);

    // Fault: the second GPU vanishes mid-stream. The next fingerprint keeps it, unhealthy.
    host.with_state(|s| {
        s.remove_last_gpu();
    });
    save(&host, &state);
    let changed = next(&mut fp).await;
    let d = changed.device_group[0]
        .devices
        .iter()
        .find(|d| d.id == second)
        .unwrap();
    assert!(!d.healthy);
    assert!(
        d.health_description.contains("no longer reported"),
        "{}",
        d.health_description
    );
    let refused = dev
        .reserve(pb::ReserveRequest {
            device_ids: vec![second.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    // Fault: the driver is unloaded. Every GPU is reported unhealthy with the driver's error.
    host.with_state(|s| s.set_nvidia_version(None));
    save(&host, &state);
    let down = next(&mut fp).await;
    assert!(
        down.device_group[0].devices.iter().all(|d| !d.healthy),
        "{down:?}"
    );

    // Back: the driver loads again with both GPUs; both are healthy.
    save(&hostsim::SimHost::freebsd14_with_gpus(2), &state);
    let up = next(&mut fp).await;
    assert!(
        up.device_group[0].devices.iter().all(|d| d.healthy),
        "{up:?}"
    );

    // Shutdown: the process exits by itself and removes its socket directory.
    GrpcControllerClient::new(ch)
        .shutdown(Empty {})
        .await
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = plugin.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the plugin did not exit after Shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(!plugin.socket.exists());
    assert!(!plugin.socket.parent().unwrap().exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_gpus_and_a_disabled_plugin_fingerprint_nothing_of_them() {
    let dir = scratch("ignored");
    let state = dir.join("host.json");
    let host = hostsim::SimHost::freebsd14_with_gpus(2);
    save(&host, &state);
    let plugin = launch(&dir, &state);
    let ch = connect(&plugin.socket).await;
    let first = host.with_state(|s| s.gpus()[0].uuid.clone());
    let mut basec = base::base_plugin_client::BasePluginClient::new(ch.clone());
    basec
        .set_config(base::SetConfigRequest {
            msgpack_config: config("1m", &[&first]),
            nomad_config: None,
            plugin_api_version: "v0.1.0".into(),
        })
        .await
        .unwrap();
    let mut dev = pb::device_plugin_client::DevicePluginClient::new(ch.clone());
    let mut fp = dev
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    let m = next(&mut fp).await;
    let ids: Vec<&str> = m.device_group[0]
        .devices
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], first);
    let r = dev
        .reserve(pb::ReserveRequest {
            device_ids: vec![first.clone()],
        })
        .await;
    assert_eq!(
        r.unwrap_err().code(),
        tonic::Code::NotFound,
        "an ignored GPU cannot be reserved"
    );

    basec
        .set_config(base::SetConfigRequest {
            msgpack_config: encode(&Value::Map(vec![(
                Value::Str("enabled".into()),
                Value::Bool(false),
            )])),
            nomad_config: None,
            plugin_api_version: String::new(),
        })
        .await
        .unwrap();
    let mut fp = dev
        .fingerprint(pb::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(next(&mut fp).await.device_group.is_empty());
    drop(plugin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_by_hand_it_prints_go_plugins_message_and_exits_1() {
    for cookie in [None, Some("wrong")] {
        let mut c = Command::new(BIN);
        c.env_remove(COOKIE.0);
        if let Some(v) = cookie {
            c.env(COOKIE.0, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout: the host would parse it"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "This binary is a plugin. These are not meant to be executed directly.\n\
             Please execute the program that consumes these plugins, which will\n\
             load any plugins automatically\n"
        );
    }
    let out = Command::new(BIN)
        .env(COOKIE.0, COOKIE.1)
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("incompatible plugin protocol"));
}
