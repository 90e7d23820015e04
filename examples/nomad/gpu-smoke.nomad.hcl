# Places one task on a FreeBSD client with a free NVIDIA GPU and lists the GPU it got.
# nomad-device-nvgpu reserves the GPU and passes NVIDIA_VISIBLE_DEVICES (its UUID) to the task.
job "gpu-smoke" {
  datacenters = ["dc1"]
  type        = "batch"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "freebsd"
  }

  group "smoke" {
    task "nvgpu-list" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo reserved: $NVIDIA_VISIBLE_DEVICES; /usr/local/bin/nvgpu list"]
      }

      resources {
        cpu    = 100
        memory = 64

        device "nvidia/gpu" {
          count = 1

          # Only GPUs with at least 40 GiB, as the plugin reports `memory` in MiB.
          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "40 GiB"
          }
        }
      }
    }
  }
}
