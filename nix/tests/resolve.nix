{ lib }:
let
  r = import ../lib/resolve.nix { inherit lib; };
  pkgs = import ./stub-pkgs.nix;
  rev = "8fd9daa";
  kernels = {
    "5.10" = { nixpkgs = "linuxPackages_5_10"; };
    "5.4" = { nixpkgs = "linuxPackages_5_4"; };
    "7.2" = { nixpkgs = null; };
    "7.3" = { nixpkgs = "linuxPackages_7_3"; };
    "7.1" = { nixpkgs = "linuxPackages_7_1"; };
  };
  kernelFor = r.kernelFor { inherit kernels pkgs rev; };
  brief = k: if k.available then { inherit (k) available attr; version = k.kernelPackages.kernel.version; } else k;
in
{
  kernelFromTheCatalogAttribute = { expr = brief (kernelFor "5.10"); expected = { available = true; attr = "linuxPackages_5_10"; version = "5.10.247"; }; };
  kernelWithoutAttributeIsUnavailable = {
    expr = kernelFor "7.2";
    expected = { available = false; reason = "kernel 7.2 has no nixpkgs attribute in configs/kernels.hcl"; };
  };
  kernelThePinLacksIsUnavailable = { expr = kernelFor "7.3"; expected = { available = false; reason = "nixpkgs 8fd9daa has no linuxPackages_7_3 (kernel 7.3)"; }; };
  kernelThePinRemovedIsUnavailable = { expr = kernelFor "5.4"; expected = { available = false; reason = "nixpkgs 8fd9daa removed linuxPackages_5_4 (kernel 5.4)"; }; };
  kernelWithoutBtfIsUnavailable = {
    expr = kernelFor "7.1";
    expected = {
      available = false;
      reason = "nixpkgs 8fd9daa builds linuxPackages_7_1 (kernel 7.1) without CONFIG_DEBUG_INFO_BTF, so it has no BTF to generate vmlinux.h from or to match the native matrix's kernels";
    };
  };
  kernelNotInTheCatalogIsUnavailable = {
    expr = kernelFor "4.19";
    expected = { available = false; reason = "kernel 4.19 is not in the kernel catalog (configs/kernels.hcl)"; };
  };
  llvmForAvailableMajor = { expr = r.llvmFor { inherit pkgs rev; } 19; expected = pkgs.llvmPackages_19; };
  llvmForRemovedMajorThrows = { expr = (builtins.tryEval (r.llvmFor { inherit pkgs rev; } 14)).success; expected = false; };
  llvmForMissingMajorThrows = { expr = (builtins.tryEval (r.llvmFor { inherit pkgs rev; } 99)).success; expected = false; };
}
