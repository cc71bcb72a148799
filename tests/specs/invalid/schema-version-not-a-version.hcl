# expect: 2:18: not a kernel version
schema_version = "one"
