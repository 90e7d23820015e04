//! Compiles the protocol definitions in `proto/` (ours, with Nomad's and go-plugin's packages and
//! field numbers) into Rust with protox (no `protoc` needed) and tonic-prost-build.

fn main() {
    let files = [
        "plugin/grpc_controller.proto",
        "plugins/base/proto/base.proto",
        "plugins/device/proto/device.proto",
        "plugins/drivers/proto/driver.proto",
        "plugins/shared/hclspec/hcl_spec.proto",
        "plugins/shared/structs/proto/attribute.proto",
        "plugins/shared/structs/proto/stats.proto",
    ];
    println!("cargo:rerun-if-changed=proto");
    let fds = match protox::compile(files, ["proto"]) {
        Ok(f) => f,
        Err(e) => panic!("the protocol definitions in proto/ do not compile: {e:?}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
    {
        panic!("generating the gRPC code failed: {e}");
    }
}
