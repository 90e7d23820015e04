//! The protocol messages and gRPC services, generated at build time from `proto/` (our own
//! definitions with Nomad's and go-plugin's packages, names and field numbers). The module tree
//! follows the protobuf packages, so `plugin` is go-plugin's and `hashicorp::nomad::plugins::…`
//! Nomad's.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// go-plugin's `plugin` package: the `GRPCController` service.
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// Nomad's packages.
pub mod hashicorp {
    /// Nomad.
    pub mod nomad {
        /// Nomad's plugin packages.
        pub mod plugins {
            /// `hashicorp.nomad.plugins.base.proto`: the `BasePlugin` service.
            pub mod base {
                /// The package itself.
                pub mod proto {
                    tonic::include_proto!("hashicorp.nomad.plugins.base.proto");
                }
            }
            /// `hashicorp.nomad.plugins.drivers.proto`: the task `Driver` service.
            pub mod drivers {
                /// The package itself.
                pub mod proto {
                    tonic::include_proto!("hashicorp.nomad.plugins.drivers.proto");
                }
            }
            /// `hashicorp.nomad.plugins.device`: the `DevicePlugin` service.
            pub mod device {
                tonic::include_proto!("hashicorp.nomad.plugins.device");
            }
            /// Shared messages.
            pub mod shared {
                /// `hashicorp.nomad.plugins.shared.hclspec`: configuration schemas.
                pub mod hclspec {
                    tonic::include_proto!("hashicorp.nomad.plugins.shared.hclspec");
                }
                /// `hashicorp.nomad.plugins.shared.structs`: attributes and statistics.
                pub mod structs {
                    tonic::include_proto!("hashicorp.nomad.plugins.shared.structs");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Wire facts from hashicorp/nomad aa026cc99cfb74a77e519a1c1f0c78ba1b452705
    //! (`plugins/base/proto/base.proto`, `plugins/device/proto/device.proto`,
    //! `plugins/shared/structs/proto/*.proto`) and hashicorp/go-plugin
    //! dd3617ad0257b2e8fe63d5afe805b16a146c3ab9 (`internal/plugin/grpc_controller.proto`),
    //! written here as bytes, independently of `proto/`.
    use super::hashicorp::nomad::plugins::{base::proto as base, device, shared::structs};
    use prost::Message;

    #[test]
    fn service_paths_are_nomads_and_go_plugins() {
        assert_eq!(
            base::base_plugin_server::SERVICE_NAME,
            "hashicorp.nomad.plugins.base.proto.BasePlugin"
        );
        assert_eq!(
            device::device_plugin_server::SERVICE_NAME,
            "hashicorp.nomad.plugins.device.DevicePlugin"
        );
        assert_eq!(
            super::plugin::grpc_controller_server::SERVICE_NAME,
            "plugin.GRPCController"
        );
        assert_eq!(
            super::hashicorp::nomad::plugins::drivers::proto::driver_server::SERVICE_NAME,
            "hashicorp.nomad.plugins.drivers.proto.Driver"
        );
    }

    #[test]
    fn field_numbers_and_types_on_the_wire() {
        // PluginInfoResponse: type = 1 (enum, DEVICE = 3), plugin_api_versions = 2,
        // plugin_version = 3, name = 4.
        let m = base::PluginInfoResponse {
            r#type: base::PluginType::Device.into(),
            plugin_api_versions: vec!["v0.1.0".into()],
            plugin_version: "0.1.0".into(),
            name: "nvgpu".into(),
        };
        let mut want = vec![0x08, 3, 0x12, 6];
        want.extend(b"v0.1.0");
        want.extend([0x1a, 5]);
        want.extend(b"0.1.0");
        want.extend([0x22, 5]);
        want.extend(b"nvgpu");
        assert_eq!(m.encode_to_vec(), want);
        assert_eq!(base::PluginType::Driver as i32, 2);

        // SetConfigRequest: msgpack_config = 1 (bytes), nomad_config = 2, plugin_api_version = 3;
        // NomadDriverConfig: ClientMaxPort = 1, ClientMinPort = 2.
        let s = base::SetConfigRequest::decode(
            &[
                0x0a, 1, 0x80, 0x12, 0x08, 0x0a, 0x06, 0x08, 0x90, 0x71, 0x10, 0xb0, 0x6d, 0x1a, 1,
                b'v',
            ][..],
        )
        .unwrap();
        assert_eq!(s.msgpack_config, [0x80]);
        let d = s.nomad_config.unwrap().driver.unwrap();
        assert_eq!((d.client_max_port, d.client_min_port), (14480, 14000));
        assert_eq!(s.plugin_api_version, "v");

        // DetectedDevice: ID = 1, healthy = 2, health_description = 3, hw_locality = 4
        // (DeviceLocality.pci_bus_id = 1).
        let dd = device::DetectedDevice {
            id: "G".into(),
            healthy: true,
            health_description: "h".into(),
            hw_locality: Some(device::DeviceLocality {
                pci_bus_id: "p".into(),
            }),
        };
        assert_eq!(
            dd.encode_to_vec(),
            [0x0a, 1, b'G', 0x10, 1, 0x1a, 1, b'h', 0x22, 3, 0x0a, 1, b'p']
        );

        // Attribute: int_val = 2 (int64), unit = 5.
        let a = structs::Attribute {
            value: Some(structs::attribute::Value::IntVal(81559)),
            unit: "MiB".into(),
        };
        assert_eq!(
            a.encode_to_vec(),
            [0x10, 0x97, 0xfd, 0x04, 0x2a, 3, b'M', b'i', b'B']
        );

        // ReserveResponse.container_res = 1; ContainerReservation: envs = 1 (map), devices = 3;
        // DeviceSpec: task_path = 1, host_path = 2, permissions = 3.
        let r = device::ReserveResponse {
            container_res: Some(device::ContainerReservation {
                envs: Default::default(),
                mounts: vec![],
                devices: vec![device::DeviceSpec {
                    task_path: "t".into(),
                    host_path: "h".into(),
                    permissions: "rw".into(),
                }],
            }),
        };
        assert_eq!(
            r.encode_to_vec(),
            [0x0a, 12, 0x1a, 10, 0x0a, 1, b't', 0x12, 1, b'h', 0x1a, 2, b'r', b'w']
        );

        // StatsRequest.collection_interval = 1 (google.protobuf.Duration: seconds = 1).
        let q = device::StatsRequest::decode(&[0x0a, 2, 0x08, 5][..]).unwrap();
        assert_eq!(q.collection_interval.unwrap().seconds, 5);
        // StatValue: int_numerator_val = 3 (Int64Value wrapper, value = 1), unit = 7.
        let v = structs::StatValue {
            int_numerator_val: Some(7),
            unit: "u".into(),
            ..Default::default()
        };
        assert_eq!(v.encode_to_vec(), [0x1a, 2, 0x08, 7, 0x3a, 1, b'u']);
    }
}
