# The part of nixpkgs' lib that orca's flake uses, written from builtins with the semantics of its
# namesakes in nixpkgs' lib/ (attrsets.nix, lists.nix, strings.nix, meta.nix, fileset/). A function
# the flake calls that is missing here fails the evaluation ("attribute '…' missing"), which is the
# point: adding it here means checking what nixpkgs' version does.
rec {
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  mapAttrs = builtins.mapAttrs;
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  mapAttrsToList = f: set: map (n: f n set.${n}) (builtins.attrNames set);
  filterAttrs = pred: set: builtins.listToAttrs (builtins.concatMap
    (n: if pred n set.${n} then [ { name = n; value = set.${n}; } ] else [ ]) (builtins.attrNames set));
  optionalAttrs = cond: set: if cond then set else { };
  optionals = cond: list: if cond then list else [ ];
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
  hasPrefix = pref: str: builtins.substring 0 (builtins.stringLength pref) str == pref;
  hasSuffix = suf: str:
    let n = builtins.stringLength str; k = builtins.stringLength suf; in
    n >= k && builtins.substring (n - k) k str == suf;
  removePrefix = pref: str:
    if hasPrefix pref str
    then builtins.substring (builtins.stringLength pref) (builtins.stringLength str) str
    else str;
  concatStringsSep = builtins.concatStringsSep;
  concatMapStringsSep = sep: f: list: builtins.concatStringsSep sep (map f list);
  escapeShellArg = arg: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString arg)}'";
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  isDerivation = v: builtins.isAttrs v && v ? type && v.type == "derivation";

  # lib/attrsets.nix: getOutput "lib" falls back to `out`, then to the value itself.
  getOutput = output: pkg: if !(pkg ? outputSpecified) || !pkg.outputSpecified then pkg.${output} or pkg.out or pkg else pkg;
  getLib = getOutput "lib";
  getBin = getOutput "bin";
  getDev = getOutput "dev";
  # lib/meta.nix: "${getBin x}/bin/${x.meta.mainProgram}" (nixpkgs warns and guesses without it;
  # the stand-in refuses, so a missing mainProgram is caught).
  getExe = x:
    if x ? meta && x.meta ? mainProgram then "${getBin x}/bin/${x.meta.mainProgram}"
    else throw "stand-in lib.getExe: ${x.name or "value"} has no meta.mainProgram";

  # lib/fileset: a file set is modelled as a list of paths; toSource copies only those (and the
  # directories leading to them) from `root`, as builtins.path with a filter.
  fileset = {
    maybeMissing = p: if builtins.pathExists p then [ p ] else [ ];
    unions = sets: builtins.concatLists (map (s: if builtins.isList s then s else [ s ]) sets);
    toSource = { root, fileset }:
      let
        want = map toString (if builtins.isList fileset then fileset else [ fileset ]);
        rootStr = toString root;
        bad = builtins.filter (f: !(hasPrefix (rootStr + "/") f)) want;
        keep = path: _type: builtins.any (f: path == f || hasPrefix (f + "/") path || hasPrefix (path + "/") f) want;
      in
      if bad != [ ] then throw "stand-in lib.fileset.toSource: ${builtins.head bad} is not under root ${rootStr}"
      else builtins.path { name = "source"; path = root; filter = keep; };
  };
}
