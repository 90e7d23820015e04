//! Nomad's `BasePlugin` and `DevicePlugin` services for NVIDIA GPUs, over a [`GpuSource`]
//! (the host's driver in the plugin binary, the simulated host in tests).
//!
//! - `PluginInfo`: type DEVICE, API `v0.1.0`, name [`PLUGIN_NAME`].
//! - `ConfigSchema` / `SetConfig`: [`crate::config`].
//! - `Fingerprint`: one message at once, then one whenever the devices or their health change,
//!   asking the driver every `fingerprint_period`; kept open until Nomad closes it.
//! - `Reserve`: [`device::reserve`] on the last fingerprint; unknown ids are `NotFound`, GPUs
//!   marked unhealthy `FailedPrecondition`.
//! - `Stats`: one message per `collection_interval` with each GPU's memory in use.

use crate::config::{self, DeviceConfig};
use crate::device::{self, DeviceGroup, Health, MemoryStat};
use crate::handshake::PLUGIN_API_VERSION;
use crate::proto::hashicorp::nomad::plugins::{base::proto as base, device as pb, shared::structs};
use crate::server::log;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The plugin's name in `PluginInfo`: the binary's file name too. Nomad's loader looks up an
/// external plugin's `plugin "<name>"` block by the executable's name
/// (`helper/pluginutils/loader/init.go`, `fingerprintPlugins`) and dispenses it later by the
/// name in `PluginInfo`; one name for both leaves nothing to mismatch.
pub const PLUGIN_NAME: &str = "nomad-device-nvgpu";

/// Where the GPUs are read from. Each call asks afresh (the driver's state can change between
/// calls); calls may block and run on a blocking thread.
pub trait GpuSource: Send + Sync + 'static {
    /// The GPUs by model ([`device::fingerprint`]).
    ///
    /// # Errors
    /// The driver cannot be opened or asked; the text says why.
    fn fingerprint(&self) -> Result<Vec<DeviceGroup>, String>;
    /// Memory in use per GPU ([`device::memory_stats`]).
    ///
    /// # Errors
    /// As for `fingerprint`.
    fn memory_stats(&self) -> Result<Vec<MemoryStat>, String>;
}

/// A [`GpuSource`] that opens a fresh transport for every question (`make` builds it: the
/// native driver, or a simulated host loaded from a file).
pub struct FromTransport<F>(pub F);

impl<F, T, E> GpuSource for FromTransport<F>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: nvgpu::NvTransport,
    E: std::fmt::Display,
{
    fn fingerprint(&self) -> Result<Vec<DeviceGroup>, String> {
        let t = (self.0)().map_err(|e| e.to_string())?;
        device::fingerprint(&t).map_err(|e| e.to_string())
    }
    fn memory_stats(&self) -> Result<Vec<MemoryStat>, String> {
        let t = (self.0)().map_err(|e| e.to_string())?;
        device::memory_stats(&t).map_err(|e| e.to_string())
    }
}

struct Inner<S> {
    source: S,
    config: Mutex<DeviceConfig>,
    health: Mutex<Health>,
    last: Mutex<Option<Vec<DeviceGroup>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The device plugin: both services share it.
pub struct DevicePlugin<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for DevicePlugin<S> {
    fn clone(&self) -> Self {
        DevicePlugin {
            inner: self.inner.clone(),
        }
    }
}

impl<S: GpuSource> DevicePlugin<S> {
    /// A plugin reading `source`, with the default configuration until `SetConfig`.
    pub fn new(source: S) -> Self {
        DevicePlugin {
            inner: Arc::new(Inner {
                source,
                config: Mutex::new(DeviceConfig::default()),
                health: Mutex::new(Health::new()),
                last: Mutex::new(None),
            }),
        }
    }

    /// One fingerprint as reported: read, ignored GPUs dropped, health applied; nothing when
    /// disabled. Blocks (runs the driver's calls).
    pub fn fingerprint_now(&self) -> Vec<DeviceGroup> {
        let c = lock(&self.inner.config).clone();
        if !c.enabled {
            return Vec::new();
        }
        let read = self.inner.source.fingerprint();
        if let Err(e) = &read {
            log("error", &format!("fingerprint failed: {e}"));
        }
        let read = read.map(|g| device::without_ignored(g, &c.ignored_gpu_ids));
        let groups = lock(&self.inner.health).update(read);
        *lock(&self.inner.last) = Some(groups.clone());
        groups
    }

