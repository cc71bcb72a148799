# expect: 6:12: has no value
schema_version = "1.0"
variable "img" {}
vm {
  name = "t"
  image = "${var.img}"
}
