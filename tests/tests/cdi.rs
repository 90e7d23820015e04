//! The CDI spec `cudajail export` writes, read by the CNCF's own Rust implementation
//! (`container-device-interface`: its parser, JSON-schema check and spec validation): every
//! device name it resolves must be one we meant.

#![cfg(target_os = "linux")]

use cudajail::export::{cdi, CdiGpu, CdiHost};
use std::path::PathBuf;

fn load(v: &serde_json::Value, tag: &str) -> container_device_interface::spec::Spec {
    let dir = std::env::temp_dir().join(format!("cudajail-cdi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("nvidia.json");
    std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    let spec = container_device_interface::spec::read_spec(&path, 0)
        .unwrap_or_else(|e| panic!("the CNCF reader refused our spec: {e:#}\n{v:#}"));
    let _ = std::fs::remove_dir_all(&dir);
    spec
}

#[test]
fn the_cncf_reader_takes_our_spec_with_index_uuid_and_all_names() {
    let gpus = [
        CdiGpu {
            minor: 0,
            uuid: Some("GPU-7180742a-0000-4000-8000-000000000000".into()),
        },
        CdiGpu {
            minor: 1,
            uuid: Some("GPU-7180742a-0000-4000-8000-000000000001".into()),
        },
    ];
    let host = CdiHost {
        libs: vec![
            (
                "/compat/linux/usr/lib64".into(),
                "libcuda.so.580.95.05".into(),
            ),
            (
                "/compat/linux/usr/lib64".into(),
                "libnvidia-ml.so.580.95.05".into(),
            ),
        ],
    };
    let v = cdi(&gpus, &host);
    let mut spec = load(&v, "full");
    assert_eq!(spec.get_vendor(), "nvidia.com");
    assert_eq!(spec.get_class(), "gpu");
    let devices = spec.validate().expect("the spec validates");
    let names: Vec<&String> = devices.keys().collect();
    assert_eq!(
        names,
        [
            "0",
            "1",
            "GPU-7180742a-0000-4000-8000-000000000000",
            "GPU-7180742a-0000-4000-8000-000000000001",
            "all"
        ]
    );
    let common = &v["containerEdits"];
    assert_eq!(
        common["mounts"][0]["containerPath"],
        "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05"
    );
    assert_eq!(common["hooks"][0]["hookName"], "createContainer");
}

#[test]
fn without_a_host_the_spec_still_loads() {
    let v = cdi(
        &[CdiGpu {
            minor: 3,
            uuid: None,
        }],
        &CdiHost::default(),
    );
    let mut spec = load(&v, "bare");
    let devices = spec.validate().unwrap();
    assert_eq!(devices.keys().collect::<Vec<_>>(), ["3", "all"]);
}
