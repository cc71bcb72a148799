# The VM that builds the host firewall's eBPF programs (xdp_blocklist, tc_egress_policy,
# cgroup_events) with the pinned clang from configs/build.hcl.
#
#   orca run configs/ebpf-builder.hcl --command 'cd /flywall && orca build'
schema_version = "1.0"

vm {
  name  = "ebpf-builder"
  image = "host"

  resources {
    cpu    = 2
    memory = "1GB"
  }

  mounts = [
    # The guest already sees the host root read-only; this share makes the project writable at a
    # fixed path, so objects land in build/ebpf on the host and paths are the same on every machine.
    { source = "..", destination = "/flywall", readonly = false },
    # clang's temporary files stay in RAM.
    { type = "tmpfs", destination = "/tmp/build", size = "1GB" },
  ]

  # Fails early, with clang's own message, if the pinned clang is missing.
  provision = ["clang-14 --version"]

  # Copied back after `orca run`. A host path is relative to this file's folder, as `source = ".."`
  # above is: "../build/ebpf" is the project's build/ebpf.
  artifacts = [
    { source = "/flywall/build/ebpf", destination = "../build/ebpf" },
  ]
}
