# Unit tests of nix/lib/images.nix: orca's images -> nixpkgs' vmTools image builders, provision
# lines -> package lists, and the reasons a cell's image is unavailable. Runs alone
#   nix-instantiate --eval --strict -E 'import ./nix/tests/images.nix { }'
# (tests/nix_images.rs), and with the other suites in nix/tests/default.nix.
# `vmTools` below stands in for the pin's: exactly the Debian/Ubuntu distros of nixos-25.11's
# debDistros (nix/README.md, "Images"), as in tests/nix/stand-in/pkgs.nix.
{ lib ? import ./stub-lib.nix, run ? false }:
let
  im = import ../lib/images.nix { inherit lib; };
  rev = "8fd9daa";
  distros = [
    "ubuntu2204i386" "ubuntu2204x86_64" "ubuntu2404x86_64"
    "debian11i386" "debian11x86_64" "debian12i386" "debian12x86_64" "debian13i386" "debian13x86_64"
  ];
  vmTools = { diskImageFuns = builtins.listToAttrs (map (d: { name = d; value = args: { inherit d args; }; }) distros); };
  # An older nixpkgs that still had Ubuntu 20.04.
  oldVmTools = { diskImageFuns = vmTools.diskImageFuns // { ubuntu2004x86_64 = args: args; }; };

  # The catalog as `orca gen` writes it (the golden fixture, from src/spec/images.hcl), plus a
  # user's image on debian-12 and one on a suite nixpkgs has no builder for.
  fixture = builtins.fromJSON (builtins.readFile ./fixtures/images.json);
  images = fixture.images // {
    flywall-builder = {
      type = "distro"; archive = "debian"; suite = "bookworm"; kernel = "6.1"; mirror = null; base = "debian-12";
      packages = [ "ca-certificates" "iproute2" "iputils-ping" "kmod" "make" "netbase" "procps" ];
    };
    sid = { type = "distro"; archive = "debian"; suite = "sid"; kernel = null; packages = [ ]; mirror = null; base = null; };
  };
  catalogPackages = [ "ca-certificates" "iproute2" "iputils-ping" "kmod" "netbase" "procps" ];
  vm = provision: { name = "builder"; inherit provision; disk_mib = null; memory_mib = 2048; cpus = 2; };
  flywallProvision = [
    "apt-get update"
    "apt-get install -y clang llvm linux-headers-amd64 libelf-dev libbpf-dev make pkg-config golang-go"
  ];
  imageFor = args: im.imageFor ({ inherit images vmTools rev; system = "x86_64-linux"; } // args);
  brief = i: if i.available && !i.host then { inherit (i) attr args run; } else i;

  tests = {
    # Catalog images: each Debian/Ubuntu suite nixpkgs builds, with the catalog's packages.
    catalogDebian11 = { expr = brief (imageFor { } "debian-11"); expected = { attr = "debian11x86_64"; args.extraPackages = catalogPackages; run = [ ]; }; };
    catalogDebian12 = { expr = brief (imageFor { } "debian-12"); expected = { attr = "debian12x86_64"; args.extraPackages = catalogPackages; run = [ ]; }; };
    catalogDebian13 = { expr = brief (imageFor { } "debian-13"); expected = { attr = "debian13x86_64"; args.extraPackages = catalogPackages; run = [ ]; }; };
    catalogUbuntu2204 = { expr = brief (imageFor { } "ubuntu-22.04"); expected = { attr = "ubuntu2204x86_64"; args.extraPackages = catalogPackages; run = [ ]; }; };
    catalogUbuntu2404 = { expr = brief (imageFor { } "ubuntu-24.04"); expected = { attr = "ubuntu2404x86_64"; args.extraPackages = catalogPackages; run = [ ]; }; };
    # -minimal: the same builder with nothing added (nixpkgs' own base set, see nix/README.md).
    minimalAddsNothing = { expr = brief (imageFor { } "debian-12-minimal"); expected = { attr = "debian12x86_64"; args.extraPackages = [ ]; run = [ ]; }; };
    minimalUbuntu = { expr = (imageFor { } "ubuntu-24.04-minimal").attr; expected = "ubuntu2404x86_64"; };
    hostIsTheNixosTestVm = { expr = imageFor { } "host"; expected = { available = true; host = true; name = "host"; }; };
    i386System = { expr = (imageFor { system = "i686-linux"; } "debian-12").attr; expected = "debian12i386"; };

    # Ubuntu 20.04: mapped to ubuntu2004, which nixos-25.11 does not have: unavailable, saying so,
    # never another image; with a pin that has it, it is used.
    ubuntu2004IsUnavailableAtThePin = {
      expr = imageFor { } "ubuntu-20.04";
      expected = {
        available = false;
        name = "ubuntu-20.04";
        reason = "image ubuntu-20.04: nixpkgs 8fd9daa has no vmTools.diskImageFuns.ubuntu2004x86_64 (ubuntu focal);"
          + " run this cell with orca's native backend, or pin a nixpkgs whose vmTools has it";
      };
    };
    ubuntu2004MinimalToo = { expr = (imageFor { } "ubuntu-20.04-minimal").available; expected = false; };
    ubuntu2004WithAPinThatHasIt = { expr = (imageFor { vmTools = oldVmTools; } "ubuntu-20.04").attr; expected = "ubuntu2004x86_64"; };
    noAarch64Images = {
      expr = (imageFor { system = "aarch64-linux"; } "debian-12").reason;
      expected = "image debian-12: nixpkgs' vmTools builds Debian and Ubuntu images for x86_64 and i386 only, not aarch64-linux";
    };
    unknownSuite = {
      expr = (imageFor { } "sid").reason;
      expected = "image sid: nixpkgs' vmTools has no image builder for debian sid (orca maps Debian bullseye, bookworm, trixie and Ubuntu focal, jammy, noble to it)";
    };
    unknownImage = { expr = (imageFor { } "centos-7").available; expected = false; };

    # A user's image block (base + packages, folded by orca gen) with the Flywall provision: apt-get
    # update is dropped, apt-get install's packages join the image's, nothing is left to run.
    userImageWithProvision = {
      expr = brief (imageFor { matrixVm = vm flywallProvision; } "flywall-builder");
      expected = {
        attr = "debian12x86_64";
        args.extraPackages = [
          "ca-certificates" "clang" "golang-go" "iproute2" "iputils-ping" "kmod" "libbpf-dev" "libelf-dev"
          "linux-headers-amd64" "llvm" "make" "netbase" "pkg-config" "procps"
        ];
        run = [ ];
      };
    };
    # The VM's memory and CPUs are the cell's (matrix.nix guestFor), as for a NixOS cell.
    sizeIsTheCells = { expr = let i = imageFor { matrixVm = vm [ ]; } "debian-12"; in [ (i ? memoryMib) (i ? cpus) ]; expected = [ false false ]; };
    diskRaisesTheSize = {
      expr = (imageFor { matrixVm = vm [ ] // { disk_mib = 20480; }; } "debian-12").args.size;
      expected = 20480;
    };
    smallDiskKeepsNixpkgsDefault = { expr = (imageFor { matrixVm = vm [ ] // { disk_mib = 1024; }; } "debian-12").args ? size; expected = false; };

    # apt-get install variants.
    installFlags = {
      expr = im.parseProvision [
        "apt-get install -y --no-install-recommends clang"
        "apt-get -qq -y install llvm"
        "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y make"
        "sudo -E apt install --yes 'bpftool' \"iproute2\""
        "apt-get -o Dpkg::Options::=--force-confold install -y g++"
      ];
      expected = { packages = [ "bpftool" "clang" "g++" "iproute2" "llvm" "make" ]; run = [ ]; problems = [ ]; };
    };
    chainedLinesKeepTheirOtherCommands = {
      expr = im.parseProvision [
        "apt-get update && apt-get install -y clang && clang --version"
        "cd /tmp; apt-get install -y make; make --version"
        "apt-get update"
      ];
      expected = { packages = [ "clang" "make" ]; run = [ "clang --version" "cd /tmp ; make --version" ]; problems = [ ]; };
    };
    otherLinesRunAsWritten = {
      expr = im.parseProvision [ "echo 'a;b' > /tmp/x" "go version" "apt-get clean" ];
      expected = { packages = [ ]; run = [ "echo 'a;b' > /tmp/x" "go version" "apt-get clean" ]; problems = [ ]; };
    };
    aptMentionedNotRunIsKept = {
      expr = (im.parseProvision [ "echo apt-get install -y clang" ]).run;
      expected = [ "echo apt-get install -y clang" ];
    };
    versionsReleasesAndExpansionsAreRefused = {
      expr = (im.parseProvision [
        "apt-get install -y clang=1:14.0-55"
        "apt-get install -y -t bookworm-backports golang-go"
        "apt-get install -y linux-headers-$(uname -r)"
        "apt-get install -y ./local.deb"
        "apt-get install -y"
      ]).problems;
      expected = [
        "provision line 1 (`apt-get install -y clang=1:14.0-55`): `clang=1:14.0-55` is not a plain package name (nixpkgs' image builder takes names only: no =version, /release, :arch, globs, paths, shell expansion or removal)"
        "provision line 2 (`apt-get install -y -t bookworm-backports golang-go`): `apt-get install -t bookworm-backports` picks a release or architecture; nixpkgs' image builder installs the suite's own version"
        "provision line 3 (`apt-get install -y linux-headers-$(uname -r)`): `linux-headers-$(uname` is not a plain package name (nixpkgs' image builder takes names only: no =version, /release, :arch, globs, paths, shell expansion or removal)"
        "provision line 4 (`apt-get install -y ./local.deb`): `./local.deb` is not a plain package name (nixpkgs' image builder takes names only: no =version, /release, :arch, globs, paths, shell expansion or removal)"
        "provision line 5 (`apt-get install -y`): `apt-get install` names no package"
      ];
    };
    removalIsRefused = { expr = builtins.length (im.parseProvision [ "apt-get install -y clang-" ]).problems; expected = 1; };
    aProvisionProblemMakesTheImageUnavailable = {
      expr = imageFor { matrixVm = vm [ "apt-get install -y clang=1:14.0-55" ]; } "debian-12";
      expected = {
        available = false;
        name = "debian-12";
        reason = "image debian-12: provision line 1 (`apt-get install -y clang=1:14.0-55`): `clang=1:14.0-55` is not a plain package name (nixpkgs' image builder takes names only: no =version, /release, :arch, globs, paths, shell expansion or removal)";
      };
    };

    # Cells: kernel-unavailable cells stay so; image-unavailable ones join them with the reason.
    partition = {
      expr =
        let
          matrix.cells = [
            { check = "matrix-d12"; image = "debian-12"; }
            { check = "matrix-u20"; image = "ubuntu-20.04"; }
            { check = "matrix-host"; image = "host"; }
            { check = "matrix-7_2"; image = "debian-13"; }
          ];
          cell = id: { spec.id = id; };
          cells = {
            available = { matrix-d12 = cell "d12"; matrix-u20 = cell "u20"; matrix-host = cell "host"; };
            unavailable = { matrix-7_2 = "cell 7.2: kernel 7.2 has no nixpkgs attribute in configs/kernels.hcl"; };
          };
          p = im.partitionImages { inherit matrix cells; resolveImage = imageFor { }; };
        in
        { available = builtins.mapAttrs (_: c: c.image.attr or "host") p.available; inherit (p) unavailable; };
      expected = {
        available = { matrix-d12 = "debian12x86_64"; matrix-host = "host"; };
        unavailable = {
          matrix-7_2 = "cell 7.2: kernel 7.2 has no nixpkgs attribute in configs/kernels.hcl";
          matrix-u20 = "cell u20: image ubuntu-20.04: nixpkgs 8fd9daa has no vmTools.diskImageFuns.ubuntu2004x86_64 (ubuntu focal);"
            + " run this cell with orca's native backend, or pin a nixpkgs whose vmTools has it";
        };
      };
    };

    # The guest script: the project where NixOS cells have it (spec.source), the VM's modules
    # loaded, each provision line once and named when it fails, then cell_report.py on the spec
    # (the test block's script, results and report as in a NixOS cell), guest packages after the
    # image's PATH.
    guestScript = {
      expr =
        let
          s = im.guestScript {
            spec = { id = "d12"; timeout_secs = 600; source = "/etc/orca/project"; modules = [ "sch_ingress" ]; };
            run = [ "go version" "cd /src" ];
            project = "/nix/store/p"; timeout = "/nix/store/c/bin/timeout";
            report = "/nix/store/py/bin/python3 /nix/store/r-cell_report.py /nix/store/s.json";
            path = [ "/nix/store/iproute2/bin" ];
          };
          has = needle: builtins.match ".*${needle}.*" (builtins.replaceStrings [ "\n" ] [ " " ] s) != null;
        in
        map has [
          "ln -sfn /nix/store/p /etc/orca/project"
          "modprobe 'sch_ingress' [|][|] [{]"
          "loading the kernel module sch_ingress of the VM spec failed"
          "/nix/store/c/bin/timeout 600 /bin/bash -c '[{] go version"
          "provision line 1 failed [(]exit "
          "provision line 2 failed [(]exit "
          "exec /nix/store/py/bin/python3 /nix/store/r-cell_report.py /nix/store/s.json \"[$]out\""
          "export PATH=\"[$]PATH:/nix/store/iproute2/bin\""
        ];
      expected = [ true true true true true true true true ];
    };
    # Nothing to provision, no modules: neither appears.
    guestScriptBare = {
      expr =
        let
          s = im.guestScript {
            spec = { id = "d13"; timeout_secs = 60; source = "/etc/orca/project"; modules = [ ]; };
            run = [ ]; project = "/nix/store/p"; timeout = "timeout"; report = "report";
          };
          has = needle: builtins.match ".*${needle}.*" (builtins.replaceStrings [ "\n" ] [ " " ] s) != null;
        in
        map has [ "modprobe '" "provision" "exec report \"[$]out\"" ];
      expected = [ false false true ];
    };
    # The provision lines run as one script (cd carries over), each named when it fails.
    provisionScript = {
      expr = im.provisionScript { id = "d12"; run = [ "cd /src" "make" ]; };
      expected = "{ cd /src\n} || { s=$?; echo 'orca: cell d12: provision line 1 failed (exit '\"$s\"'): cd /src' >&2; exit 1; }\n"
        + "{ make\n} || { s=$?; echo 'orca: cell d12: provision line 2 failed (exit '\"$s\"'): make' >&2; exit 1; }\n";
    };
  };
  failed = builtins.filter (name: tests.${name}.expr != tests.${name}.expected) (builtins.attrNames tests);
  show = name: "FAIL ${name}: expected ${builtins.toJSON tests.${name}.expected}, got ${builtins.toJSON tests.${name}.expr}";
in
if !run then tests
else if failed == [ ] then "${toString (builtins.length (builtins.attrNames tests))} Nix image tests passed"
else throw ("\n" + builtins.concatStringsSep "\n" (map show failed))
