# One file, several mistakes: validation must report every one, not just the first.
# expect: 14:5: unknown key `cpus`
# expect: 15:14: no unit
# expect: 17:45: absolute path in the guest
# expect: 18:13: true or false
# expect: 27:62: unknown stage "biuld"
# expect: 28:62: stage-c -> stage-d -> stage-c
# expect: 33:20: undefined variable `kernle`
schema_version = "1.0"

vm {
  name = "several"
  resources {
    cpus   = 2
    memory = "1024"
  }
  mounts  = [{ source = "..", destination = "src" }]
  network = "no"
}

variable "kernel" { default = "6.1" }

pipeline {
  name = "p"
  stages = [
    { name = "build", commands = ["orca build"] },
    { name = "stage-b", commands = ["true"], dependencies = ["biuld"] },
    { name = "stage-c", commands = ["true"], dependencies = ["stage-d"] },
    { name = "stage-d", commands = ["true"], dependencies = ["stage-c"] },
    {
      name = "stage-e"
      vm = "several"
      kernel = var.kernle
      commands = ["true"]
    },
  ]
}
