#!/bin/busybox sh
# orca's guest init: PID 1 of the initramfs orca writes (src/vm/initramfs.rs).
#
# It loads the kernel's boot modules, builds the guest's root (the host's root over 9p, or virtiofs
# on kernels without 9p, read-only, under a tmpfs overlay for writes), mounts the declared shares and tmpfs mounts, and hands over
# to the orca agent at the same absolute path as on the host. Per-boot settings come from
# /orca/boot.sh, a second cpio archive orca appends for each boot. Any failure is said on the
# console (which the host keeps) and powers the guest off, so the host sees why instead of a hang.
# Applets are called by name: busybox's standalone shell runs them without an exec (about 3 ms
# each under TCG, against 10 ms for `/bin/busybox APPLET`); where busybox is built without it, the
# archive's /bin links to busybox find them on PATH (src/vm/initramfs.rs, APPLETS).
export PATH=/bin
# orca_trace=1 on the kernel command line (ORCA_VM_CMDLINE) timestamps the steps on the console.
mark() {
  [ -n "$orca_trace" ] && echo "orca-init: $(cat /proc/uptime /newroot/proc/uptime 2>/dev/null) $*"
}
die() {
  echo "orca-init: $*"
  sync
  poweroff -f
}

mount -t proc proc /proc
# The KVM probe boots this image with orca_probe=1 and only wants to know that Linux got here.
if [ -n "$orca_probe" ]; then
  echo orca-probe-ok
  poweroff -f
fi
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mark start
# For orca's own tests of boot retries (ORCA_TEST_FIRST_BOOT): stop before the agent is ready.
if [ -n "$orca_test_hang" ]; then
  echo "orca-init: orca_test_hang: stopping here"
  while :; do sleep 3600; done
fi
if [ -n "$orca_test_panic" ]; then
  echo "orca-init: orca_test_panic: crashing the kernel"
  echo c >/proc/sysrq-trigger
fi

# The boot modules, in dependency order, by one modprobe (see src/vm/initramfs.rs).
set --
while read -r m; do
  set -- "$@" "$m"
done </modules/order
[ $# -eq 0 ] || modprobe -a "$@" || die "cannot load the boot modules $* (modprobe's message is above)"
mark modules loaded

. /orca/boot.sh

r=/newroot
if [ "$SHARE_FS" = virtiofs ]; then
  mount -t virtiofs -o ro orca.root /lower || die "cannot mount the host root over virtiofs"
else
  mount -t 9p -o "ro,trans=virtio,version=9p2000.L,msize=$MSIZE,cache=$ROOT_CACHE" orca.root /lower ||
    die "cannot mount the host root over 9p"
fi
mount -t tmpfs -o "mode=0755${RW_SIZE:+,size=${RW_SIZE}m}" orca.rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work orca.root $r ||
  die "cannot put the tmpfs overlay on the host root"

mark root mounted
# An image may lack the mount points (mmdebstrap leaves /dev out of its tarball): made in the
# write layer.
for d in run proc sys dev; do
  [ -d $r/$d ] || mkdir -p $r/$d
done
# Called from /orca/boot.sh's mounts(): a share TAG at PATH (ro or rw) and a tmpfs of SIZE MiB.
share() {
  if [ "$SHARE_FS" = virtiofs ]; then
    mkdir -p "$r$2" && mount -t virtiofs -o "$3" "$1" "$r$2" || die "cannot mount share $1 at $2 (virtiofs)"
  else
    mkdir -p "$r$2" && mount -t 9p -o "$3,trans=virtio,version=9p2000.L,msize=$MSIZE,cache=$SHARE_CACHE" "$1" "$r$2" ||
      die "cannot mount share $1 at $2"
  fi
}
tmpfs_at() {
  mkdir -p "$r$1" && mount -t tmpfs -o "size=${2}m,mode=1777" tmpfs "$r$1" || die "cannot mount a tmpfs at $1"
}

# /run is the guest's own (the host's sockets and pid files mean nothing here). The write layer
# is read-only at /run/orca/upper: what a provision script changed is archived from there and
# kept on the host as a provisioned root. Both are built in the initramfs and moved into the new
# root with /proc, /sys and /dev. (The agent finds its virtio port through sysfs.)
mkdir -p /run0 /dev/pts /dev/shm /dev/virtio-ports
mount -t tmpfs -o mode=0755 run /run0 && mkdir -p /run0/orca/upper && mount --bind /rw/upper /run0/orca/upper &&
  mount -o remount,bind,ro /run0/orca/upper || die "cannot expose the write layer"
# The rest takes two mount processes, not one per mount (each is a fork, ~10 ms under TCG): what
# every guest needs, then what a kernel may lack. /tmp stays the host's, written through the
# overlay: commands started from a host folder under /tmp find it. The agent brings up lo.
fstab="/run0 $r/run none move 0 0
/proc $r/proc none move 0 0
/sys $r/sys none move 0 0
/dev $r/dev none move 0 0
devpts $r/dev/pts devpts gid=5,mode=620,ptmxmode=666 0 0
shm $r/dev/shm tmpfs mode=1777 0 0"
# The booted kernel's modules with depmod's index, at /lib/modules/<release>: the host's cached
# tree, seen through the root share and bound there (in the fstab, unless a path has a blank or
# a backslash, which fstab would need escaped), so modprobe and the kernel's own autoload
# (ip link add ... type veth, tc qdisc add ... clsact) work. /lib is usr/lib on merged-usr roots.
if [ -n "$MODULES_TAG" ]; then
  md=/lib/modules
  [ -L $r/lib ] && md=/usr/lib/modules
  share "$MODULES_TAG" "$md/$RELEASE" ro
elif [ -n "$MODULES" ]; then
  md=$r/lib/modules
  [ -L $r/lib ] && md=$r/usr/lib/modules
  if [ -d "$r$MODULES" ]; then
    mkdir -p "$md/$RELEASE" || die "cannot make /lib/modules/$RELEASE"
    case "$r$MODULES$md/$RELEASE" in
      *[[:space:]\\]*)
        mount -o bind "$r$MODULES" "$md/$RELEASE" || die "cannot mount the kernel's modules at /lib/modules/$RELEASE" ;;
      *) fstab="$fstab
