# The clang command line for one program, from toolchain.json and programs.json.
{ lib }:
rec {
  # Quotes one word for sh.
  shellWord = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # The arguments, without the clang binary.
  # systemIncludes: the include dirs the flake supplies instead of the host's (libbpf, kernel
  #   headers), searched after the project's like system headers, so -Wall -Werror ignores their
  #   warnings as it does for /usr/include natively.
  # prefixMaps: [ { from = "<store path>"; to = "<name>"; } … ] so no store path ends up in the
  #   object's debug info. A list, not an attribute set: a store path cannot be an attribute name.
  # resourceDir: clang's resource directory (its builtin headers), or null for clang's own guess.
  #   nixpkgs moves lib/clang out of clang-unwrapped's default output, so the flake passes it.
  clangArgs = { toolchain, program, systemIncludes, prefixMaps, resourceDir ? null }:
    [ "-target" toolchain.target ]
    ++ (if resourceDir == null then [ ] else [ "-resource-dir" resourceDir ])
    ++ toolchain.cflags
    ++ program.cflags
    ++ map (d: "-I${d}") toolchain.include_dirs
    ++ builtins.concatMap (d: [ "-isystem" d ]) systemIncludes
    ++ [ "-fdebug-compilation-dir=." ]
    ++ map (p: "-ffile-prefix-map=${p.from}=${p.to}") prefixMaps
    ++ [ "-c" program.source "-o" (baseNameOf program.object) ];

  # The whole command as one sh line; `clang` and `extra` are inserted verbatim (they may hold
  # shell variables the builder sets, e.g. "$CLANG" or "-ffile-prefix-map=$PWD=.").
  clangCommand = { clang, extra ? [ ], ... }@args:
    lib.concatStringsSep " " ([ clang ] ++ extra
      ++ map shellWord (clangArgs (builtins.removeAttrs args [ "clang" "extra" ])));
}
