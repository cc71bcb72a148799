# The stand-in package set for one system: each attribute orca's flake uses, shaped as the pinned
# nixpkgs (nixos-25.11) has it (see nix/README.md for where each was read), and nothing else, so a
# new attribute the flake starts to use fails here until it is added and checked. Packages are real
# derivations (builder /bin/sh, which fails: nothing here is meant to be built).
{ lib, system }:
let
  isLinux = lib.hasSuffix "-linux" system;

  # stdenv.mkDerivation: passthru and meta stay out of the derivation (as in nixpkgs), everything
  # else becomes its environment, so a value Nix cannot put there (an attribute set, a function)
  # fails as it would in nixpkgs.
  mkDerivation = args:
    let
      name = args.name or "${args.pname}-${args.version}";
      env = builtins.removeAttrs args [ "passthru" "meta" "name" ];
      drv = derivation ({
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo 'stand-in nixpkgs: ${name} is for evaluation only' >&2; exit 1" ];
      } // env);
    in
    drv // (args.passthru or { }) // { meta = args.meta or { }; };

  package = pname: version: mkDerivation { inherit pname version; };
  multi = pname: version: outputs: mkDerivation { inherit pname version outputs; };

  # Linux-only packages (meta.platforms = linux in nixpkgs): on another system nixpkgs refuses to
  # evaluate them, and so does the stand-in.
  linuxOnly = name: value:
    if isLinux then value else throw "stand-in nixpkgs: ${name} is not available on ${system} (Linux only)";

  # A kernel with the config attributes nixpkgs' kernels carry (`kernel.config.isYes "X"` reads
  # CONFIG_X from the kernel's generated config). `btf`: whether CONFIG_DEBUG_INFO_BTF is set.
  kernelPackages = version: btf:
    let
      config = { CONFIG_BPF_SYSCALL = "y"; CONFIG_MODULES = "y"; } // lib.optionalAttrs btf { CONFIG_DEBUG_INFO_BTF = "y"; };
      get = o: config."CONFIG_${o}" or null;
    in
    linuxOnly "linuxPackages (${version})" {
      kernel = multi "linux" version [ "out" "dev" ] // {
        inherit version;
        config = {
          isSet = o: get o != null;
          getValue = get;
          isYes = o: get o == "y";
          isNo = o: get o == "n";
          isModule = o: get o == "m";
          isEnabled = o: get o == "y" || get o == "m";
        };
      };
    };

  # clang's resource dir (lib/clang/<major>) is in clang-unwrapped's `lib` output from LLVM 19 on.
  llvmPackages = version: {
    clang-unwrapped = multi "clang" version [ "out" "lib" "dev" "python" ];
    llvm = multi "llvm" version [ "out" "lib" "dev" ];
  };

  fetchurl = { url, sha256 ? null, hash ? null, name ? baseNameOf url, ... }:
    derivation {
      inherit name url system;
      builder = "builtin:fetchurl";
      outputHashMode = "flat";
      outputHashAlgo = if hash != null then null else "sha256";
      outputHash = if hash != null then hash else sha256;
    };

  # rustPlatform.importCargoLock (pkgs/build-support/rust/import-cargo-lock.nix): one fetchurl per
  # registry crate of Cargo.lock at the registry's API download path, with Cargo.lock's checksum;
  # overridable (callPackage) in its `fetchurl`.
  importCargoLockWith = deps: {
    override = more: importCargoLockWith (deps // more);
    __functor = _: { lockFile, ... }:
      let
        packages = (builtins.fromTOML (builtins.readFile lockFile)).package or [ ];
        registry = p: if p ? source then builtins.match "registry\\+https://github.com/rust-lang/(.*)-index" p.source else null;
        crates = builtins.filter (p: registry p != null && p ? checksum) packages;
        fetch = p: deps.fetchurl {
          name = "crate-${p.name}-${p.version}.tar.gz";
          url = "https://${builtins.head (registry p)}/api/v1/crates/${p.name}/${p.version}/download";
          sha256 = p.checksum;
        };
      in
      derivation { name = "cargo-vendor-dir"; inherit system; builder = "/bin/sh"; crates = map fetch crates; };
  };

  # testers.runNixOSTest: the options orca's cell test sets, type-checked as NixOS' modules do
  # (an unknown option is an error there too); the test script and every store path the machine
  # gets become the derivation's environment.
  runNixOSTest = { name, nodes, testScript, globalTimeout ? 3600, ... }@test:
    let
      known = [ "name" "nodes" "testScript" "globalTimeout" ];
      unknownTest = builtins.filter (n: !builtins.elem n known) (builtins.attrNames test);
      machineOptions = {
        boot = [ "kernelPackages" "kernelModules" ];
        environment = [ "systemPackages" "etc" ];
        virtualisation = [ "memorySize" "cores" ];
      };
      checkMachine = node: m: builtins.all (group:
        if !(machineOptions ? ${group}) then throw "stand-in runNixOSTest: the option `nodes.${node}.${group}' does not exist"
        else builtins.all (o: builtins.elem o machineOptions.${group}
          || throw "stand-in runNixOSTest: the option `nodes.${node}.${group}.${o}' does not exist") (builtins.attrNames m.${group}))
        (builtins.attrNames m);
      int = what: v: if builtins.isInt v && v > 0 then v else throw "stand-in runNixOSTest: ${what} must be a positive integer, got ${builtins.toJSON v}";
      machine = nodes.machine;
    in
    if unknownTest != [ ] then throw "stand-in runNixOSTest: the option `${builtins.head unknownTest}' does not exist"
    else assert builtins.all (n: checkMachine n nodes.${n}) (builtins.attrNames nodes); derivation {
      name = "vm-test-run-${name}";
      inherit system testScript;
      builder = "/bin/sh";
      globalTimeout = int "globalTimeout" globalTimeout;
      requiredSystemFeatures = [ "nixos-test" "kvm" ];
      kernel = machine.boot.kernelPackages.kernel;
      kernelModules = machine.boot.kernelModules or [ ];
      systemPackages = machine.environment.systemPackages or [ ];
      etc = map (n: "${n}=${toString machine.environment.etc.${n}.source}") (builtins.attrNames (machine.environment.etc or { }));
      memorySize = int "virtualisation.memorySize" (machine.virtualisation.memorySize or 1024);
      cores = int "virtualisation.cores" (machine.virtualisation.cores or 1);
    };

  # vmTools (pkgs/build-support/vm/default.nix, `callPackage`d from all-packages.nix, so it has
  # `.override`; its `kernel ? pkgs.linux` argument is the kernel its VMs boot). diskImageFuns has
  # exactly the Debian/Ubuntu distros nixos-25.11's debDistros has (nix/README.md, "Images"): no
  # ubuntu2004*, no aarch64. Each is `makeImageFromDebDist (debDistros.<d> // args)`; the stand-in
  # takes the arguments orca passes and those makeImageFromDebDist names, type-checked.
  debDistros = [
    "ubuntu2204i386" "ubuntu2204x86_64" "ubuntu2404x86_64"
    "debian11i386" "debian11x86_64" "debian12i386" "debian12x86_64" "debian13i386" "debian13x86_64"
  ];
  vmToolsWith = { kernel }: {
    override = args: vmToolsWith ({ inherit kernel; } // args);
    diskImageFuns = lib.genAttrs debDistros (distro: args:
      let
        known = [ "size" "extraPackages" "packages" "postInstall" "extraDebs" "memSize" "QEMU_OPTS" "createRootFS" ];
        unknown = builtins.filter (n: !builtins.elem n known) (builtins.attrNames args);
        extra = args.extraPackages or [ ];
        size = args.size or 4096;
      in
      if unknown != [ ] then throw "stand-in vmTools.diskImageFuns.${distro}: orca passes `${builtins.head unknown}', which the stand-in does not model"
      else if !(builtins.isList extra && builtins.all builtins.isString extra) then throw "stand-in vmTools.diskImageFuns.${distro}: extraPackages must be a list of package names"
      else if !(builtins.isInt size) then throw "stand-in vmTools.diskImageFuns.${distro}: size must be an integer (MiB)"
      else mkDerivation { name = "${distro}-disk-image"; inherit size; extraPackages = extra; });
    # runInLinuxImage drv: the derivation, run in a VM booted on a copy-on-write layer over
    # drv.diskImage (`qemu-img create -F ${attrs.diskImageFormat} -b …`: the format is required).
    runInLinuxImage = drv:
      if !(drv ? diskImage) then throw "stand-in vmTools.runInLinuxImage: the derivation has no diskImage"
      else if !(drv ? diskImageFormat) then throw "stand-in vmTools.runInLinuxImage: the derivation has no diskImageFormat"
      else derivation (drv.drvAttrs // { requiredSystemFeatures = [ "kvm" ]; vmKernel = kernel; });
  };
in
{
  stdenvNoCC = { inherit mkDerivation; };
  stdenv = { inherit mkDerivation; };
  inherit fetchurl;

  runCommand = name: env: script: mkDerivation ({ inherit name; buildCommand = script; } // env);
  writeText = name: text: derivation { inherit name text system; builder = "/bin/sh"; passAsFile = [ "text" ]; };
  mkShell = { packages ? [ ], nativeBuildInputs ? [ ], ... }@args: mkDerivation ({
    name = args.name or "nix-shell";
    nativeBuildInputs = packages ++ nativeBuildInputs;
  } // builtins.removeAttrs args [ "packages" "nativeBuildInputs" "name" ]);

  testers = linuxOnly "testers.runNixOSTest" { inherit runNixOSTest; };

  rustPlatform = {
    importCargoLock = importCargoLockWith { inherit fetchurl; };
    buildRustPackage = { cargoDeps ? null, cargoLock ? null, cargoHash ? null, ... }@args:
      if cargoDeps == null && cargoLock == null && cargoHash == null
      then throw "stand-in buildRustPackage: one of cargoDeps, cargoLock or cargoHash is required"
      else mkDerivation (builtins.removeAttrs args [ "cargoLock" ]);
  };

  rustc = package "rustc" "1.89.0";
  cargo = package "cargo" "1.89.0";
  clippy = package "clippy" "1.89.0";
  rustfmt = package "rustfmt" "1.89.0";
  pkg-config = package "pkg-config-wrapper" "0.29.2";
  xz = multi "xz" "5.8.1" [ "bin" "dev" "out" "man" "doc" ];
  qemu = package "qemu" "10.1.2";
  nixfmt = package "nixfmt" "1.0.1";
  gnumake = package "gnumake" "4.4.1";
  iproute2 = linuxOnly "iproute2" (package "iproute2" "6.17.0");
  bpftools = linuxOnly "bpftools" (package "bpftools" "6.17");
  libbpf = linuxOnly "libbpf" (package "libbpf" "1.6.2");
  linuxHeaders = linuxOnly "linuxHeaders" (package "linux-headers" "6.17");
  pahole = linuxOnly "pahole" (package "pahole" "1.30");
  python3 = package "python3" "3.13.9";
  coreutils = package "coreutils" "9.8";
  vmTools = linuxOnly "vmTools" (vmToolsWith { kernel = (kernelPackages "6.12.64" true).kernel; });

  llvmPackages_14 = throw "llvmPackages_14 has been removed, as it is unmaintained and obsolete";
  llvmPackages_17 = throw "llvmPackages_17 has been removed, as it is unmaintained and obsolete";
  llvmPackages_18 = llvmPackages "18.1.8";
  llvmPackages_19 = llvmPackages "19.1.7";
  llvmPackages_20 = llvmPackages "20.1.8";
  llvmPackages_21 = llvmPackages "21.1.2";

  # nixpkgs may build 5.10 without DEBUG_INFO_BTF (it enables it by default from 5.11 on): the
  # stand-in takes that case, so the flake must report 5.10's cells as unavailable, not fail.
  linuxPackages_5_4 = throw "linux 5.4 was removed because it will reach its end of life within 25.11";
  linuxPackages_5_10 = kernelPackages "5.10.247" false;
  linuxPackages_5_15 = kernelPackages "5.15.197" true;
  linuxPackages_6_1 = kernelPackages "6.1.159" true;
  linuxPackages_6_6 = kernelPackages "6.6.119" true;
  linuxPackages_6_12 = kernelPackages "6.12.64" true;
  linuxPackages_6_18 = kernelPackages "6.18.5" true;
}
