# Declared images: `host` may be declared (it is the builtin), and other host-type images named.
schema_version = "1.0"

image "host" {
  type = "host"
}

image "builder" {
  type = "host"
}

vm {
  name  = "uses-builder"
  image = "builder"
}
