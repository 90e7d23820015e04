//! Acts as Nomad's plugin loader and task runner against the `nomad-driver-cudajail` binary on
//! a simulated FreeBSD host (`NOMAD_CUDAJAIL_SIM_STATE`): the jails, datasets and devfs rulesets
//! are simulated by hostsim and checked in its saved state; the tasks' programs run on this
//! machine as real processes (real signals, exit codes and output files). Calls in the order
//! Nomad's client makes them (`plugins/drivers/client.go`, `client/allocrunner/taskrunner`):
//! PluginInfo, ConfigSchema, SetConfig, Capabilities, TaskConfigSchema, Fingerprint,
//! TaskEvents, StartTask → InspectTask/TaskStats/ExecTask/SignalTask → StopTask → WaitTask →
//! DestroyTask; RecoverTask after the driver process is killed and started again; StartTask
//! failing before, inside and after `up`, each leaving the host as it was.

use nomad::msgpack::{encode, Value};
use nomad::proto::hashicorp::nomad::plugins::{base::proto as base, drivers::proto as drv};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_nomad-driver-cudajail");

/// Kills, when dropped (a test passing or panicking), the tasks and supervisors a test started
/// below `dir`: they outlive the driver by design, and a failing test would leave them
/// running, holding the test's output pipe open (a CI run would wait on it forever).
struct Reaper(PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        let kill = |target: String| {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &target])
                .stderr(std::process::Stdio::null())
                .status();
        };
        // Each task's process group, by the pid its supervisor recorded.
        if let Ok(rd) = std::fs::read_dir(self.0.join("state/tasks")) {
            for e in rd.flatten() {
                if let Ok(pid) = std::fs::read_to_string(e.path().join("pid")) {
                    if let Ok(pid) = pid.trim().parse::<i32>() {
                        if pid > 1 {
                            kill(format!("-{pid}"));
                        }
                    }
                }
            }
        }
        // Supervisors and drivers started for this directory (Linux: /proc).
        let needle = self.0.to_string_lossy().into_owned();
        let me = std::process::id().to_string();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmd).contains(&needle) {
                    kill(pid);
                }
            }
        }
    }
}

