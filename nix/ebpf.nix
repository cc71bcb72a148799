# packages.ebpf: every program of a project's programs.json, compiled with the pinned clang-unwrapped and the
# flags of toolchain.json. Unwrapped clang and stdenvNoCC: no cc-wrapper, so none of its hardening
# flags (-fzero-call-used-regs, -fstack-protector-strong), which break BPF, reach clang; what the
# wrapper would add (headers, resource dir) comes from clang-system.nix instead.
{ pkgs, lib, orcaLib, data, src, clangSystem, name ? "orca" }:
let
  clang = clangSystem.clang;
  compile = program: orcaLib.clangCommand {
    clang = "${clang}/bin/clang";
    # The build directory is only known to the builder.
    extra = [ "-ffile-prefix-map=$PWD=." ];
    toolchain = data.toolchain;
    inherit program;
    inherit (clangSystem) systemIncludes prefixMaps resourceDir;
  };
in
pkgs.stdenvNoCC.mkDerivation {
  pname = "${name}-ebpf";
  version = "0";
  inherit src;
  dontConfigure = true;
  # No cc-wrapper is involved; kept so that a switch to a wrapped clang cannot bring back the
  # hardening flags that break BPF.
  hardeningDisable = [ "all" ];
  buildPhase = ''
    runHook preBuild
    ${lib.concatMapStringsSep "\n" (p: "echo 'clang ${p.name}'; ${compile p}") data.programs}
    runHook postBuild
  '';
  installPhase = ''
    runHook preInstall
    mkdir -p $out
    ${lib.concatMapStringsSep "\n" (p: "install -m 0644 ${baseNameOf p.object} $out/") data.programs}
    runHook postInstall
  '';
  # BTF and the debug info the loader needs live in the sections strip would remove.
  dontStrip = true;
  dontPatchELF = true;
  # The objects must not mention the store: the prefix maps above rewrite every include path.
  allowedReferences = [ ];
  passthru = { inherit clang; programs = map (p: p.name) data.programs; };
  meta.description = "the project's eBPF objects, built with the pinned clang";
}
