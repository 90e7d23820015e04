//! Nomad's `Driver` and `BasePlugin` services for cudajail: every task in a CUDA jail of its
//! own, built by cudajail's engine with exactly the GPUs the device plugin reserved for it.
//!
//! - `StartTask`: the task's `config` block and reserved devices become a cudajail spec
//!   (`name` from the task id, `gpus` = the reserved `/dev/nvidiaN` minors, `recipe`, `suite`);
//!   `up` builds the jail (a failure is undone by the engine: nothing is left); then a
//!   [`crate::supervise`] process starts the command in the jail (`jexec -u USER JID …`, the user mirrored into the jail) with
//!   Nomad's stdout/stderr paths and the task's environment plus the device environment.
//! - `WaitTask`, `InspectTask`: the supervisor's records (`pid`, `exit.json`).
//! - `StopTask`: the signal (default SIGTERM) to the task's process group, SIGKILL after the
//!   timeout. `SignalTask`: any signal by name.
//! - `DestroyTask`: the jail destroyed by cudajail (`destroy`: jail, mounts, dataset, ruleset),
//!   the state directory removed; refused while the task runs unless forced.
//! - `RecoverTask`: after a Nomad client or driver restart, the handle's driver state names the
//!   jail and the state directory; the supervisor (in its own session) kept running.
//! - `Fingerprint`: cudajail's `doctor` on the host: HEALTHY, or UNHEALTHY with the first
//!   failing check and its fix.
//! - `Capabilities`: signals, exec, an image file system (the jail's own root), no Nomad volume
//!   mounts, host networking.
//! - `TaskStats`: the resident memory and CPU share of the task's process tree, from ps(1)
//!   (`-A -o pid= -o ppid= -o rss= -o time=`).

use crate::backend::Backend;
use crate::config::{self, DriverConfig, TaskSettings};
use crate::supervise::{exit_of, pid_of};
use crate::sys::kill;
use cudajail::spec::{Gpus, Spec};
use nomad::proto::hashicorp::nomad::plugins::{
    base::proto as base, drivers::proto as drv, shared::structs,
};
use nomad::server::log;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// The driver's name: jobs say `driver = "cudajail"`.
pub const DRIVER_NAME: &str = "cudajail";

/// How long `StartTask` waits for the supervisor to report the task started.
const START_WAIT: Duration = Duration::from_secs(10);

/// What the driver keeps in the task handle (`TaskHandle.driver_state`, JSON) to find the task
/// again after a restart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskState {
    /// The cudajail spec the jail was made from.
    pub spec: Spec,
    /// The task's state directory (`pid`, `exit.json`).
    pub dir: PathBuf,
    /// The supervisor's pid.
    pub supervisor: i32,
    /// When the task started (seconds since the epoch).
    pub started_at: u64,
}

struct Task {
    config: drv::TaskConfig,
    state: TaskState,
}

