# expect: 5:15: undefined variable `image`
schema_version = "1.0"
vm {
  name = "t"
  image = var.image
}
