# orca's built-in image catalog: the distro root filesystems specs may name in `image = "..."`.
# Each is built with mmdebstrap (variant minbase) from the archive's suite, through the host's own
# apt configuration or the image's `mirror`. A `-minimal` image holds the essential packages only;
# the others add the packages below. A project's own `image` blocks (configs/*.hcl) add images or
# override these by name. `kernel` is the catalog kernel an image boots unless a spec names one.

schema_version = "1.0"

image "debian-11" {
  archive  = "debian"
  suite    = "bullseye"
  kernel   = "5.10"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "debian-11-minimal" {
  archive = "debian"
  suite   = "bullseye"
  kernel  = "5.10"
}

image "debian-12" {
  archive  = "debian"
  suite    = "bookworm"
  kernel   = "6.1"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "debian-12-minimal" {
  archive = "debian"
  suite   = "bookworm"
  kernel  = "6.1"
}

image "debian-13" {
  archive  = "debian"
  suite    = "trixie"
  kernel   = "6.12"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "debian-13-minimal" {
  archive = "debian"
  suite   = "trixie"
  kernel  = "6.12"
}

image "ubuntu-20.04" {
  archive  = "ubuntu"
  suite    = "focal"
  kernel   = "5.4"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "ubuntu-20.04-minimal" {
  archive = "ubuntu"
  suite   = "focal"
  kernel  = "5.4"
}

image "ubuntu-22.04" {
  archive  = "ubuntu"
  suite    = "jammy"
  kernel   = "5.15"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "ubuntu-22.04-minimal" {
  archive = "ubuntu"
  suite   = "jammy"
  kernel  = "5.15"
}

image "ubuntu-24.04" {
  archive  = "ubuntu"
  suite    = "noble"
  kernel   = "6.8"
  packages = ["ca-certificates", "iproute2", "iputils-ping", "kmod", "netbase", "procps"]
}

image "ubuntu-24.04-minimal" {
  archive = "ubuntu"
  suite   = "noble"
  kernel  = "6.8"
}
