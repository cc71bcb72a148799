# One matrix cell on a distro image (nix/lib/images.nix): nixpkgs builds the image with its own
# Debian/Ubuntu builder (`vmTools.diskImageFuns.<distro>`, the image's packages and the provision's
# `apt-get install` packages), boots it with the cell's kernel (`vmTools.runInLinuxImage`, on a
# copy-on-write layer over the image), runs the provision lines left, then the test block's script
# exactly as a NixOS cell does (nix/cell-test.nix): nix/cell_report.py, run in the guest, copies the
# project to project_dir, runs the script as one shell in workdir with CI=true, collects the JUnit
# files its `results` name and writes junit.xml and verdict (the same report format) into
# `results`. The guest derivation succeeds whenever the script ran, so the report is kept and
# cached; a failing provision line or module fails it. `check` fails when the cell failed.
#
# project: the project's files as the cell sees them (nix/project.nix puts the flake's objects and
# the guest files in place); guestPackages: what the script finds on PATH after the image's tools.
{ pkgs, orcaLib, project, guestPackages, cell }:
let
  image = cell.image;
  spec = cell.spec // { image = image.name; };
  specFile = pkgs.writeText "orca-${spec.check}.json" (builtins.toJSON spec);

  # Built once per image and package list, with nixpkgs' default vmTools; shared by every kernel.
  diskImage = pkgs.vmTools.diskImageFuns.${image.attr} image.args;
  # vmTools boots nixpkgs' default kernel unless told (its `kernel ? pkgs.linux` argument).
  vmTools = pkgs.vmTools.override { kernel = cell.kernelPackages.kernel; };

  script = pkgs.writeText "orca-${spec.check}-guest.sh" (orcaLib.guestScript {
    inherit spec project;
    inherit (image) run;
    # The store is shared with the guest: nixpkgs' python runs there on the image's own bash.
    report = "${pkgs.python3}/bin/python3 ${./cell_report.py} ${specFile}";
    timeout = "${pkgs.coreutils}/bin/timeout";
    path = map (p: "${p}/bin") guestPackages;
  });

  # junit.xml, verdict, output.txt and results/ (the collected files), as a NixOS cell's.
  results = vmTools.runInLinuxImage (pkgs.stdenv.mkDerivation {
    name = "orca-${spec.check}-results";
    inherit diskImage;
    diskImageFormat = "qcow2";
    memSize = spec.memory_mib;
    QEMU_OPTS = "-smp ${toString spec.cpus}";
    buildCommand = ''
      /bin/bash ${script} "$out"
    '';
  });
in
pkgs.runCommand "orca-${spec.check}" { passthru = { inherit results diskImage script spec; }; } ''
  mkdir -p $out
  cp ${results}/junit.xml $out/junit.xml
  if [ "$(head -n 1 ${results}/verdict)" != pass ]; then
    echo "orca: cell ${spec.id} (image ${image.name}, kernel ${spec.kernel}) failed:" >&2
    tail -n +2 ${results}/verdict >&2
    exit 1
  fi
''
