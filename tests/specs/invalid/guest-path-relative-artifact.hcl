# expect: 5:27: absolute path in the guest
schema_version = "1.0"
vm {
  name = "t"
  artifacts = [{ source = "build/ebpf", destination = "build/ebpf" }]
}
