# Every kind of kernel source: a split Debian kernel (image and modules), a URL, a file on disk
# (relative to this file's folder), and a version known without a source.
schema_version = "1.0"

kernel "7.2" {
  release = "7.2.13+deb14-amd64"
  debian {
    package = "linux-binary-unsigned-7.2.13+deb14-amd64"
    version = "7.2.13-1"
    suite   = "sid"
    sha256  = "9990f14b7bea0000000000000000000000000000000000000000000000000000"
  }
  debian {
    package = "linux-modules-7.2.13+deb14-amd64"
    suite   = "sid"
    sha256  = "a37a3d2009150000000000000000000000000000000000000000000000000000"
  }
}

kernel "6.6" {
  nixpkgs = "linuxPackages_6_6"
  url {
    url    = "https://kernels.invalid/linux-6.6.deb"
    sha256 = "3333333333333333333333333333333333333333333333333333333333333333"
  }
}

kernel "6.8" {
  file {
    path   = "../kernels/vmlinuz-6.8"
    sha256 = "4444444444444444444444444444444444444444444444444444444444444444"
  }
}

kernel "4.19" {}
