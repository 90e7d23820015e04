//! `nvgpu::list_breakdown` on the simulated driver: the calls one list makes (hostsim answers
//! like the driver; timings there mean nothing, the call sequence does).

use nvgpu::list_breakdown;

#[test]
fn a_list_on_two_gpus_makes_these_calls() {
    let h = hostsim::SimHost::freebsd14_with_gpus(2);
    let (phases, total) = list_breakdown(|| &h, 3).unwrap();
    assert!(phases.iter().map(|p| p.median).sum::<std::time::Duration>() <= total);
    let calls: Vec<(&str, u32)> = phases.iter().map(|p| (p.name.as_str(), p.calls)).collect();
    assert_eq!(
        calls,
        [
            ("open /dev/nvidiactl", 1),
            ("escape CHECK_VERSION_STR", 2),
            ("escape CARD_INFO", 1),
            ("open /dev/nvidiaN", 2),
            ("rm_alloc NV01_ROOT_CLIENT", 1),
            ("rm_control GPU_GET_ID_INFO_V2", 2),
            ("rm_alloc NV01_DEVICE_0", 2),
            ("rm_alloc NV20_SUBDEVICE_0", 2),
            ("rm_control GPU_GET_NAME_STRING", 2),
            ("rm_control GPU_GET_GID_INFO", 2),
            // One probe of the list size per session (it changed between driver versions),
            // then one query per GPU: a call a floor without the probe would save.
            ("rm_control FB_GET_INFO_V2", 3),
            ("rm_free", 1),
        ]
    );
}