$r$MODULES $md/$RELEASE none bind 0 0" ;;
    esac
  else
    echo "orca-init: the kernel's modules ($MODULES) are not visible in the guest; modprobe will not find them"
  fi
fi
echo "$fstab" >/orca/fstab
mount -a -T /orca/fstab || die "cannot mount the guest's /run, /proc, /sys, /dev or /lib/modules (above)"
echo "cgroup2 $r/sys/fs/cgroup cgroup2 defaults 0 0
bpf $r/sys/fs/bpf bpf defaults 0 0
debugfs $r/sys/kernel/debug debugfs defaults 0 0
tracefs $r/sys/kernel/tracing tracefs defaults 0 0" >/orca/fstab.optional
mount -a -T /orca/fstab.optional 2>/dev/null
[ -n "$HOSTNAME" ] && echo "$HOSTNAME" >$r/proc/sys/kernel/hostname
mark system mounts done
mounts
if [ -n "$NETWORK" ]; then
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
    die "cannot configure eth0"
  echo "nameserver 10.0.2.3" >$r/etc/resolv.conf
fi

mark switching root
port=/dev/virtio-ports/org.orca.agent
if [ -n "$AGENT_KIT" ]; then
  # An image root: orca runs from the kit, through the kit's own loader and C library.
  k=/run/orca/agent
  cp -a /agent $r$k || die "cannot copy the agent kit into the guest"
  loader=$(cat /agent/loader)
  if [ -n "$loader" ]; then
    set -- $k/lib/$loader --library-path $k/lib $k/orca agent --port $port
  else
    set -- $k/orca agent --port $port
  fi
else
  [ -x "$r$EXE" ] || die "the orca binary $EXE is not visible in the guest"
  set -- "$EXE" agent --port $port
fi
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${AGENT_KIT:+:/run/orca/agent/bin} HOME=/root TERM=linux
unset orca_probe orca_trace orca_test_hang orca_test_panic SHARE_FS MSIZE ROOT_CACHE SHARE_CACHE NETWORK MODULES MODULES_TAG RELEASE AGENT_KIT RW_SIZE md r k loader port
exec /bin/busybox switch_root /newroot "$@"
