# expect: 5:49: `destination` is empty
schema_version = "1.0"
vm {
  name = "t"
  artifacts = [{ source = "/out", destination = "" }]
}
