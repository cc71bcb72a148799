# expect: 5:16: never closed
schema_version = "1.0"
vm {
  name = "t"
  provision = [<<EOF
    make
  ]
}
