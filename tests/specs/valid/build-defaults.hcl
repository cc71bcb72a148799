# A toolchain that gives only the clang version: target, flags and out_dir take their defaults.
schema_version = "1.0"

toolchain {
  clang_version = 14
}

program "xdp_blocklist" {
  source = "ebpf/xdp_blocklist.c"
}

program "cgroup_events" {
  source = "ebpf/cgroup_events.c"
  cflags = ["-DMAX_EVENTS=4096"]
}
