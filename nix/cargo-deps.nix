# The crates of the workspace's Cargo.lock for rustPlatform.buildRustPackage (`cargoDeps`), shared
# by packages.orca (orca.nix) and packages.firewall (firewall.nix).
# Each crate is a fixed-output fetch checked against its Cargo.lock checksum.
# At the pinned revision importCargoLock downloads them from the registry's API download path
# (<registry>/api/v1/crates/<name>/<version>/download), which has answered 403 to the `curl/...`
# User-Agent of nixpkgs' fetchurl since May 2026 (NixOS/nixpkgs#524979, fixed in nixpkgs after
# this pin). The registry's static download host (its name prefixed with `static.`, the host cargo
# itself downloads from) serves the same files under <host>/crates/<name>/<version>/download, so
# only the URL changes: the hashes, and so the store paths and any binary-cache hit, stay as they
# were. (Not `cargoLock.extraRegistries`: that would declare a second crates-io source, which
# cargo rejects.)
{ pkgs, lib, root }:
(pkgs.rustPlatform.importCargoLock.override {
  fetchurl =
    args:
    let
      api = if args ? url then builtins.match "https://([^/]+)/api/v1/crates/(.*)" args.url else null;
    in
    pkgs.fetchurl (
      args
      // lib.optionalAttrs (api != null) {
        url = "https://static.${builtins.elemAt api 0}/crates/${builtins.elemAt api 1}";
      }
    );
})
  { lockFile = root + "/Cargo.lock"; }