    async fn fingerprint_blocking(&self) -> Vec<DeviceGroup> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.fingerprint_now())
            .await
            .unwrap_or_default()
    }

    /// The routes to serve: `BasePlugin` and `DevicePlugin`.
    pub fn routes(&self) -> tonic::service::Routes {
        tonic::service::Routes::new(base::base_plugin_server::BasePluginServer::new(
            self.clone(),
        ))
        .add_service(pb::device_plugin_server::DevicePluginServer::new(
            self.clone(),
        ))
    }
}

/// `PluginInfo`'s answer for a plugin of type `ty` named `name` at `version`, speaking
/// [`PLUGIN_API_VERSION`].
pub fn plugin_info(ty: base::PluginType, name: &str, version: &str) -> base::PluginInfoResponse {
    base::PluginInfoResponse {
        r#type: ty.into(),
        plugin_api_versions: vec![PLUGIN_API_VERSION.into()],
        plugin_version: version.into(),
        name: name.into(),
    }
}

/// Checks `SetConfig`'s API version (empty, or [`PLUGIN_API_VERSION`]) and decodes its msgpack
/// config with `decode`.
///
/// # Errors
/// `InvalidArgument`: another API version, or what `decode` refuses.
pub fn set_config_of<T>(
    r: &base::SetConfigRequest,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, Status> {
    if !r.plugin_api_version.is_empty() && r.plugin_api_version != PLUGIN_API_VERSION {
        return Err(Status::invalid_argument(format!(
            "plugin API version {} is not supported; this plugin speaks {PLUGIN_API_VERSION}",
            r.plugin_api_version
        )));
    }
    decode(&r.msgpack_config).map_err(Status::invalid_argument)
}

/// The routes of a device plugin over `source` (see [`DevicePlugin::routes`]).
pub fn device_routes<S: GpuSource>(source: S) -> tonic::service::Routes {
    DevicePlugin::new(source).routes()
}

#[tonic::async_trait]
impl<S: GpuSource> base::base_plugin_server::BasePlugin for DevicePlugin<S> {
    async fn plugin_info(
        &self,
        _: Request<base::PluginInfoRequest>,
    ) -> Result<Response<base::PluginInfoResponse>, Status> {
        Ok(Response::new(plugin_info(
            base::PluginType::Device,
            PLUGIN_NAME,
            env!("CARGO_PKG_VERSION"),
        )))
    }

    async fn config_schema(
        &self,
        _: Request<base::ConfigSchemaRequest>,
    ) -> Result<Response<base::ConfigSchemaResponse>, Status> {
        Ok(Response::new(base::ConfigSchemaResponse {
            spec: Some(config::schema()),
        }))
    }

    async fn set_config(
        &self,
        r: Request<base::SetConfigRequest>,
    ) -> Result<Response<base::SetConfigResponse>, Status> {
        let c = set_config_of(&r.into_inner(), DeviceConfig::from_msgpack)?;
        *lock(&self.inner.config) = c;
        Ok(Response::new(base::SetConfigResponse {}))
    }
}

fn attribute(a: &device::Attribute) -> structs::Attribute {
    use structs::attribute::Value;
    match a {
        device::Attribute::Int(i, unit) => structs::Attribute {
            value: Some(Value::IntVal(*i)),
            unit: (*unit).into(),
        },
        device::Attribute::Str(s) => structs::Attribute {
            value: Some(Value::StringVal(s.clone())),
            unit: String::new(),
        },
    }
}

/// The `FingerprintResponse` for `groups`.
pub fn to_proto(groups: &[DeviceGroup]) -> pb::FingerprintResponse {
    pb::FingerprintResponse {
        device_group: groups
            .iter()
            .map(|g| pb::DeviceGroup {
                vendor: g.vendor.into(),
                device_type: g.device_type.into(),
                device_name: g.name.clone(),
                devices: g
                    .devices
                    .iter()
                    .map(|d| pb::DetectedDevice {
                        id: d.id.clone(),
                        healthy: d.healthy,
                        health_description: d.health_desc.clone(),
                        hw_locality: Some(pb::DeviceLocality {
                            pci_bus_id: d.pci_bus_id.clone(),
                        }),
                    })
                    .collect(),
                attributes: g
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), attribute(v)))
                    .collect(),
            })
            .collect(),
    }
}

