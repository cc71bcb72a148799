#!/usr/bin/env bash
# VM boot to a command's result: `orca run --kernel K -- uname -r` against
#   floor   benches/boot-floor.sh on the same Debian package(s): the least one can do
#           (busybox initramfs, 9p root, run the command, power off); target orca ≤ 0.50× floor (the floor boots the packaged, compressed image; orca boots it decompressed, once)
#   vng     virtme-ng (`vng -r <vmlinuz>`) on the same unpacked kernel and its modules;
#           target orca ≤ 0.75× vng
# all under TCG, side by side.
#
# The commands are measured in ROUNDS rounds of RUNS runs each, so that load from other work on
# the machine hits all of them alike; each ratio is taken within a round (from means), and the
# median ratio over the rounds is reported with its range.
#
# Every command must print the guest's release before it is timed, and a timed run that exits
# non-zero fails the benchmark (vng's 255, see below, is the one exit accepted).
#
# On a host whose speed drifts from minute to minute, RUNS=1 with more ROUNDS (ROUNDS=6 RUNS=1)
# pairs each orca boot with the floor boot right after it, so each round's ratio sees one speed.
#
# Usage: benches/boot.sh [--check] [KERNEL...]   default: 6.1 (e.g. benches/boot.sh 5.10 6.1 6.12 7.2)
#        --check (or CHECK=1): exit 1 when a median ratio misses its target, naming it.
# Env:   ROUNDS (default 3), RUNS (default 3), VNG=0 to leave virtme-ng out (it is installed with
#        `pip install virtme-ng`), the targets TARGET_FLOOR (0.50) and TARGET_VNG (0.75).
#        Needs hyperfine, jq, python3, qemu-system-x86_64.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
floor=$here/benches/boot-floor.sh
check=${CHECK:-0}
kernels=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    -*) echo "boot.sh: unknown option $a; usage: benches/boot.sh [--check] [KERNEL...]" >&2; exit 2 ;;
    *) kernels+=("$a") ;;
  esac
done
export CHECK=$check TARGET_FLOOR=${TARGET_FLOOR:-0.50} TARGET_VNG=${TARGET_VNG:-0.75}
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1)
rounds=${ROUNDS:-3}
runs=${RUNS:-3}
use_vng=${VNG:-1}
if [ "$use_vng" = 1 ] && ! command -v vng >/dev/null; then
  echo "boot.sh: vng not found; install it with 'pip install virtme-ng' or run with VNG=0" >&2
  exit 2
fi

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
orca=$here/target/release/orca
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=${ORCA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orca}
export ORCA_ACCEL=tcg FLOOR_ACCEL=tcg
cd "$here"

printf '%-6s %-8s %12s %12s %12s %20s %20s\n' kernel round "orca (s)" "floor (s)" "vng (s)" "orca/floor" "orca/vng"
for k in "${kernels[@]}"; do
  "$orca" kernel fetch "$k" >/dev/null 2>&1 || { echo "boot.sh: cannot fetch kernel $k" >&2; exit 3; }
  # The catalog's parts for this kernel: the cached .debs (by sha256), and the unpacked tree
  # (named by the sha256 of the parts' sha256s, one per line) that holds vmlinuz and modules.
  shas=$("$orca" kernel list --json 2>/dev/null | jq -r --arg k "$k" '.[] | select(.version == $k) | .sources[].sha256')
  debs=()
  for s in $shas; do debs+=("$cache/kernels/parts/$s.deb"); done
  id=$(printf '%s\n' $shas | sha256sum | cut -c1-64)
  vmlinuz=$cache/kernels/v1/$id/vmlinuz
  release=$("$orca" kernel list --json 2>/dev/null | jq -r --arg k "$k" '.[] | select(.version == $k) | .release')

  cmds=("$orca run --kernel $k -- uname -r" "$floor ${debs[*]} -- uname -r")
  # vng exits 255 when it falls back to the console for the command's output (below); that
  # exit is accepted, any other non-zero one fails the run.
  [ "$use_vng" = 1 ] && cmds+=("vng --disable-kvm -r $vmlinuz -- uname -r || [ \$? -eq 255 ]")
  # Each command must print the guest's release once before it is timed. (vng loads no
  # virtio_console from these kernels' modules and falls back to the serial console for the
  # command's output, which it shows only with -v.)
  for c in "${cmds[@]}"; do
    out=$(bash -c "${c/vng /vng -v }" 2>&1 | tr -d '\r' || true)
    grep -qx "$release" <<<"$out" || { echo "boot.sh: '$c' did not print $release: $out" >&2; exit 1; }
  done
  for r in $(seq "$rounds"); do
    # No -i: a timed run that fails fails the benchmark.
    hyperfine -w 1 -r "$runs" --export-json "$work/$k-$r.json" "${cmds[@]}" >/dev/null ||
      { echo "boot.sh: a timed command failed on kernel $k (hyperfine's message above)" >&2; exit 1; }
    jq -r --arg k "$k" --arg r "$r" '[.results[].mean] as $m |
      [$k, $r, ($m[0]|tostring), ($m[1]|tostring), (($m[2] // 0)|tostring),
       (($m[0]/$m[1])|tostring), (if $m[2] then ($m[0]/$m[2]) else 0 end|tostring)] | @tsv' \
      "$work/$k-$r.json" >>"$work/rows.tsv"
    tail -1 "$work/rows.tsv" | awk -F'\t' '{printf "%-6s %-8s %12.2f %12.2f %12.2f %20.2f %20.2f\n", $1, $2, $3, $4, $5, $6, $7}'
  done
done
python3 - "$work/rows.tsv" <<'EOF'
import os, sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, r, o, f, v, of, ov = line.split("\t")
    rows[k].append((float(o), float(f), float(v), float(of), float(ov)))
missed = []
print("\nmedian over rounds (range):")
print(f"{'kernel':<6} {'orca s':>8} {'floor s':>8} {'vng s':>8} {'orca/floor':>22} {'orca/vng':>22}")
for k, rs in rows.items():
    med = lambda i: statistics.median(r[i] for r in rs)
    rng = lambda i: f"{min(r[i] for r in rs):.2f}-{max(r[i] for r in rs):.2f}"
    vng = f"{med(2):8.2f}" if med(2) else f"{'-':>8}"
    ovs = f"{med(4):.2f} ({rng(4)})" if med(4) else "-"
    print(f"{k:<6} {med(0):8.2f} {med(1):8.2f} {vng} {f'{med(3):.2f} ({rng(3)})':>22} {ovs:>22}")
    if med(3) > float(os.environ["TARGET_FLOOR"]):
        missed.append(f"kernel {k}: orca/floor {med(3):.2f} > target {float(os.environ['TARGET_FLOOR']):.2f}")
    if med(4) and med(4) > float(os.environ["TARGET_VNG"]):
        missed.append(f"kernel {k}: orca/vng {med(4):.2f} > target {float(os.environ['TARGET_VNG']):.2f}")
for m in missed:
    print(f"boot.sh: target missed: {m}", file=sys.stderr)
if missed and os.environ["CHECK"] == "1":
    sys.exit(1)
EOF
