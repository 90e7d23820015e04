//! The driver on a real FreeBSD host with an NVIDIA GPU, as Nomad drives it:
//! `sudo CUDAJAIL_TEST_POOL=zroot cargo test -p nomad-driver-cudajail --test freebsd_root -- --ignored`.
//! It builds a real CUDA jail (debootstrap the first time: minutes), runs a command in it with
//! jexec(8), stops it with SIGTERM and destroys the jail; then checks with jls(8) and zfs(8)
//! that nothing is left. Needs the host `cudajail doctor` accepts.
#![cfg(target_os = "freebsd")]

use nomad::msgpack::{encode, Value};
use nomad::proto::hashicorp::nomad::plugins::{base::proto as base, drivers::proto as drv};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_nomad-driver-cudajail");

fn out(cmd: &str, args: &[&str]) -> String {
    String::from_utf8_lossy(&Command::new(cmd).args(args).output().unwrap().stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "root: builds and destroys a real CUDA jail through the driver"]
async fn a_task_runs_in_a_real_cuda_jail_and_leaves_nothing() {
    sysabi::testing::require_root();
    assert!(
        std::path::Path::new("/dev/nvidia0").exists(),
        "needs an NVIDIA GPU with nvidia.ko loaded"
    );
    let pool = std::env::var("CUDAJAIL_TEST_POOL").unwrap_or_else(|_| "zroot".into());
    let dir = std::env::temp_dir().join(sysabi::testing::unique("nomad-driver-root"));
    std::fs::create_dir_all(&dir).unwrap();
    let p = nomad::loader::launch(Command::new(BIN).stderr(Stdio::inherit()), &dir).unwrap();
    let ch = nomad::loader::connect(&p.socket).await.unwrap();
    base::base_plugin_client::BasePluginClient::new(ch.clone())
        .set_config(base::SetConfigRequest {
            msgpack_config: encode(&Value::Map(vec![
                (Value::Str("pool".into()), Value::Str(pool.clone())),
                (
                    Value::Str("state_dir".into()),
                    Value::Str(dir.join("state").to_str().unwrap().into()),
                ),
            ])),
            nomad_config: None,
            plugin_api_version: "v0.1.0".into(),
        })
        .await
        .unwrap();
    let mut d = drv::driver_client::DriverClient::new(ch);
    let id = "f00dfeed-0000-0000-0000-000000000000/root-test/0badc0de";
    let jail = "nomad-f00dfeed-0badc0de";
    let stdout = dir.join("stdout");
    let task = drv::TaskConfig {
        id: id.into(),
        name: "root-test".into(),
        msgpack_driver_config: encode(&Value::Map(vec![
            (Value::Str("command".into()), Value::Str("/bin/sh".into())),
            (
                Value::Str("args".into()),
                Value::Array(vec![
                    Value::Str("-c".into()),
                    Value::Str("uname -s; ls /dev | grep '^nvidia'; trap 'exit 7' TERM; while :; do sleep 1; done".into()),
                ]),
            ),
        ])),
        devices: vec![drv::Device { host_path: "/dev/nvidia0".into(), task_path: "/dev/nvidia0".into(), cgroup_permissions: "rw".into() }],
        stdout_path: stdout.to_str().unwrap().into(),
        stderr_path: dir.join("stderr").to_str().unwrap().into(),
        ..Default::default()
    };
    d.start_task(drv::StartTaskRequest { task: Some(task) })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        text.starts_with("Linux\n"),
        "the command ran under the Linux ABI in the jail: {text:?}"
    );
    assert!(
        text.contains("nvidia0") && text.contains("nvidiactl"),
        "{text:?}"
    );
    assert!(out("jls", &["name"]).lines().any(|l| l == jail));
    d.stop_task(drv::StopTaskRequest {
        task_id: id.into(),
        timeout: Some(prost_types::Duration {
            seconds: 10,
            nanos: 0,
        }),
        signal: "SIGTERM".into(),
    })
    .await
    .unwrap();
    let w = d
        .wait_task(drv::WaitTaskRequest { task_id: id.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.result.unwrap().exit_code, 7);
    d.destroy_task(drv::DestroyTaskRequest {
        task_id: id.into(),
        force: false,
    })
    .await
    .unwrap();
    assert!(
        !out("jls", &["name"]).lines().any(|l| l == jail),
        "the jail is gone"
    );
    assert!(
        !out("zfs", &["list", "-H", "-o", "name"]).contains(jail),
        "the dataset is gone"
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}
