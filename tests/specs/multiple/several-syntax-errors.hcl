# Several syntax errors: after each, reading resumes at the next top-level item.
# expect: 8:11: never closed
# expect: 13:21: expected `,` or `]`
# expect: 17:16: after a value
schema_version = "1.0"

vm {
  image = "host
  name  = "a"
}

vm {
  modules = ["veth" "bridge"]
  name    = "b"
}

timeout = "10" + "m"
