# expect: 5:35: unknown key `dest`
schema_version = "1.0"
vm {
  name = "t"
  artifacts = [{ source = "/out", dest = "build" }]
}
