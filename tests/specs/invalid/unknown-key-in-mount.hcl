# expect: 5:30: unknown key `destnation`
schema_version = "1.0"
vm {
  name = "t"
  mounts = [{ source = "..", destnation = "/src" }]
}
