# expect: 7:21: undefined variable `memroy`
schema_version = "1.0"
variable "memory" { default = "1GB" }
vm {
  name = "t"
  resources {
    memory = "${var.memroy}"
  }
}