fn stats_of(stats: &[MemoryStat], now: SystemTime) -> pb::StatsResponse {
    let mib = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let ts = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let timestamp = prost_types::Timestamp {
        seconds: i64::try_from(ts.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(ts.subsec_nanos()).unwrap_or(0),
    };
    let mut groups: Vec<pb::DeviceGroupStats> = Vec::new();
    for s in stats {
        let value = |n: u64, desc: &str| structs::StatValue {
            int_numerator_val: Some(mib(n)),
            unit: "MiB".into(),
            desc: desc.into(),
            ..Default::default()
        };
        let summary = structs::StatValue {
            int_numerator_val: Some(mib(s.used_mib)),
            int_denominator_val: Some(mib(s.total_mib)),
            unit: "MiB".into(),
            desc: "UsedMemory / TotalMemory".into(),
            ..Default::default()
        };
        let attributes: HashMap<String, structs::StatValue> = [
            (
                "Memory used".to_string(),
                value(s.used_mib, "memory in use"),
            ),
            (
                "Memory total".to_string(),
                value(s.total_mib, "memory on the GPU"),
            ),
        ]
        .into_iter()
        .collect();
        let one = pb::DeviceStats {
            summary: Some(summary),
            stats: Some(structs::StatObject {
                nested: HashMap::new(),
                attributes,
            }),
            timestamp: Some(timestamp),
        };
        match groups.iter_mut().find(|g| g.name == s.name) {
            Some(g) => {
                g.instance_stats.insert(s.id.clone(), one);
            }
            None => groups.push(pb::DeviceGroupStats {
                vendor: device::VENDOR.into(),
                r#type: device::DEVICE_TYPE.into(),
                name: s.name.clone(),
                instance_stats: [(s.id.clone(), one)].into_iter().collect(),
            }),
        }
    }
    pb::StatsResponse { groups }
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl<S: GpuSource> pb::device_plugin_server::DevicePlugin for DevicePlugin<S> {
    type FingerprintStream = Stream_<pb::FingerprintResponse>;
    type StatsStream = Stream_<pb::StatsResponse>;

    async fn fingerprint(
        &self,
        _: Request<pb::FingerprintRequest>,
    ) -> Result<Response<Self::FingerprintStream>, Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let me = self.clone();
        tokio::spawn(async move {
            let mut sent: Option<Vec<DeviceGroup>> = None;
            loop {
                let groups = me.fingerprint_blocking().await;
                if sent.as_ref() != Some(&groups) {
                    if tx.send(Ok(to_proto(&groups))).await.is_err() {
                        return; // Nomad closed the stream.
                    }
                    sent = Some(groups);
                }
                let period = lock(&me.inner.config).fingerprint_period;
                tokio::select! {
                    () = tokio::time::sleep(period) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn reserve(
        &self,
        r: Request<pb::ReserveRequest>,
    ) -> Result<Response<pb::ReserveResponse>, Status> {
        let ids = r.into_inner().device_ids;
        let last = lock(&self.inner.last).clone();
        let groups = match last {
            Some(g) => g,
            None => self.fingerprint_blocking().await,
        };
        if let Some(d) = groups
            .iter()
            .flat_map(|g| &g.devices)
            .find(|d| !d.healthy && ids.contains(&d.id))
        {
            return Err(Status::failed_precondition(format!(
                "device {} is unhealthy: {}",
                d.id, d.health_desc
            )));
        }
        let res = device::reserve(&groups, &ids).map_err(|e| {
            if ids.is_empty() {
                Status::invalid_argument(e)
            } else {
                Status::not_found(e)
            }
        })?;
        Ok(Response::new(pb::ReserveResponse {
            container_res: Some(pb::ContainerReservation {
                envs: res.envs.into_iter().collect(),
                mounts: Vec::new(),
                devices: res
                    .devices
                    .into_iter()
                    .map(|d| pb::DeviceSpec {
                        task_path: d.task_path,
                        host_path: d.host_path,
                        permissions: d.permissions,
                    })
                    .collect(),
            }),
        }))
    }

    async fn stats(
        &self,
        r: Request<pb::StatsRequest>,
    ) -> Result<Response<Self::StatsStream>, Status> {
        let interval = r
            .into_inner()
            .collection_interval
            .and_then(|d| {
                let nanos = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
                u64::try_from(nanos).ok().map(Duration::from_nanos)
            })
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(1))
            .max(config::MIN_PERIOD);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let m = me.clone();
                let read = tokio::task::spawn_blocking(move || {
                    let c = lock(&m.inner.config).clone();
                    m.inner.source.memory_stats().map(|s| {
                        s.into_iter()
                            .filter(|x| c.enabled && !c.ignored_gpu_ids.contains(&x.id))
                            .collect::<Vec<_>>()
                    })
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match read {
                    Ok(s) => {
                        if tx.send(Ok(stats_of(&s, SystemTime::now()))).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => log("warn", &format!("statistics skipped: {e}")),
                }
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
