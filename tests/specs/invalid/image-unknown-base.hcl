# expect: 4:10: base image "debian-21" is not in the image catalog
schema_version = "1.0"
image "builder" {
  base = "debian-21"
}
