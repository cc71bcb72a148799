# A stand-in for nixpkgs' lib with only builtins, for running nix/lib and nix/tests without nixpkgs.
# Each function has the semantics of its namesake in nixpkgs' lib (lib/strings.nix, lib/lists.nix,
# lib/attrsets.nix).
rec {
  hasPrefix = pref: str: builtins.substring 0 (builtins.stringLength pref) str == pref;
  hasSuffix = suf: str:
    let n = builtins.stringLength str; k = builtins.stringLength suf; in
    n >= k && builtins.substring (n - k) k str == suf;
  concatStringsSep = builtins.concatStringsSep;
  mapAttrs = builtins.mapAttrs;
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
}
