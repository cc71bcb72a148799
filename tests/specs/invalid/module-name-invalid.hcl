# expect: 5:22: not a kernel module name
schema_version = "1.0"
vm {
  name = "t"
  modules = ["veth", "veth.ko xz"]
}
