# One matrix cell on a distro image (nix/lib/images.nix): nixpkgs builds the image with its own
# Debian/Ubuntu builder (`vmTools.diskImageFuns.<distro>`, the image's packages and the provision's
# `apt-get install` packages), boots it with the cell's kernel (`vmTools.runInLinuxImage`, on a
# copy-on-write layer over the image), runs the provision lines left and the cell's command there,
# and nix/cell_report.py turns the command's output into junit.xml, verdict and suite.json, as for
# a NixOS cell (nix/cell-test.nix). `check` fails when a test failed against the expectations.
{ pkgs, orcaLib, orca, ebpf, src, cell }:
let
  image = cell.image;
  spec = cell.spec // { image = image.name; };
  specFile = pkgs.writeText "orca-${spec.check}.json" (builtins.toJSON spec);

  # Built once per image and package list, with nixpkgs' default vmTools; shared by every kernel.
  diskImage = pkgs.vmTools.diskImageFuns.${image.attr} image.args;
  # vmTools boots nixpkgs' default kernel unless told (its `kernel ? pkgs.linux` argument).
  vmTools = pkgs.vmTools.override { kernel = cell.kernelPackages.kernel; };

  script = pkgs.writeText "orca-${spec.check}-guest.sh" (orcaLib.guestScript {
    inherit spec;
    inherit (image) run;
    objects = ebpf;
    project = src;
    timeout = "${pkgs.coreutils}/bin/timeout";
    path = [ "${orca}/bin" ];
  });

  # The guest's stdout and exit status. The derivation succeeds whenever the command ran (whatever
  # its status), so the report is kept and cached; a failing provision line fails it.
  guest = vmTools.runInLinuxImage (pkgs.stdenv.mkDerivation {
    name = "orca-${spec.check}-guest";
    inherit diskImage;
    diskImageFormat = "qcow2";
    memSize = image.memoryMib;
    QEMU_OPTS = "-smp ${toString image.cpus}";
    buildCommand = ''
      /bin/bash ${script} "$out"
    '';
  });

  results = pkgs.runCommand "orca-${spec.check}-results" { nativeBuildInputs = [ pkgs.python3 ]; } ''
    mkdir -p $out
    python3 ${./cell_report.py} ${specFile} "$(cat ${guest}/status)" ${guest}/output $out
  '';
in
pkgs.runCommand "orca-${spec.check}" { passthru = { inherit results guest diskImage script spec; }; } ''
  mkdir -p $out
  cp ${results}/junit.xml $out/junit.xml
  if [ "$(head -n 1 ${results}/verdict)" != pass ]; then
    echo "orca: cell ${spec.id} (image ${image.name}, kernel ${spec.kernel}) failed:" >&2
    tail -n +2 ${results}/verdict >&2
    exit 1
  fi
''