fn own_uid() -> String {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nomad-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn save(h: &hostsim::SimHost, p: &Path) {
    std::fs::write(p, serde_json::to_vec(&h.snapshot()).unwrap()).unwrap();
}

fn load(p: &Path) -> hostsim::State {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn launch(dir: &Path, state: &Path) -> nomad::loader::Launched {
    nomad::loader::launch(
        Command::new(BIN)
            .env("NOMAD_CUDAJAIL_SIM_STATE", state)
            .stderr(Stdio::inherit()),
        dir,
    )
    .unwrap()
}

struct Clients {
    base: base::base_plugin_client::BasePluginClient<Channel>,
    drv: drv::driver_client::DriverClient<Channel>,
}

async fn clients(p: &nomad::loader::Launched, state_dir: &Path) -> Clients {
    let ch = nomad::loader::connect(&p.socket).await.unwrap();
    let mut base = base::base_plugin_client::BasePluginClient::new(ch.clone());
    base.set_config(base::SetConfigRequest {
        msgpack_config: encode(&Value::Map(vec![
            (Value::Str("pool".into()), Value::Nil),
            (
                Value::Str("state_dir".into()),
                Value::Str(state_dir.to_str().unwrap().into()),
            ),
            // Tasks may bind what lies below alice's home on the simulated host, nothing else.
            (
                Value::Str("bind_roots".into()),
                Value::Array(vec![Value::Str("/home/alice".into())]),
            ),
        ])),
        nomad_config: None,
        plugin_api_version: "v0.1.0".into(),
    })
    .await
    .unwrap();
    Clients {
        base,
        drv: drv::driver_client::DriverClient::new(ch),
    }
}

fn task_config(id: &str, dir: &Path, command: &[&str], gpus: &[&str]) -> drv::TaskConfig {
    task_with_binds(id, dir, command, gpus, &[])
}

fn task_with_binds(
    id: &str,
    dir: &Path,
    command: &[&str],
    gpus: &[&str],
    binds: &[&str],
) -> drv::TaskConfig {
    let (cmd, args) = command.split_first().unwrap();
    let mut devices = vec![
        drv::Device {
            task_path: "/dev/nvidiactl".into(),
            host_path: "/dev/nvidiactl".into(),
            cgroup_permissions: "rw".into(),
        },
        drv::Device {
            task_path: "/dev/nvidia-modeset".into(),
            host_path: "/dev/nvidia-modeset".into(),
            cgroup_permissions: "rw".into(),
        },
    ];
    devices.extend(gpus.iter().map(|g| drv::Device {
        task_path: (*g).into(),
        host_path: (*g).into(),
        cgroup_permissions: "rw".into(),
    }));
    drv::TaskConfig {
        id: id.into(),
        name: id.split('/').nth(1).unwrap_or("task").into(),
        alloc_id: id.split('/').next().unwrap().into(),
        msgpack_driver_config: encode(&Value::Map(vec![
            (Value::Str("command".into()), Value::Str((*cmd).into())),
            (
                Value::Str("args".into()),
                Value::Array(args.iter().map(|a| Value::Str((*a).into())).collect()),
            ),
            (Value::Str("recipe".into()), Value::Nil),
            (
                Value::Str("binds".into()),
                Value::Array(binds.iter().map(|b| Value::Str((*b).into())).collect()),
            ),
        ])),
        env: HashMap::from([("GREETING".to_string(), "hello from nomad".to_string())]),
        device_env: HashMap::from([(
            "NVIDIA_VISIBLE_DEVICES".to_string(),
            "GPU-second".to_string(),
        )]),
        devices,
        stdout_path: dir
            .join(format!("{}.stdout", id.replace('/', "_")))
            .to_str()
            .unwrap()
            .into(),
        stderr_path: dir
            .join(format!("{}.stderr", id.replace('/', "_")))
            .to_str()
            .unwrap()
            .into(),
        ..Default::default()
    }
}

fn wait_for_text(path: &str, needle: &str) -> String {
    let t0 = Instant::now();
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{needle:?} never appeared in {path}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Nothing of the task's jail is left on the simulated host: no jail, no dataset of it, the
/// rulesets and mounts as before (the template cache aside).
fn no_residue(before: &hostsim::State, after: &hostsim::State, jail: &str) {
    assert!(after.jails().is_empty(), "{:?}", after.jails());
    assert!(after.dying_jails().is_empty());
    assert!(
        !after.datasets().keys().any(|d| d.contains(jail)),
        "{:?}",
        after.datasets().keys()
    );
    assert_eq!(after.rulesets(), before.rulesets());
    // The template (and its parents) stay mounted: a cache, as with `cudajail up`.
    let mounts = |s: &hostsim::State| -> Vec<String> {
        s.mounts()
            .keys()
            .filter(|m| *m != "/zroot/cudajail" && !m.starts_with("/zroot/cudajail/templates"))
            .cloned()
            .collect()
    };
    assert_eq!(mounts(after), mounts(before));
}

const TASK: &str = "b1c7a0e2-0f5e-4a5b-9b1e-2a7c3d4e5f60/train/5d1f0a2b";
const JAIL: &str = "nomad-b1c7a0e2-5d1f0a2b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_runs_a_task_in_its_own_cuda_jail_and_destroys_it() {
    let dir = scratch("lifecycle");
    let _reaper = Reaper(dir.clone());
    let state = dir.join("host.json");
    save(&hostsim::SimHost::freebsd14_cuda_ready(2), &state);
    let before = load(&state);
    let p = launch(&dir, &state);
    let mut c = clients(&p, &dir.join("state")).await;

    let info = c
        .base
        .plugin_info(base::PluginInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.r#type, base::PluginType::Driver as i32);
    assert_eq!(info.name, "cudajail", "jobs say driver = \"cudajail\"");
    assert!(info.plugin_api_versions.contains(&"v0.1.0".to_string()));
    let caps = c
        .drv
        .capabilities(drv::CapabilitiesRequest {})
        .await
        .unwrap()
        .into_inner()
        .capabilities
        .unwrap();
    assert!(caps.send_signals && caps.exec);
    assert_eq!(
        caps.fs_isolation,
        drv::driver_capabilities::FsIsolation::Image as i32
    );
    assert!(c
        .drv
        .task_config_schema(drv::TaskConfigSchemaRequest {})
        .await
        .unwrap()
        .into_inner()
        .spec
        .is_some());
    let mut fp = c
        .drv
        .fingerprint(drv::FingerprintRequest {})
        .await
        .unwrap()
        .into_inner();
    let f = fp.next().await.unwrap().unwrap();
    assert_eq!(
        f.health,
        drv::fingerprint_response::HealthState::Healthy as i32,
        "{}",
        f.health_description
    );
    assert!(f.attributes.contains_key("driver.cudajail"));
    let mut events = c
        .drv
        .task_events(drv::TaskEventsRequest {})
        .await
        .unwrap()
        .into_inner();

    // StartTask: the jail is built with exactly the reserved GPU, the program runs with the
    // task's environment and the device environment, its output in Nomad's files.
    let script = "echo started $GREETING $NVIDIA_VISIBLE_DEVICES; echo ids $(id -u):$(id -g); \
                  echo to-stderr >&2; \
                  trap 'echo bye; exit 7' TERM; while :; do sleep 0.05; done";
    let mut t = task_with_binds(
        TASK,
        &dir,
        &["/bin/sh", "-c", script],
        &["/dev/nvidia1"],
        &["/home/alice/models:/opt/models"],
    );
    // Nomad's `user`: mirrored from the host into the jail (on FreeBSD the command then runs
    // under the jail's own runuser; the simulated host runs it directly).
    t.user = "alice".into();
    let started = c
        .drv
        .start_task(drv::StartTaskRequest {
            task: Some(t.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    let handle = started.handle.unwrap();
    assert_eq!(handle.state, drv::TaskState::Running as i32);
    assert_eq!(handle.config.as_ref().unwrap().id, TASK);
    let out = wait_for_text(&t.stdout_path, "started");
    assert!(
        out.contains("started hello from nomad GPU-second"),
        "{out:?}"
    );
    // The task runs as Nomad's `user`: alice's uid and gid from the simulated host's passwd
    // (what `jexec -u` takes from a real host's), when the driver is root and can switch.
    let out = wait_for_text(&t.stdout_path, "ids ");
    let want = if sysabi::testing::is_root() {
        "ids 1001:1001"
    } else {
        "ids "
    };
    assert!(out.contains(want), "{out:?}");
    wait_for_text(&t.stderr_path, "to-stderr");
    let host = load(&state);
    let (_, j) = host
        .jails()
        .iter()
        .find(|(_, j)| j.name == JAIL)
        .expect("the task's jail runs");
    let ruleset = match j.params.get("devfs_ruleset") {
        Some(jail::ParamValue::Int(n)) => devfs::RulesetId(u16::try_from(*n).unwrap()),
        other => panic!("devfs_ruleset {other:?}"),
    };
    let passwd = match host.files().get(&format!("{}/etc/passwd", j.path)) {
        Some(hostsim::Node::File(d)) => String::from_utf8_lossy(d).into_owned(),
        other => panic!("no /etc/passwd in the jail: {other:?}"),
    };
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("alice:") && l.contains(":1001:1001:")),
        "the task user is mirrored into the jail with the host's uid and gid: {passwd}"
    );
    let bind = format!("{}/opt/models", j.path);
    assert!(
        host.mounts()
            .get(&bind)
            .is_some_and(|m| m.iter().any(|m| m.fstype == "nullfs" && m.flags & 1 == 1)), // MNT_RDONLY
        "the bind is mounted read-only at {bind}: {:?}",
        host.mounts().keys()
    );
    let rules = format!("{:?}", host.rulesets()[&ruleset]);
    assert!(
        rules.contains("\"nvidia1\""),
        "the reserved GPU is unhidden: {rules}"
    );
    assert!(
        !rules.contains("\"nvidia0\""),
        "the other GPU is not: {rules}"
    );
    let e = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        e.message.contains("building CUDA jail") && e.task_id == TASK,
        "{e:?}"
    );

    let st = c
        .drv
        .inspect_task(drv::InspectTaskRequest {
            task_id: TASK.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let s = st.task.unwrap();
    assert_eq!(s.state, drv::TaskState::Running as i32);
    assert!(
        s.started_at.is_some() && s.completed_at.is_some() && s.result.is_some(),
        "Nomad requires all three"
    );
    assert_eq!(st.driver.unwrap().attributes["jail"], JAIL);
    let mut stats = c
        .drv
        .task_stats(drv::TaskStatsRequest {
            task_id: TASK.into(),
            collection_interval: Some(prost_types::Duration {
                seconds: 0,
                nanos: 50_000_000,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let s = stats.next().await.unwrap().unwrap().stats.unwrap();
    assert!(
        s.timestamp.is_some() && s.agg_resource_usage.is_some(),
        "Nomad requires both"
    );
    let mem = s.agg_resource_usage.unwrap().memory.unwrap();
    assert!(
        mem.rss > 0 && !mem.measured_fields.is_empty(),
        "ps measured the task: {mem:?}"
    );
    let s = stats.next().await.unwrap().unwrap().stats.unwrap();
    let cpu = s.agg_resource_usage.unwrap().cpu.unwrap();
    assert!(
        !cpu.measured_fields.is_empty() && cpu.percent >= 0.0,
        "{cpu:?}"
    );
    drop(stats);
    let ex = c
        .drv
        .exec_task(drv::ExecTaskRequest {
            task_id: TASK.into(),
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo $GREETING $(id -u); exit 3".into(),
            ],
            timeout: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let me = if sysabi::testing::is_root() {
        "1001".to_string()
    } else {
        own_uid()
    };
    assert_eq!(
        (
            String::from_utf8_lossy(&ex.stdout).into_owned(),
            ex.result.unwrap().exit_code
        ),
        (format!("hello from nomad {me}\n"), 3),
        "ExecTask runs as the task's user too"
    );
    // `nomad alloc exec`: stdin in, stdout and stderr out, then the exit status.
    let io = |data: &[u8], close: bool| {
        Some(drv::ExecTaskStreamingIoOperation {
            data: data.to_vec(),
            close,
        })
    };
    let msgs = vec![
        drv::ExecTaskStreamingRequest {
            setup: Some(drv::exec_task_streaming_request::Setup {
                task_id: TASK.into(),
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "read x; echo got $x $GREETING $(id -u); echo oops >&2; exit 4".into(),
                ],
                tty: false,
            }),
            ..Default::default()
        },
        drv::ExecTaskStreamingRequest {
            stdin: io(b"hello\n", false),
            ..Default::default()
        },
        drv::ExecTaskStreamingRequest {
            stdin: io(b"", true),
            ..Default::default()
        },
    ];
    let mut out = c
        .drv
        .exec_task_streaming(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    let (mut so, mut se, mut exit) = (Vec::new(), Vec::new(), None);
    while let Some(m) = tokio::time::timeout(Duration::from_secs(10), out.next())
        .await
        .unwrap()
    {
        let m = m.unwrap();
        if let Some(o) = m.stdout {
            so.extend(o.data);
        }
        if let Some(e) = m.stderr {
            se.extend(e.data);
        }
        if m.exited {
            exit = m.result;
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&so),
        format!("got hello hello from nomad {me}\n")
    );
    assert_eq!(String::from_utf8_lossy(&se), "oops\n");
    assert_eq!(exit.unwrap().exit_code, 4);
    let bad = c
        .drv
        .signal_task(drv::SignalTaskRequest {
            task_id: TASK.into(),
            signal: "SIGBOGUS".into(),
        })
        .await;
    assert_eq!(bad.unwrap_err().code(), tonic::Code::InvalidArgument);
    let running = c
        .drv
        .destroy_task(drv::DestroyTaskRequest {
            task_id: TASK.into(),
            force: false,
        })
        .await;
    assert_eq!(
        running.unwrap_err().code(),
        tonic::Code::FailedPrecondition,
        "a running task is not destroyed unforced"
    );

    // StopTask: SIGTERM, which the task traps; WaitTask reports its exit status.
    let mut waiter = c.drv.clone();
    let wait = tokio::spawn(async move {
        waiter
            .wait_task(drv::WaitTaskRequest {
                task_id: TASK.into(),
            })
            .await
            .unwrap()
            .into_inner()
    });
    c.drv
        .stop_task(drv::StopTaskRequest {
            task_id: TASK.into(),
            timeout: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
            signal: "SIGTERM".into(),
        })
        .await
        .unwrap();
    let w = tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.result.unwrap().exit_code, 7, "{}", w.err);
    wait_for_text(&t.stdout_path, "bye");
    let s = c
        .drv
        .inspect_task(drv::InspectTaskRequest {
            task_id: TASK.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.task.unwrap().state, drv::TaskState::Exited as i32);

    // DestroyTask: the jail, its dataset, ruleset and mounts are gone.
    c.drv
        .destroy_task(drv::DestroyTaskRequest {
            task_id: TASK.into(),
            force: false,
        })
        .await
        .unwrap();
    no_residue(&before, &load(&state), JAIL);
    let gone = c
        .drv
        .inspect_task(drv::InspectTaskRequest {
            task_id: TASK.into(),
        })
        .await;
    assert_eq!(gone.unwrap_err().code(), tonic::Code::NotFound);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_driver_recovers_the_task_from_its_handle() {
    let dir = scratch("recover");
    let _reaper = Reaper(dir.clone());
    let state = dir.join("host.json");
    save(&hostsim::SimHost::freebsd14_cuda_ready(1), &state);
    let before = load(&state);
    let id = "0a1b2c3d-1111-2222-3333-444455556666/infer/9e8d7c6b";
    let jail = "nomad-0a1b2c3d-9e8d7c6b";
    let flag = dir.join("go");
    let script = format!(
        "echo up; while [ ! -e {} ]; do sleep 0.05; done; exit 3",
        flag.display()
    );
    let t = task_config(id, &dir, &["/bin/sh", "-c", &script], &["/dev/nvidia0"]);
    let handle = {
        let mut p = launch(&dir, &state);
        let mut c = clients(&p, &dir.join("state")).await;
        let h = c
            .drv
            .start_task(drv::StartTaskRequest {
                task: Some(t.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .handle
            .unwrap();
        wait_for_text(&t.stdout_path, "up");
        // The Nomad client restarts: the driver process dies (SIGKILL, no goodbye).
        p.child.kill().unwrap();
        p.child.wait().unwrap();
        h
    };
    assert!(
        load(&state).jails().values().any(|j| j.name == jail),
        "the jail outlives the driver"
    );
    let p = launch(&dir, &state);
    let mut c = clients(&p, &dir.join("state")).await;
    // Nomad sends the handle alone (no task_id); a handle without config is ignored.
    c.drv
        .recover_task(drv::RecoverTaskRequest {
            task_id: String::new(),
            handle: Some(drv::TaskHandle::default()),
        })
        .await
        .unwrap();
    c.drv
        .recover_task(drv::RecoverTaskRequest {
            task_id: String::new(),
            handle: Some(handle.clone()),
        })
        .await
        .unwrap();
    let s = c
        .drv
        .inspect_task(drv::InspectTaskRequest { task_id: id.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.task.unwrap().state,
        drv::TaskState::Running as i32,
        "the task kept running"
    );
    std::fs::write(&flag, b"").unwrap();
    let w = tokio::time::timeout(
        Duration::from_secs(10),
        c.drv.wait_task(drv::WaitTaskRequest { task_id: id.into() }),
    )
    .await
    .unwrap()
    .unwrap()
    .into_inner();
    assert_eq!(
        w.result.unwrap().exit_code,
        3,
        "the exit status survives the restart: {}",
        w.err
    );
    c.drv
        .destroy_task(drv::DestroyTaskRequest {
            task_id: id.into(),
            force: false,
        })
        .await
        .unwrap();
    no_residue(&before, &load(&state), jail);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_start_leaves_the_host_as_it_was() {
    let dir = scratch("faults");
    let _reaper = Reaper(dir.clone());
    let state = dir.join("host.json");
    save(&hostsim::SimHost::freebsd14_cuda_ready(1), &state);
    let p = launch(&dir, &state);
    let mut c = clients(&p, &dir.join("state")).await;
    let before = load(&state);
    let start = |t: drv::TaskConfig| {
        let mut d = c.drv.clone();
        async move { d.start_task(drv::StartTaskRequest { task: Some(t) }).await }
    };
    // Before anything: no GPU reserved; a config without a command.
    let e = start(task_config("a1/t/1", &dir, &["/bin/true"], &[]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.message().contains("nvidia/gpu"), "{}", e.message());
    let mut t = task_config("a2/t/2", &dir, &["/bin/true"], &["/dev/nvidia0"]);
    t.msgpack_driver_config = encode(&Value::Map(vec![]));
    assert_eq!(
        start(t).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    assert_eq!(load(&state), before);
    // A bind outside the operator's bind_roots is refused before any change.
    let e = start(task_with_binds(
        "a5/t/5",
        &dir,
        &["/bin/true"],
        &["/dev/nvidia0"],
        &["/etc:/x"],
    ))
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert!(e.message().contains("bind_roots"), "{}", e.message());
    assert_eq!(load(&state), before);
    // A task user the host does not have is refused before any change, naming it.
    let mut t = task_config("a6/t/6", &dir, &["/bin/true"], &["/dev/nvidia0"]);
    t.user = "mallory".into();
    let e = start(t).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.message().contains("mallory"), "{}", e.message());
    assert_eq!(load(&state), before);
    // Inside `up`: a GPU the host does not have is found before any change.
    let e = start(task_config(
        "a3/t/3",
        &dir,
        &["/bin/true"],
        &["/dev/nvidia7"],
    ))
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.message().contains('7'), "{}", e.message());
    let after = load(&state);
    assert!(after.jails().is_empty() && !after.datasets().keys().any(|d| d.contains("nomad-")));
    // After `up`: the command cannot start; the jail up built is destroyed again.
    let e = start(task_config(
        "a4/t/4",
        &dir,
        &["/nonexistent/program"],
        &["/dev/nvidia0"],
    ))
    .await
    .unwrap_err();
    assert!(
        e.message().contains("/nonexistent/program")
            && e.message().contains("the jail was destroyed"),
        "{}",
        e.message()
    );
    no_residue(&before, &load(&state), "nomad-a4-4");
    assert!(
        c.base.plugin_info(base::PluginInfoRequest {}).await.is_ok(),
        "the driver keeps serving"
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_by_hand_it_prints_go_plugins_message_and_exits_1() {
    let out = Command::new(BIN)
        .env_remove("NOMAD_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("This binary is a plugin."));
}

/// Nomad starts allocations concurrently: two StartTasks at once get two jails with rulesets of
/// their own (the driver builds one jail at a time), and both are destroyed cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_get_separate_jails_and_rulesets() {
    let dir = scratch("concurrent");
    let _reaper = Reaper(dir.clone());
    let state = dir.join("host.json");
    save(&hostsim::SimHost::freebsd14_cuda_ready(2), &state);
    let before = load(&state);
    let p = launch(&dir, &state);
    let c = clients(&p, &dir.join("state")).await;
    let ids = ["c0c0c0c0-aaaa/one/11111111", "d1d1d1d1-bbbb/two/22222222"];
    let starts = ids
        .iter()
        .zip(["/dev/nvidia0", "/dev/nvidia1"])
        .map(|(id, gpu)| {
            let mut d = c.drv.clone();
            let t = task_config(
                id,
                &dir,
                &["/bin/sh", "-c", "while :; do sleep 0.05; done"],
                &[gpu],
            );
            async move { d.start_task(drv::StartTaskRequest { task: Some(t) }).await }
        });
    let (a, b) = {
        let mut v: Vec<_> = starts.collect();
        let b = v.pop().unwrap();
        let a = v.pop().unwrap();
        tokio::join!(a, b)
    };
    a.unwrap();
    b.unwrap();
    let host = load(&state);
    let rulesets: std::collections::BTreeSet<String> = host
        .jails()
        .values()
        .map(|j| format!("{:?}", j.params.get("devfs_ruleset")))
        .collect();
    assert_eq!((host.jails().len(), rulesets.len()), (2, 2), "{rulesets:?}");
    for id in ids {
        let mut d = c.drv.clone();
        d.stop_task(drv::StopTaskRequest {
            task_id: id.into(),
            timeout: Some(prost_types::Duration {
                seconds: 2,
                nanos: 0,
            }),
            signal: String::new(),
        })
        .await
        .unwrap();
        d.destroy_task(drv::DestroyTaskRequest {
            task_id: id.into(),
            force: false,
        })
        .await
        .unwrap();
    }
    no_residue(&before, &load(&state), "nomad-");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}
