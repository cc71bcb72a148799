{ lib }:
let
  c = import ../lib/clang.nix { inherit lib; };
  toolchain = { target = "bpf"; cflags = [ "-O2" "-g" "-Wall" ]; include_dirs = [ "ebpf/include" ]; };
  program = { name = "xdp_blocklist"; source = "ebpf/xdp_blocklist.c"; object = "build/ebpf/xdp_blocklist.o"; cflags = [ "-DX=1" ]; };
  args = {
    inherit toolchain program;
    systemIncludes = [ "/s/libbpf/include" "/s/linux-headers/include" ];
    prefixMaps = { "/s/libbpf" = "/libbpf"; "/s/linux-headers" = "/linux-headers"; };
  };
in
{
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
