# Resolving names from nix/generated/*.json against a package set. `pkgs` is an argument, so the
# tests can pass a stand-in attrset shaped like the pinned nixpkgs.
{ lib }:
{
  # A kernel version -> its nixpkgs kernel packages, or why the pin cannot give them: the kernel is
  # not in the catalog, has no nixpkgs attribute there, or the pin lacks or has removed the attribute
  # (nixpkgs keeps removed kernels as throwing aliases). Each of these makes its cells "unavailable",
  # as the native backend marks a cell whose kernel has no source; none stops the evaluation.
  # A kernel the pin builds without BTF (CONFIG_DEBUG_INFO_BTF, read from the kernel's own config:
  # nixpkgs may leave it off before 5.11) is unavailable too: vmlinux.h comes from its BTF, and the
  # native matrix's kernels (Debian's) all have it, so a cell there would not prove the same thing.
  kernelFor = { kernels, pkgs, rev }: version:
    if !(builtins.hasAttr version kernels) then
      { available = false; reason = "kernel ${version} is not in the kernel catalog (configs/kernels.hcl)"; }
    else
      let
        attr = kernels.${version}.nixpkgs;
        tried = builtins.tryEval pkgs.${attr};
      in
      if attr == null then
        { available = false; reason = "kernel ${version} has no nixpkgs attribute in configs/kernels.hcl"; }
      else if !(builtins.hasAttr attr pkgs) then
        { available = false; reason = "nixpkgs ${rev} has no ${attr} (kernel ${version})"; }
      else if !tried.success then
        { available = false; reason = "nixpkgs ${rev} removed ${attr} (kernel ${version})"; }
      else if !(tried.value.kernel.config.isYes "DEBUG_INFO_BTF") then
        {
          available = false;
          reason = "nixpkgs ${rev} builds ${attr} (kernel ${version}) without CONFIG_DEBUG_INFO_BTF, so it has no"
            + " BTF to generate vmlinux.h from or to match the native matrix's kernels";
        }
      else
        { available = true; inherit attr; kernelPackages = tried.value; };

  # The LLVM package set for the pinned clang major. A pin the package set lacks is refused with a
  # clear message rather than replaced by another clang: objects must come from the pinned one.
  llvmFor = { pkgs, rev }: major:
    let
      attr = "llvmPackages_${toString major}";
      tried = builtins.tryEval pkgs.${attr};
      known = builtins.filter (n: builtins.match "llvmPackages_[0-9]+" n != null && (builtins.tryEval pkgs.${n}).success)
        (builtins.attrNames pkgs);
    in
    if builtins.hasAttr attr pkgs && tried.success then
      tried.value
    else
      throw ("orca: configs/build.hcl pins clang ${toString major}, but nixpkgs ${rev} has no ${attr}"
        + " (it has ${lib.concatStringsSep ", " known}). Set toolchain.clang_version to a major both"
        + " this nixpkgs and your native clang provide, run `orca gen`, and commit nix/generated/.");
}
