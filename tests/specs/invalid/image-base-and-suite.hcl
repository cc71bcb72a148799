# expect: 5:3: `suite` comes from the base image
schema_version = "1.0"
image "builder" {
  base  = "debian-12"
  suite = "trixie"
}
