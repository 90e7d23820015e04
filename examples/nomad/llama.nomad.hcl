# llama.cpp's server on one NVIDIA GPU of a FreeBSD client, in a CUDA jail of its own made by
# the cudajail task driver from the llama-cpp recipe's template. The device plugin
# (nomad-device-nvgpu) picks a free GPU; the jail sees that GPU and no other.
job "llama" {
  datacenters = ["dc1"]
  type        = "service"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "freebsd"
  }

  group "inference" {
    network {
      port "http" {
        static = 8080
      }
    }

    task "server" {
      driver = "cudajail"

      config {
        command = "/opt/llama.cpp/build/bin/llama-server"
        args    = ["-m", "/opt/models/model.gguf", "--host", "0.0.0.0", "--port", "8080", "-ngl", "99"]
        recipe  = "llama-cpp"
        suite   = "noble"
        # Read-only from the host; the driver's bind_roots must include /tank/models.
        binds = ["/tank/models:/opt/models"]
      }

      # The jail's root runs it; a host user mirrored into the jail works too.
      user = "root"

      resources {
        cpu    = 4000
        memory = 16384

        device "nvidia/gpu" {
          count = 1
        }
      }

      kill_timeout = "30s"
    }
  }
}
