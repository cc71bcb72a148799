{ lib }:
let
  c = import ../lib/clang.nix { inherit lib; };
  toolchain = { target = "bpf"; cflags = [ "-O2" "-g" "-Wall" ]; include_dirs = [ "ebpf/include" ]; };
  program = { name = "xdp_blocklist"; source = "ebpf/xdp_blocklist.c"; object = "build/ebpf/xdp_blocklist.o"; cflags = [ "-DX=1" ]; };
  args = {
    inherit toolchain program;
    systemIncludes = [ "/s/libbpf/include" "/s/linux-headers/include" ];
    prefixMaps = [ { from = "/s/libbpf"; to = "/libbpf"; } { from = "/s/linux-headers"; to = "/linux-headers"; } ];
  };
  # A real derivation, as nixpkgs' libbpf is one: its path carries string context, which Nix
  # refuses in an attribute name (the first form of prefixMaps, { "${libbpf}" = "/libbpf"; }).
  libbpf = derivation { name = "libbpf-stand-in"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "out" "lib" ]; };
  withStorePaths = args // {
    systemIncludes = [ "${libbpf}/include" ];
    prefixMaps = [ { from = "${libbpf}"; to = "/libbpf"; } ];
    resourceDir = "${libbpf.lib}/lib/clang/19";
  };
in
{
  storePathsAreAcceptedAndMapped = {
    expr = builtins.filter (a: builtins.match ".*(-isystem|-resource-dir|prefix-map|/nix/store).*" a != null) (c.clangArgs withStorePaths);
    expected = [
      "-resource-dir" "${libbpf.lib}/lib/clang/19"
      "-isystem" "${libbpf}/include"
      "-ffile-prefix-map=${libbpf}=/libbpf"
    ];
  };
  storePathsKeepTheirContext = {
    expr = builtins.hasContext (c.clangCommand (withStorePaths // { clang = "clang"; }));
    expected = true;
  };
  flagsInTheNativeOrder = {
    expr = c.clangArgs args;
    expected = [
      "-target" "bpf" "-O2" "-g" "-Wall" "-DX=1" "-Iebpf/include"
      "-isystem" "/s/libbpf/include" "-isystem" "/s/linux-headers/include"
      "-fdebug-compilation-dir=."
      "-ffile-prefix-map=/s/libbpf=/libbpf" "-ffile-prefix-map=/s/linux-headers=/linux-headers"
      "-c" "ebpf/xdp_blocklist.c" "-o" "xdp_blocklist.o"
    ];
  };
  commandQuotesWordsButNotExtras = {
    expr = c.clangCommand (args // { clang = "/c/bin/clang"; extra = [ "-ffile-prefix-map=$PWD=." ]; program = program // { cflags = [ "-DMSG='hi'" ]; }; });
    expected = "/c/bin/clang -ffile-prefix-map=$PWD=. '-target' 'bpf' '-O2' '-g' '-Wall' '-DMSG='\\''hi'\\''' '-Iebpf/include' '-isystem' '/s/libbpf/include' '-isystem' '/s/linux-headers/include' '-fdebug-compilation-dir=.' '-ffile-prefix-map=/s/libbpf=/libbpf' '-ffile-prefix-map=/s/linux-headers=/linux-headers' '-c' 'ebpf/xdp_blocklist.c' '-o' 'xdp_blocklist.o'";
  };
}
