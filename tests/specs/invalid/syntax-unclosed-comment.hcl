# expect: 3:1: unclosed comment
schema_version = "1.0"
/* the VM
vm {
  name = "t"
}
