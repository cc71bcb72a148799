# expect: 5:12: unknown reference
schema_version = "1.0"
vm {
  name = "t"
  image = "${local.image}"
}
