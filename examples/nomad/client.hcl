# Nomad client agent on a FreeBSD host with NVIDIA GPUs: loads nomad-device-nvgpu from
# plugin_dir, so that jobs can ask for `device "nvidia/gpu"`. See docs/nomad.md.

data_dir   = "/var/db/nomad"
plugin_dir = "/usr/local/libexec/nomad/plugins"

client {
  enabled = true
  servers = ["nomad-server.example.org:4647"]
}

# The block's label is the plugin's executable name in plugin_dir.
plugin "nomad-device-nvgpu" {
  config {
    enabled            = true
    fingerprint_period = "1m"
    # GPUs kept away from Nomad (by UUID, as `nvgpu list` prints them).
    ignored_gpu_ids = []
  }
}

# The cudajail task driver: each task in a CUDA jail of its own (jobs say driver = "cudajail").
plugin "nomad-driver-cudajail" {
  config {
    # The ZFS pool for the jails (default: the one holding /, as `cudajail up` picks it).
    # pool = "zroot"
    state_dir = "/var/db/nomad-driver-cudajail"
    # Host directories jobs may bind into their jails (binds = ["HOST:TARGET"]); none by default.
    bind_roots = ["/tank/models"]
  }
}

# raw_exec runs the smoke-test job's commands on the host, where the reserved GPU's device
# nodes are.
plugin "raw_exec" {
  config {
    enabled = true
  }
}
