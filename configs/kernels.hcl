schema_version = "1.0"

# The kernel catalog: each kernel version the matrix and VMs may name, pinned to the exact bytes
# it boots. Every part has a sha256; orca refuses a part whose bytes differ (exit 4).
#
# The first four are Debian's generic `-amd64` flavour: it builds virtio, 9p and overlayfs as
# modules, which orca loads from its own initramfs. The `-cloud-amd64` flavour has no 9p at all,
# only virtiofs: orca shares the host root with it through virtiofsd (see the last entry).
#
# Debian parts are fetched with `apt-get download` through the host's own mirror, with the suite
# added in a private apt state (see src/kernel/apt.rs). To move a kernel to a newer package:
#   orca kernel pin 6.1 --debian linux-image-6.1.0-NN-amd64-unsigned --suite bookworm

# Debian 11 (bullseye). Modules under lib/modules, uncompressed.
kernel "5.10" {
  release = "5.10.0-32-amd64"
  nixpkgs = "linuxPackages_5_10"
  debian {
    package = "linux-image-5.10.0-32-amd64-unsigned"
    version = "5.10.223-1"
    suite   = "bullseye"
    sha256  = "53a0ada535b8b35b3ee80ead5ab88036591963941c42dff6881bdb741deebead"
  }
}

# Debian 12 (bookworm). Modules under lib/modules, uncompressed.
kernel "6.1" {
  release = "6.1.0-50-amd64"
  nixpkgs = "linuxPackages_6_1"
  debian {
    package = "linux-image-6.1.0-50-amd64-unsigned"
    version = "6.1.176-1"
    suite   = "bookworm"
    sha256  = "439422e41d2dbb840b60b81e3bf5e5955bfa56b7a8c268aec83c9ff882d421e6"
  }
}

# Debian 13 (trixie), where 6.12 is the release kernel (bookworm-backports has it too).
# Modules under usr/lib/modules, compressed as .ko.xz.
kernel "6.12" {
  release = "6.12.117+deb13-amd64"
  nixpkgs = "linuxPackages_6_12"
  debian {
    package = "linux-image-6.12.117+deb13-amd64-unsigned"
    version = "6.12.117-1"
    suite   = "trixie"
    sha256  = "3b80d047f4d70d5f85d834f370b0e4b1bf689ee958c69018a570319b77f49301"
  }
}

# Debian sid. One kernel is split over three packages, all needed: linux-binary-unsigned holds
# the image (usr/lib/modules/<release>/vmlinuz.unsigned), linux-modules the .ko.xz files, and
# linux-base the config, modules.builtin and modules.order.
# No nixpkgs attribute: the pinned nixpkgs (nixos-25.11) has no 7.2 kernel, so the nix backend
# reports this kernel as unavailable rather than boot a different one.
kernel "7.2" {
  release = "7.2.13+deb14-amd64"
  debian {
    package = "linux-binary-unsigned-7.2.13+deb14-amd64"
    version = "7.2.13-1"
    suite   = "sid"
    sha256  = "9990f14b7bea8932d3377894b4c81811d1414eea792720881a067578f913f2b4"
  }
  debian {
    package = "linux-modules-7.2.13+deb14-amd64"
    version = "7.2.13-1"
    suite   = "sid"
    sha256  = "a37a3d200915c4cf524e90c81bbb2a8b683d292cd00873e89c23b2ef32b1bf11"
  }
  debian {
    package = "linux-base-7.2.13+deb14-amd64"
    version = "7.2.13-1"
    suite   = "sid"
    sha256  = "2b2d3c6e224358c60974d0bc87461da99a85733eb1fec035b5167582c3bede2b"
  }
}

# Ubuntu's LTS kernels, the defaults of the ubuntu-20.04, -22.04 and -24.04 images: the generic
# flavour from the Ubuntu archive's -updates pockets, each split over the unsigned image and its
# modules. Listed unpinned (no sha256): the Ubuntu archive cannot be reached from the machines
# this catalog was written on, and orca boots no bytes it cannot check, so until pinned these
# kernels are unavailable, with that reason. Where the archive is reachable (the host's apt
# sources have an Ubuntu entry, or ORCA_UBUNTU_MIRROR=URL):
#   orca kernel pin 5.15
# downloads the listed parts, checks the release, and writes their sha256 here.

# Ubuntu 20.04 (focal).
kernel "5.4" {
  release = "5.4.0-100-generic"
  ubuntu {
    package = "linux-image-unsigned-5.4.0-100-generic"
    version = "5.4.0-100.113"
    suite   = "focal-updates"
  }
  ubuntu {
    package = "linux-modules-5.4.0-100-generic"
    version = "5.4.0-100.113"
    suite   = "focal-updates"
  }
}

# Ubuntu 22.04 (jammy).
kernel "5.15" {
  release = "5.15.0-70-generic"
  ubuntu {
    package = "linux-image-unsigned-5.15.0-70-generic"
    version = "5.15.0-70.77"
    suite   = "jammy-updates"
  }
  ubuntu {
    package = "linux-modules-5.15.0-70-generic"
    version = "5.15.0-70.77"
    suite   = "jammy-updates"
  }
}

# Ubuntu 24.04 (noble).
kernel "6.8" {
  release = "6.8.0-106-generic"
  ubuntu {
    package = "linux-image-unsigned-6.8.0-106-generic"
    version = "6.8.0-106.106"
    suite   = "noble-updates"
  }
  ubuntu {
    package = "linux-modules-6.8.0-106-generic"
    version = "6.8.0-106.106"
    suite   = "noble-updates"
  }
}

# Debian 12 (bookworm), the `-cloud-amd64` flavour of the same 6.1.176: no 9p, so the guest sees
# the host root over virtiofs (virtiofsd: Debian 12's qemu-system-common). Not in the matrix.
# The catalog's keys are versions (MAJOR.MINOR[.PATCH]), hence the patch level as its name.
kernel "6.1.176" {
  release = "6.1.0-50-cloud-amd64"
  debian {
    package = "linux-image-6.1.0-50-cloud-amd64-unsigned"
    version = "6.1.176-1"
    suite   = "bookworm"
    sha256  = "4f217f710203cdfedde21f836bc66a0a4d773752d7fe8e5e13f701f891788945"
  }
}
