# expect: 5:3: unknown key `memory` in `vm`
schema_version = "1.0"
vm {
  name = "t"
  memory = "1GB"
}
