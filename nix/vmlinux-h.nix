# packages.vmlinux-h-<kernel>: the kernel's BTF as a C header, from ${kernel.dev}/vmlinux (never the
# host's /sys/kernel/btf/vmlinux, which is impure and absent in the sandbox and on macOS).
{ pkgs, kernelPackages, version }:
pkgs.runCommand "vmlinux-h-${version}" { nativeBuildInputs = [ pkgs.bpftools ]; } ''
  mkdir -p $out/include
  bpftool btf dump file ${kernelPackages.kernel.dev}/vmlinux format c > $out/include/vmlinux.h
''
