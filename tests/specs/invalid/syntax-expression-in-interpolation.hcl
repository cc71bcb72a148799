# expect: 5:22: only a variable
schema_version = "1.0"
vm {
  name = "t"
  provision = ["echo ${1 + 2}"]
}
