# A valid matrix this host cannot fully run: a kernel with no source, a kernel missing from the
# catalog, a distro image (which VMs cannot boot yet) and an undeclared VM. None of these is a spec error; the plan lists
# them as unresolved and marks the cells unavailable.
schema_version = "1.0"

kernel "6.1" {
  nixpkgs = "linuxPackages_6_1"
}

test_matrix = [
  { name = "no-source", kernel_version = "6.1" },
  { name = "not-in-catalog", kernel_version = "5.16" },
  { name = "other-image", image = "ubuntu-22.04", kernel_version = "6.1" },
]

test {
  vm       = "not-declared-here"
  commands = ["orca suite"]
}
