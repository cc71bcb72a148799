#!/usr/bin/env bash
# The yardstick for VM boot benchmarks: the least one can do to run a host command in a guest.
#
# It boots a stock Debian kernel package under QEMU with a hand-made initramfs: busybox and the
# kernel's own virtio and 9p modules. It mounts the host root read-only over 9p, runs the command
# there, and powers off. orca's own boot path does more than this (agent, overlay, shares), so
# compare against it as a ratio, measured side by side in one run, e.g.:
#
#   hyperfine -w1 -r5 'benches/boot-floor.sh K.deb -- uname -r' 'orca exec ... uname -r'
#
# Usage: boot-floor.sh KERNEL.deb [MORE.deb ...] -- COMMAND [ARGS...]
#   (newer Debian kernels are split: linux-binary-unsigned-* holds the image, linux-modules-* the modules)
# Needs: qemu-system-x86, busybox-static, cpio, kmod (for depmod). TCG unless FLOOR_ACCEL=kvm.
set -euo pipefail
usage() { echo "usage: boot-floor.sh KERNEL.deb [MORE.deb ...] -- COMMAND [ARGS...]" >&2; exit 2; }
debs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do debs+=("$1"); shift; done
[ ${#debs[@]} -gt 0 ] && [ "${1-}" = "--" ] || usage
shift; [ $# -gt 0 ] || usage
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
key=$(cat "${debs[@]}" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/boot-floor/$key
if [ ! -f "$cache/initrd.gz" ]; then
  mkdir -p "$cache" "$work/x" "$work/ir/bin" "$work/ir/mods" "$work/ir/host"
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$work/x"; done
  mdir=$( (ls -d "$work"/x/lib/modules/* "$work"/x/usr/lib/modules/* 2>/dev/null || true) | head -1)
  kver=$(basename "$mdir")
  img=$( (ls "$work"/x/boot/vmlinuz-* "$mdir"/vmlinuz* 2>/dev/null || true) | head -1)
  [ -n "$img" ] || { echo "no kernel image in ${debs[*]}" >&2; exit 2; }
  cp "$img" "$cache/vmlinuz"
  mkdir -p "$work/m/lib/modules"; ln -s "$mdir" "$work/m/lib/modules/$kver"
  depmod -b "$work/m" "$kver" 2>/dev/null
  dep="$mdir/modules.dep"
  # Modules in load order: each wanted module after its dependencies (modules.dep lists deps right to left).
  order=()
  for m in virtio_pci 9pnet_virtio 9p; do
    line=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$dep" || true)
    [ -n "$line" ] || continue   # built in
    for f in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
      [ -n "$f" ] || continue
      case " ${order[*]-} " in *" $f "*) ;; *) order+=("$f");; esac
    done
  done
  : > "$work/ir/mods/order"
  for f in "${order[@]-}"; do
    [ -n "$f" ] || continue
    b=$(basename "$f"); cp "$mdir/$f" "$work/ir/mods/$b"
    case "$b" in *.xz) xz -d "$work/ir/mods/$b"; b=${b%.xz};; *.zst) zstd -qd --rm "$work/ir/mods/$b"; b=${b%.zst};; esac
    echo "$b" >> "$work/ir/mods/order"
  done
  cp /bin/busybox "$work/ir/bin/busybox"
  cat > "$work/ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in $(/bin/busybox cat /mods/order); do /bin/busybox insmod /mods/$m; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 host /host
echo floor-begin
/bin/busybox chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c "$(/bin/busybox sed -n 's/.*floor_cmd=\([^ ]*\).*/\1/p' /proc/cmdline | /bin/busybox base64 -d)"
echo "floor-exit=$?"
/bin/busybox poweroff -f
EOF
  chmod +x "$work/ir/init"
  (cd "$work/ir" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$cache/initrd.gz")
fi
cmd=$(printf '%q ' "$@" | base64 -w0)
accel=${FLOOR_ACCEL:-tcg}
out=$(timeout 300 qemu-system-x86_64 -accel "$accel" -m 1024 -smp 1 -nographic -no-reboot -nic none \
  -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 floor_cmd=$cmd" \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on 2>&1 | tr -d '\r')
printf '%s\n' "$out" | sed -n '/floor-begin/,/floor-exit=/p' | sed '1d;$d'
rc=$(printf '%s\n' "$out" | sed -n 's/.*floor-exit=\([0-9]*\).*/\1/p' | tail -1)
exit "${rc:-125}"
