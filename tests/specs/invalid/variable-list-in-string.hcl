# expect: 6:12: cannot be put into a string
schema_version = "1.0"
variable "mods" { default = ["veth"] }
vm {
  name = "t"
  image = "${var.mods}"
}