struct Inner {
    backend: Backend,
    exe: PathBuf,
    config: Mutex<DriverConfig>,
    tasks: Mutex<HashMap<String, Task>>,
    events: tokio::sync::broadcast::Sender<drv::DriverTaskEvent>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn timestamp(s: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: i64::try_from(s).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// The jail's name for a Nomad task id (`<alloc id>/<task>/<8 hex>`): `nomad-<first 8 of the
/// alloc id>-<last 8>`, only letters, digits, `-` and `_` (valid as a jail and a dataset name).
///
/// # Errors
/// An empty id.
pub fn jail_name(task_id: &str) -> Result<String, String> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let parts: Vec<&str> = task_id.split('/').collect();
    let (alloc, last) = match parts.as_slice() {
        [a, .., l] if parts.len() >= 2 => (*a, *l),
        [one] if !one.is_empty() => (*one, *one),
        _ => {
            return Err(format!(
                "task id {task_id:?} is not Nomad's <alloc>/<task>/<id>"
            ))
        }
    };
    let a: String = clean(alloc).chars().take(8).collect();
    let l = clean(last);
    let l: String = l
        .chars()
        .skip(l.chars().count().saturating_sub(8))
        .collect();
    Ok(format!("nomad-{a}-{l}"))
}

/// The GPU minors among a task's reserved devices (`/dev/nvidiaN`; the control nodes aside).
pub fn reserved_minors(devices: &[drv::Device]) -> Vec<u8> {
    let mut v: Vec<u8> = devices
        .iter()
        .filter_map(|d| d.host_path.strip_prefix("/dev/nvidia")?.parse::<u8>().ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A signal by name (`SIGTERM` or `TERM`); `None` for names we do not send.
pub fn signal_number(name: &str) -> Option<i32> {
    let n = name.strip_prefix("SIG").unwrap_or(name);
    Some(match n {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "WINCH" => libc::SIGWINCH,
        _ => return None,
    })
}

/// The task driver; both services share it.
#[derive(Clone)]
pub struct CudajailDriver {
    inner: Arc<Inner>,
}

impl CudajailDriver {
    /// A driver working on `backend`, starting supervisors from the binary `exe`.
    pub fn new(backend: Backend, exe: PathBuf) -> Self {
        let (events, _) = tokio::sync::broadcast::channel(64);
        CudajailDriver {
            inner: Arc::new(Inner {
                backend,
                exe,
                config: Mutex::new(DriverConfig::default()),
                tasks: Mutex::new(HashMap::new()),
                events,
            }),
        }
    }

    /// The routes to serve: `BasePlugin` and `Driver`.
    pub fn routes(&self) -> tonic::service::Routes {
        tonic::service::Routes::new(base::base_plugin_server::BasePluginServer::new(
            self.clone(),
        ))
        .add_service(drv::driver_server::DriverServer::new(self.clone()))
    }

    fn event(&self, t: &drv::TaskConfig, message: String) {
        log("info", &format!("task {}: {message}", t.id));
        let _ = self.inner.events.send(drv::DriverTaskEvent {
            task_id: t.id.clone(),
            alloc_id: t.alloc_id.clone(),
            task_name: t.name.clone(),
            timestamp: Some(timestamp(secs(SystemTime::now()))),
            message,
            annotations: HashMap::new(),
        });
    }

    fn destroy_jail(&self, spec: &Spec) -> anyhow::Result<()> {
        let pool = lock(&self.inner.config).pool.clone();
        let v = spec.validate(pool.as_deref()).map_err(|p| {
            anyhow::anyhow!(
                "the task's spec: {}",
                p.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        self.inner.backend.with_env(|env| {
            let p = cudajail::engine::plan(env, &v)?;
            cudajail::engine::destroy(env, &v, &p, false)?;
            Ok(())
        })
    }

    fn start_blocking(
        &self,
        task: drv::TaskConfig,
        s: TaskSettings,
    ) -> Result<drv::StartTaskResponse, Status> {
        let cfg = lock(&self.inner.config).clone();
        let name = jail_name(&task.id).map_err(Status::invalid_argument)?;
        let minors = reserved_minors(&task.devices);
        if minors.is_empty() {
            return Err(Status::failed_precondition(format!(
                "task {}: no GPU was reserved for it; add `device \"nvidia/gpu\" {{ count = 1 }}` to its resources",
                task.id
            )));
        }
        if let Some(b) = s.binds.iter().find(|b| !cfg.bind_allowed(&b.host)) {
            return Err(Status::permission_denied(format!(
                "task {}: bind source {} is not below the driver's bind_roots {:?}; the operator allows host directories in the plugin block",
                task.id, b.host, cfg.bind_roots
            )));
        }
        let spec = Spec {
            name: name.clone(),
            binds: s.binds.clone(),
            suite: s.suite.clone(),
            pool: cfg.pool.clone(),
            gpus: Gpus::List(minors),
            recipe: s.recipe.clone(),
            cuda_check: s.cuda_check,
            network: s.network.clone(),
            // The task user, mirrored from the host (same uid, gid, home): `jexec -u` takes
            // the host's entry, programs in the jail find the same one in its /etc/passwd,
            // and files in bound directories keep their owners.
            users: if task.user.is_empty() || task.user == "root" {
                Vec::new()
            } else {
                vec![task.user.clone()]
            },
            ..Spec::default()
        };
        let v = spec.validate(cfg.pool.as_deref()).map_err(|p| {
            Status::invalid_argument(format!(
                "task {}: {}",
                task.id,
                p.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let dir = cfg.state_dir.join("tasks").join(&name);
        let made = (|| -> std::io::Result<()> {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir.parent().unwrap_or(&dir))?;
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::DirBuilder::new().mode(0o700).create(&dir)
        })();
        made.map_err(|e| Status::internal(format!("{}: {e}", dir.display())))?;
        self.event(&task, format!("building CUDA jail {name}"));
        let jid = self
            .inner
            .backend
            .with_env(|env| {
                let p = cudajail::engine::plan(env, &v)?;
                cudajail::engine::up(env, &v, &p)?;
                let j = env
                    .jail
                    .get(&jail::JailName::new(&name)?)?
                    .ok_or_else(|| anyhow::anyhow!("jail {name} is not running after up"))?;
                Ok(j.jid.0)
            })
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                Status::failed_precondition(format!("task {}: {e:#}", task.id))
            })?;
        self.event(
            &task,
            format!("jail {name} (jid {jid}) is up; starting {}", s.command),
        );
        let mut argv = vec![s.command.clone()];
        argv.extend(s.args.iter().cloned());
        let argv = self.inner.backend.in_jail(jid, &task.user, &argv);
        let undo = |why: String| -> Status {
            let left = match self.destroy_jail(&spec) {
                Ok(()) => "the jail was destroyed".to_string(),
                Err(e) => format!("destroying the jail failed too: {e:#}"),
            };
            let _ = std::fs::remove_dir_all(&dir);
            Status::failed_precondition(format!("task {}: {why}; {left}", task.id))
        };
        let ids = self
            .inner
            .backend
            .sim_ids(&task.user)
            .map_err(|e| undo(format!("{e:#}")))?;
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(&self.inner.exe);
        cmd.arg("supervise")
            .arg(&dir)
            .arg(&task.stdout_path)
            .arg(&task.stderr_path);
        if let Some((uid, gid)) = ids {
            cmd.arg("--as").arg(format!("{uid}:{gid}"));
        }
        cmd.arg("--")
            .args(&argv)
            .env_clear()
            .envs(&task.env)
            .envs(&task.device_env)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            // A session of its own: it outlives the driver and escapes the agent's signals.
            .process_group(0);
        if !task.env.contains_key("PATH") {
            cmd.env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| undo(format!("starting the supervisor: {e}")))?;
        let supervisor = i32::try_from(child.id()).unwrap_or(i32::MAX);
        // Reap it when it ends (a zombie would look alive to kill(pid, 0)).
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        let t0 = Instant::now();
        loop {
            if let Some(e) = exit_of(&dir).filter(|e| e.error.is_some()) {
                return Err(undo(e.error.unwrap_or_default()));
            }
            if pid_of(&dir).is_some() {
                break;
            }
            if t0.elapsed() > START_WAIT {
                let _ = kill(supervisor, libc::SIGKILL);
                return Err(undo(
                    "the supervisor did not start the task within 10 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let state = TaskState {
            spec,
            dir,
            supervisor,
            started_at: secs(SystemTime::now()),
        };
        let handle = drv::TaskHandle {
            version: 1,
            config: Some(task.clone()),
            state: drv::TaskState::Running.into(),
            driver_state: serde_json::to_vec(&state).unwrap_or_default(),
        };
        self.event(&task, "started".into());
        lock(&self.inner.tasks).insert(
            task.id.clone(),
            Task {
                config: task,
                state,
            },
        );
        Ok(drv::StartTaskResponse {
            result: drv::start_task_response::Result::Success.into(),
            driver_error_msg: String::new(),
            handle: Some(handle),
            network_override: None,
        })
    }

    fn state_of(&self, id: &str) -> Result<(drv::TaskConfig, TaskState), Status> {
        lock(&self.inner.tasks)
            .get(id)
            .map(|t| (t.config.clone(), t.state.clone()))
            .ok_or_else(|| {
                Status::not_found(format!("no task {id} (never started here, or destroyed)"))
            })
    }

    /// Whether the task in `st` still runs: no exit recorded and its supervisor alive.
    fn running(st: &TaskState) -> bool {
        exit_of(&st.dir).is_none() && kill(st.supervisor, 0).unwrap_or(false)
    }

    async fn wait_exit(st: &TaskState, limit: Option<Duration>) -> Option<crate::supervise::Exit> {
        let t0 = Instant::now();
        loop {
            if let Some(e) = exit_of(&st.dir) {
                return Some(e);
            }
            if !kill(st.supervisor, 0).unwrap_or(false) {
                // Gone: one last look (it writes, then exits).
                return exit_of(&st.dir);
            }
            if limit.is_some_and(|l| t0.elapsed() >= l) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal(st: &TaskState, sig: i32) -> Result<(), Status> {
        let Some(pid) = pid_of(&st.dir) else {
            return Err(Status::failed_precondition("the task has not started"));
        };
        kill(-pid, sig)
            .map(|_| ())
            .map_err(|e| Status::internal(format!("kill -{sig} -{pid}: {e}")))
    }
}

fn dur(d: Option<prost_types::Duration>) -> Option<Duration> {
    let d = d?;
    let n = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    u64::try_from(n)
        .ok()
        .map(Duration::from_nanos)
        .filter(|d| !d.is_zero())
}

fn exit_result(e: &crate::supervise::Exit) -> drv::ExitResult {
    drv::ExitResult {
        exit_code: e.exit_code,
        signal: e.signal,
        oom_killed: false,
    }
}

#[tonic::async_trait]
impl base::base_plugin_server::BasePlugin for CudajailDriver {
    async fn plugin_info(
        &self,
        _: Request<base::PluginInfoRequest>,
    ) -> Result<Response<base::PluginInfoResponse>, Status> {
        Ok(Response::new(nomad::service::plugin_info(
            base::PluginType::Driver,
            DRIVER_NAME,
            env!("CARGO_PKG_VERSION"),
        )))
    }

    async fn config_schema(
        &self,
        _: Request<base::ConfigSchemaRequest>,
    ) -> Result<Response<base::ConfigSchemaResponse>, Status> {
        Ok(Response::new(base::ConfigSchemaResponse {
            spec: Some(config::driver_schema()),
        }))
    }

    async fn set_config(
        &self,
        r: Request<base::SetConfigRequest>,
    ) -> Result<Response<base::SetConfigResponse>, Status> {
        let c = nomad::service::set_config_of(&r.into_inner(), DriverConfig::from_msgpack)?;
        c.prepare_state_dir(crate::sys::geteuid())
            .map_err(Status::invalid_argument)?;
        *lock(&self.inner.config) = c;
        Ok(Response::new(base::SetConfigResponse {}))
    }
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn health(driver: &CudajailDriver) -> drv::FingerprintResponse {
    use drv::fingerprint_response::HealthState;
    let mut attributes = HashMap::new();
    attributes.insert(
        "driver.cudajail".to_string(),
        structs::Attribute {
            value: Some(structs::attribute::Value::BoolVal(true)),
            unit: String::new(),
        },
    );
    attributes.insert(
        "driver.cudajail.version".to_string(),
        structs::Attribute {
            value: Some(structs::attribute::Value::StringVal(
                env!("CARGO_PKG_VERSION").into(),
            )),
            unit: String::new(),
        },
    );
    if driver.inner.backend.simulated() {
        attributes.insert(
            "driver.cudajail.simulated".to_string(),
            structs::Attribute {
                value: Some(structs::attribute::Value::BoolVal(true)),
                unit: String::new(),
            },
        );
    }
    let checks = driver.inner.backend.with_env(|env| {
        Ok(cudajail::doctor::doctor(
            env.kld, env.sysctl, env.mount, env.view,
        ))
    });
    let (health, health_description, err) = match checks {
        Err(e) => (HealthState::Undetected, format!("{e:#}"), format!("{e:#}")),
        Ok(c) => match c
            .iter()
            .find(|c| c.status == linuxulator::readiness::Status::Fail)
        {
            Some(f) => (
                HealthState::Unhealthy,
                format!(
                    "{}: {}{}",
                    f.id,
                    f.evidence,
                    f.fix
                        .as_deref()
                        .map(|x| format!(" (fix: {x})"))
                        .unwrap_or_default()
                ),
                String::new(),
            ),
            None => (
                HealthState::Healthy,
                "ready: cudajail doctor passes".into(),
                String::new(),
            ),
        },
    };
    drv::FingerprintResponse {
        attributes,
        health: health.into(),
        health_description,
        err,
    }
}

/// `ps`'s accumulated CPU time: FreeBSD's `MMM:SS.hh`, procps' `[DD-]HH:MM:SS`; seconds.
pub fn parse_cpu_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<f64>().ok()?, r),
        None => (0.0, s),
    };
    let mut total = 0.0;
    for f in rest.split(':') {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        total = total * 60.0 + f.parse::<f64>().ok()?;
    }
    Some(days * 86_400.0 + total)
}

/// The resident memory (KiB) and CPU time (s) of process `root` and all its descendants,
/// from `ps -A -o pid= -o ppid= -o rss= -o time=` output (FreeBSD's and Linux's ps both take
/// it): a task's workers (a Python data loader, a shell's children) count with it. `None`
/// when `root` is not in the list. Lines that do not parse are
/// skipped; at most 100,000 are read.
pub fn tree_usage(ps: &str, root: i32) -> Option<(u64, f64)> {
    let mut procs: Vec<(i32, i32, u64, f64)> = Vec::new();
    for l in ps.lines().take(100_000) {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [pid, ppid, rss, time] = f.as_slice() else {
            continue;
        };
        let (Ok(pid), Ok(ppid), Ok(rss), Some(t)) = (
            pid.parse::<i32>(),
            ppid.parse::<i32>(),
            rss.parse::<u64>(),
            parse_cpu_time(time),
        ) else {
            continue;
        };
        procs.push((pid, ppid, rss, t));
    }
    if !procs.iter().any(|p| p.0 == root) {
        return None;
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for p in &procs {
            if p.1 == parent && p.0 != parent && !tree.contains(&p.0) {
                tree.push(p.0);
            }
        }
        i += 1;
    }
    Some(
        procs
            .iter()
            .filter(|p| tree.contains(&p.0))
            .fold((0, 0.0), |(r, t), p| (r + p.2, t + p.3)),
    )
}

/// The task's resident memory (KiB) and CPU time (s): its process tree, from ps(1).
fn ps_sample(pid: i32) -> Option<(u64, f64)> {
    let out = std::process::Command::new("ps")
        .args([
            "-A", "-o", "pid=", "-o", "ppid=", "-o", "rss=", "-o", "time=",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    tree_usage(&String::from_utf8_lossy(&out.stdout), pid)
}

#[tonic::async_trait]
impl drv::driver_server::Driver for CudajailDriver {
    type FingerprintStream = Stream_<drv::FingerprintResponse>;
    type TaskStatsStream = Stream_<drv::TaskStatsResponse>;
    type TaskEventsStream = Stream_<drv::DriverTaskEvent>;
    type ExecTaskStreamingStream = Stream_<drv::ExecTaskStreamingResponse>;

    async fn init(
        &self,
        _: Request<drv::InitRequest>,
    ) -> Result<Response<drv::InitResponse>, Status> {
        Ok(Response::new(drv::InitResponse {}))
    }

    async fn task_config_schema(
        &self,
        _: Request<drv::TaskConfigSchemaRequest>,
    ) -> Result<Response<drv::TaskConfigSchemaResponse>, Status> {
        Ok(Response::new(drv::TaskConfigSchemaResponse {
            spec: Some(config::task_schema()),
        }))
    }

    async fn capabilities(
        &self,
        _: Request<drv::CapabilitiesRequest>,
    ) -> Result<Response<drv::CapabilitiesResponse>, Status> {
        use drv::driver_capabilities::{FsIsolation, MountConfigs};
        Ok(Response::new(drv::CapabilitiesResponse {
            capabilities: Some(drv::DriverCapabilities {
                send_signals: true,
                exec: true,
                fs_isolation: FsIsolation::Image.into(),
                network_isolation_modes: vec![
                    drv::network_isolation_spec::NetworkIsolationMode::Host.into(),
                ],
                must_create_network: false,
                mount_configs: MountConfigs::NoMounts.into(),
                disable_log_collection: false,
                dynamic_workload_users: false,
            }),
        }))
    }

    async fn fingerprint(
        &self,
        _: Request<drv::FingerprintRequest>,
    ) -> Result<Response<Self::FingerprintStream>, Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let me = self.clone();
        tokio::spawn(async move {
            let mut last: Option<drv::FingerprintResponse> = None;
            loop {
                let m = me.clone();
                let f = tokio::task::spawn_blocking(move || health(&m)).await;
                if let Ok(f) = f {
                    if last.as_ref() != Some(&f) {
                        if tx.send(Ok(f.clone())).await.is_err() {
                            return;
                        }
                        last = Some(f);
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(30)) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn recover_task(
        &self,
        r: Request<drv::RecoverTaskRequest>,
    ) -> Result<Response<drv::RecoverTaskResponse>, Status> {
        let r = r.into_inner();
        let Some(handle) = r.handle else {
            return Err(Status::invalid_argument("no handle"));
        };
        // Nomad sends the handle alone: the id is the handle's config's.
        let Some(config) = handle.config else {
            return Ok(Response::new(drv::RecoverTaskResponse {}));
        };
        let id = if r.task_id.is_empty() {
            config.id.clone()
        } else {
            r.task_id
        };
        if lock(&self.inner.tasks).contains_key(&id) {
            return Ok(Response::new(drv::RecoverTaskResponse {}));
        }
        let state: TaskState = serde_json::from_slice::<TaskState>(&handle.driver_state)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                if s.supervisor > 1 {
                    Ok(s)
                } else {
                    Err(format!(
                        "supervisor pid {} is not a process of ours",
                        s.supervisor
                    ))
                }
            })
            .map_err(|e| {
                Status::invalid_argument(format!("task {id}: the handle's driver state: {e}"))
            })?;
        if !state.dir.is_dir() {
            return Err(Status::not_found(format!(
                "task {id}: its state directory {} is gone",
                state.dir.display()
            )));
        }
        let name = state.spec.name.clone();
        let up = self
            .inner
            .backend
            .with_env(|env| Ok(env.jail.get(&jail::JailName::new(&name)?)?.is_some()))
            .map_err(|e| Status::internal(format!("{e:#}")))?;
        if !up && exit_of(&state.dir).is_none() {
            return Err(Status::failed_precondition(format!(
                "task {id}: its jail {name} is gone and it recorded no exit"
            )));
        }
        log(
            "info",
            &format!(
                "task {id}: recovered (jail {name}, supervisor {})",
                state.supervisor
            ),
        );
        lock(&self.inner.tasks).insert(id, Task { config, state });
        Ok(Response::new(drv::RecoverTaskResponse {}))
    }

    async fn start_task(
        &self,
        r: Request<drv::StartTaskRequest>,
    ) -> Result<Response<drv::StartTaskResponse>, Status> {
        let task = r
            .into_inner()
            .task
            .ok_or_else(|| Status::invalid_argument("no task"))?;
        if lock(&self.inner.tasks).contains_key(&task.id) {
            return Err(Status::already_exists(format!(
                "task {} is already started",
                task.id
            )));
        }
        let s = TaskSettings::from_msgpack(&task.msgpack_driver_config)
            .map_err(|e| Status::invalid_argument(format!("task {}: {e}", task.id)))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.start_blocking(task, s))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map(Response::new)
    }

    async fn wait_task(
        &self,
        r: Request<drv::WaitTaskRequest>,
    ) -> Result<Response<drv::WaitTaskResponse>, Status> {
        let id = r.into_inner().task_id;
        let (_, st) = self.state_of(&id)?;
        Ok(Response::new(match Self::wait_exit(&st, None).await {
            Some(e) => drv::WaitTaskResponse {
                result: Some(exit_result(&e)),
                err: e.error.unwrap_or_default(),
            },
            None => drv::WaitTaskResponse {
                result: None,
                err: format!(
                    "the supervisor (pid {}) of task {id} ended without recording the task's exit",
                    st.supervisor
                ),
            },
        }))
    }

    async fn stop_task(
        &self,
        r: Request<drv::StopTaskRequest>,
    ) -> Result<Response<drv::StopTaskResponse>, Status> {
        let r = r.into_inner();
        let (_, st) = self.state_of(&r.task_id)?;
        if !Self::running(&st) {
            return Ok(Response::new(drv::StopTaskResponse {}));
        }
        let sig = if r.signal.is_empty() {
            libc::SIGTERM
        } else {
            signal_number(&r.signal)
                .ok_or_else(|| Status::invalid_argument(format!("unknown signal {}", r.signal)))?
        };
        Self::signal(&st, sig)?;
        let timeout = dur(r.timeout).unwrap_or(Duration::from_secs(5));
        if Self::wait_exit(&st, Some(timeout)).await.is_none() && Self::running(&st) {
            Self::signal(&st, libc::SIGKILL)?;
            Self::wait_exit(&st, Some(Duration::from_secs(5))).await;
        }
        Ok(Response::new(drv::StopTaskResponse {}))
    }

    async fn destroy_task(
        &self,
        r: Request<drv::DestroyTaskRequest>,
    ) -> Result<Response<drv::DestroyTaskResponse>, Status> {
        let r = r.into_inner();
        let (config, st) = self.state_of(&r.task_id)?;
        if Self::running(&st) {
            if !r.force {
                return Err(Status::failed_precondition(format!(
                    "task {} is still running: stop it first, or destroy with force",
                    r.task_id
                )));
            }
            let _ = Self::signal(&st, libc::SIGKILL);
            Self::wait_exit(&st, Some(Duration::from_secs(5))).await;
        }
        let me = self.clone();
        let spec = st.spec.clone();
        tokio::task::spawn_blocking(move || me.destroy_jail(&spec))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| {
                Status::internal(format!("task {}: destroying its jail: {e:#}", r.task_id))
            })?;
        let _ = std::fs::remove_dir_all(&st.dir);
        lock(&self.inner.tasks).remove(&r.task_id);
        self.event(&config, format!("jail {} destroyed", st.spec.name));
        Ok(Response::new(drv::DestroyTaskResponse {}))
    }

    async fn inspect_task(
        &self,
        r: Request<drv::InspectTaskRequest>,
    ) -> Result<Response<drv::InspectTaskResponse>, Status> {
        let id = r.into_inner().task_id;
        let (config, st) = self.state_of(&id)?;
        let exit = exit_of(&st.dir);
        let state = if exit.is_some() {
            drv::TaskState::Exited
        } else if Self::running(&st) {
            drv::TaskState::Running
        } else {
            drv::TaskState::Unknown
        };
        let mut attributes = HashMap::new();
        attributes.insert("jail".to_string(), st.spec.name.clone());
        if let Some(p) = pid_of(&st.dir) {
            attributes.insert("pid".to_string(), p.to_string());
        }
        Ok(Response::new(drv::InspectTaskResponse {
            task: Some(drv::TaskStatus {
                id: id.clone(),
                name: config.name,
                state: state.into(),
                started_at: Some(timestamp(st.started_at)),
                completed_at: Some(timestamp(exit.as_ref().map_or(0, |e| e.at))),
                result: Some(exit.as_ref().map(exit_result).unwrap_or_default()),
            }),
            driver: Some(drv::TaskDriverStatus { attributes }),
            network_override: None,
        }))
    }

    async fn task_stats(
        &self,
        r: Request<drv::TaskStatsRequest>,
    ) -> Result<Response<Self::TaskStatsStream>, Status> {
        let r = r.into_inner();
        let (_, st) = self.state_of(&r.task_id)?;
        let interval = dur(r.collection_interval)
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10));
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut last: Option<(f64, Instant)> = None;
            loop {
                let dir = st.dir.clone();
                let sample = tokio::task::spawn_blocking(move || pid_of(&dir).and_then(ps_sample))
                    .await
                    .ok()
                    .flatten();
                let mut memory = drv::MemoryUsage::default();
                let mut cpu = drv::CpuUsage::default();
                if let Some((rss, cpu_secs)) = sample {
                    memory.rss = rss * 1024;
                    memory.measured_fields = vec![drv::memory_usage::Fields::Rss.into()];
                    let now = Instant::now();
                    if let Some((prev, at)) = last {
                        let wall = now.duration_since(at).as_secs_f64();
                        if wall > 0.0 {
                            cpu.percent = ((cpu_secs - prev).max(0.0) / wall) * 100.0;
                            cpu.measured_fields = vec![drv::cpu_usage::Fields::Percent.into()];
                        }
                    }
                    last = Some((cpu_secs, now));
                }
                let usage = drv::TaskResourceUsage {
                    cpu: Some(cpu),
                    memory: Some(memory),
                };
                let stats = drv::TaskStats {
                    id: r.task_id.clone(),
                    timestamp: Some(timestamp(secs(SystemTime::now()))),
                    agg_resource_usage: Some(usage),
                    resource_usage_by_pid: HashMap::new(),
                };
                if tx
                    .send(Ok(drv::TaskStatsResponse { stats: Some(stats) }))
                    .await
                    .is_err()
                {
                    return;
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

    async fn task_events(
        &self,
        _: Request<drv::TaskEventsRequest>,
    ) -> Result<Response<Self::TaskEventsStream>, Status> {
        let mut sub = self.inner.events.subscribe();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    e = sub.recv() => match e {
                        Ok(e) => if tx.send(Ok(e)).await.is_err() { return },
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn shutdown(
        &self,
        _: Request<drv::ShutdownRequest>,
    ) -> Result<Response<drv::ShutdownResponse>, Status> {
        Ok(Response::new(drv::ShutdownResponse {}))
    }

    async fn signal_task(
        &self,
        r: Request<drv::SignalTaskRequest>,
    ) -> Result<Response<drv::SignalTaskResponse>, Status> {
        let r = r.into_inner();
        let (_, st) = self.state_of(&r.task_id)?;
        let sig = signal_number(&r.signal)
            .ok_or_else(|| Status::invalid_argument(format!("unknown signal {}", r.signal)))?;
        Self::signal(&st, sig)?;
        Ok(Response::new(drv::SignalTaskResponse {}))
    }

    async fn exec_task(
        &self,
        r: Request<drv::ExecTaskRequest>,
    ) -> Result<Response<drv::ExecTaskResponse>, Status> {
        let r = r.into_inner();
        let (config, st) = self.state_of(&r.task_id)?;
        if r.command.is_empty() {
            return Err(Status::invalid_argument("no command"));
        }
        let timeout = dur(r.timeout).unwrap_or(Duration::from_secs(60));
        let me = self.clone();
        let out = tokio::task::spawn_blocking(move || -> Result<drv::ExecTaskResponse, Status> {
            let name = st.spec.name.clone();
            let jid = me
                .inner
                .backend
                .with_env(|env| {
                    env.jail
                        .get(&jail::JailName::new(&name)?)?
                        .map(|j| j.jid.0)
                        .ok_or_else(|| anyhow::anyhow!("jail {name} is not running"))
                })
                .map_err(|e| Status::failed_precondition(format!("{e:#}")))?;
            let argv = me.inner.backend.in_jail(jid, &config.user, &r.command);
            let ids = me
                .inner
                .backend
                .sim_ids(&config.user)
                .map_err(|e| Status::failed_precondition(format!("{e:#}")))?;
            run_bounded(&argv, &config.env, timeout, ids)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(out))
    }

    /// `nomad alloc exec`: the command runs in the task's jail with its stdin, stdout and
    /// stderr carried by the stream. Without a terminal: a `tty` request gets pipes too (the
    /// program sees no terminal; resize messages are ignored).
    async fn exec_task_streaming(
        &self,
        r: Request<tonic::Streaming<drv::ExecTaskStreamingRequest>>,
    ) -> Result<Response<Self::ExecTaskStreamingStream>, Status> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut inbound = r.into_inner();
        let setup = inbound
            .message()
            .await?
            .and_then(|m| m.setup)
            .ok_or_else(|| Status::invalid_argument("the first message must be the setup"))?;
        let (config, st) = self.state_of(&setup.task_id)?;
        if setup.command.is_empty() {
            return Err(Status::invalid_argument("no command"));
        }
        let me = self.clone();
        let name = st.spec.name.clone();
        let user = config.user.clone();
        let (jid, ids) = tokio::task::spawn_blocking(move || {
            let jid = me.inner.backend.with_env(|env| {
                env.jail
                    .get(&jail::JailName::new(&name)?)?
                    .map(|j| j.jid.0)
                    .ok_or_else(|| anyhow::anyhow!("jail {name} is not running"))
            })?;
            Ok::<_, anyhow::Error>((jid, me.inner.backend.sim_ids(&user)?))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::failed_precondition(format!("{e:#}")))?;
        let argv = self
            .inner
            .backend
            .in_jail(jid, &config.user, &setup.command);
        let (prog, rest) = argv
            .split_first()
            .ok_or_else(|| Status::invalid_argument("no command"))?;
        let mut cmd = tokio::process::Command::new(prog);
        if let Some((uid, gid)) = ids {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .args(rest)
            .env_clear()
            .envs(&config.env)
            .env(
                "PATH",
                config
                    .env
                    .get("PATH")
                    .map_or("/usr/local/bin:/usr/bin:/bin", String::as_str),
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Status::failed_precondition(format!("{prog}: {e}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let op =
            |data: Vec<u8>, close: bool| Some(drv::ExecTaskStreamingIoOperation { data, close });
        // stdin from the stream; closed when the client says so or the stream ends.
        if let Some(mut stdin) = child.stdin.take() {
            tokio::spawn(async move {
                while let Ok(Some(m)) = inbound.message().await {
                    if let Some(i) = m.stdin {
                        if !i.data.is_empty() && stdin.write_all(&i.data).await.is_err() {
                            break;
                        }
                        if i.close {
                            break;
                        }
                    }
                }
                let _ = stdin.shutdown().await;
            });
        }
        let pump = |mut r: Box<dyn tokio::io::AsyncRead + Send + Unpin>, err: bool| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 << 10];
                loop {
                    let n = r.read(&mut buf).await.unwrap_or(0);
                    let o = op(buf[..n].to_vec(), n == 0);
                    let m = if err {
                        drv::ExecTaskStreamingResponse {
                            stderr: o,
                            ..Default::default()
                        }
                    } else {
                        drv::ExecTaskStreamingResponse {
                            stdout: o,
                            ..Default::default()
                        }
                    };
                    if tx.send(Ok(m)).await.is_err() || n == 0 {
                        return;
                    }
                }
            })
        };
        let out = child.stdout.take().map(|o| pump(Box::new(o), false));
        let err = child.stderr.take().map(|e| pump(Box::new(e), true));
        tokio::spawn(async move {
            // Both streams drained, then the exit status.
            for h in [out, err].into_iter().flatten() {
                let _ = h.await;
            }
            use std::os::unix::process::ExitStatusExt;
            let result = match child.wait().await {
                Ok(s) => drv::ExitResult {
                    exit_code: s.code().unwrap_or(0),
                    signal: s.signal().unwrap_or(0),
                    oom_killed: false,
                },
                Err(_) => drv::ExitResult {
                    exit_code: 255,
                    ..Default::default()
                },
            };
            let _ = tx
                .send(Ok(drv::ExecTaskStreamingResponse {
                    exited: true,
                    result: Some(result),
                    ..Default::default()
                }))
                .await;
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn create_network(
        &self,
        _: Request<drv::CreateNetworkRequest>,
    ) -> Result<Response<drv::CreateNetworkResponse>, Status> {
        Err(Status::unimplemented(
            "the cudajail driver uses host networking",
        ))
    }

    async fn destroy_network(
        &self,
        _: Request<drv::DestroyNetworkRequest>,
    ) -> Result<Response<drv::DestroyNetworkResponse>, Status> {
        Err(Status::unimplemented(
            "the cudajail driver uses host networking",
        ))
    }
}

/// The most output `ExecTask` returns per stream.
const EXEC_OUTPUT_LIMIT: usize = 1 << 20;

/// Runs `argv` with `env`, killed after `timeout`; stdout and stderr kept up to 1 MiB each.
fn run_bounded(
    argv: &[String],
    env: &HashMap<String, String>,
    timeout: Duration,
    ids: Option<(u32, u32)>,
) -> Result<drv::ExecTaskResponse, Status> {
    use std::io::Read;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let (prog, rest) = argv
        .split_first()
        .ok_or_else(|| Status::invalid_argument("no command"))?;
    let mut cmd = std::process::Command::new(prog);
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd
        .args(rest)
        .env_clear()
        .envs(env)
        .env(
            "PATH",
            env.get("PATH")
                .map_or("/usr/local/bin:/usr/bin:/bin", String::as_str),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Status::failed_precondition(format!("{prog}: {e}")))?;
    let grab = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(r) = r {
                let _ = r.take(EXEC_OUTPUT_LIMIT as u64).read_to_end(&mut v);
            }
            v
        })
    };
    let out = grab(
        child
            .stdout
            .take()
            .map(|x| Box::new(x) as Box<dyn Read + Send>),
    );
    let err = grab(
        child
            .stderr
            .take()
            .map(|x| Box::new(x) as Box<dyn Read + Send>),
    );
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child
            .try_wait()
            .map_err(|e| Status::internal(e.to_string()))?
        {
            break s;
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            break child.wait().map_err(|e| Status::internal(e.to_string()))?;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(drv::ExecTaskResponse {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        result: Some(drv::ExitResult {
            exit_code: status.code().unwrap_or(0),
            signal: status.signal().unwrap_or(0),
            oom_killed: false,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jail_names_from_nomad_task_ids() {
        assert_eq!(
            jail_name("b1c7a0e2-0f5e-4a5b-9b1e-2a7c3d4e5f60/llama/5d1f0a2b").unwrap(),
            "nomad-b1c7a0e2-5d1f0a2b"
        );
        assert_eq!(jail_name("a.b/t/x y").unwrap(), "nomad-a_b-x_y");
        assert!(jail_name("").is_err());
        let n = jail_name("x/y/z").unwrap();
        assert!(jail::JailName::new(&n).is_ok());
    }

    #[test]
    fn cpu_times_as_freebsd_and_procps_print_them() {
        assert_eq!(parse_cpu_time("0:01.50"), Some(1.5));
        assert_eq!(parse_cpu_time("12:03.25"), Some(723.25));
        assert_eq!(parse_cpu_time("00:00:03"), Some(3.0));
        assert_eq!(parse_cpu_time("1-02:00:00"), Some(93_600.0));
        assert_eq!(parse_cpu_time("x"), None);
        // FreeBSD's ps: `time` as minutes:seconds.hundredths; the task (10), its child (11)
        // and grandchild (12); 20 is another process.
        let ps = "   10     1   2048   0:00.01\n   11    10 409600   1:30.00\n   12    11   1024   0:00.50\n   20     1  99999   9:00.00\n garbage\n";
        assert_eq!(tree_usage(ps, 10), Some((2048 + 409_600 + 1024, 90.51)));
        assert_eq!(tree_usage(ps, 12), Some((1024, 0.5)));
        assert_eq!(tree_usage(ps, 99), None);
        // Linux's ps: [dd-]hh:mm:ss.
        assert_eq!(tree_usage("  5  1  100 00:00:02\n", 5), Some((100, 2.0)));
        assert_eq!(parse_cpu_time(""), None);
    }

    #[test]
    fn reserved_gpus_and_signals() {
        let d = |p: &str| drv::Device {
            host_path: p.into(),
            ..Default::default()
        };
        assert_eq!(
            reserved_minors(&[
                d("/dev/nvidiactl"),
                d("/dev/nvidia-modeset"),
                d("/dev/nvidia1"),
                d("/dev/nvidia0")
            ]),
            [0, 1]
        );
        assert_eq!(signal_number("SIGTERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("HUP"), Some(libc::SIGHUP));
        assert_eq!(signal_number("SIGBOGUS"), None);
    }
}
