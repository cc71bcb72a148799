# expect: 5:18: is not set
schema_version = "1.0"
vm {
  name = "t"
  image = "${env.ORCA_SPEC_TEST_SURELY_UNSET}"
}
