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

# raw_exec runs the example job's commands on the host, where the reserved GPU's device nodes
# are. The cudajail task driver is not written yet (see docs/nomad.md).
plugin "raw_exec" {
  config {
    enabled = true
  }
}
