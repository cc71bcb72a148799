#!/usr/bin/env bash
# Image cache hit ÷ cold image build, side by side: target ≤ 0.02.
#   cold  `orca image rm IMAGE && orca image build IMAGE`: the image cache entry is gone, so the
#         suite's lists are read again and mmdebstrap builds, hashes and unpacks the whole image
#         (downloaded packages are kept, as they are in one cache between builds: the figure is
#         the build, not the network)
#   hit   `orca image build IMAGE` with the pinned content cached: nothing is read but the lock
#         and the entry's manifest
# Each round times one cold build and the mean of HITS cache hits; the ratio is taken within a
# round, and the median over the rounds is reported with its range.
#
# A timed build that fails fails the benchmark, with orca's message.
#
# Usage: benches/image.sh [--check] [IMAGE]       default: debian-12-minimal
#        --check (or CHECK=1): exit 1 when the median ratio misses its target, naming it.
# Env:   ROUNDS (default 2), HITS (default 20), TARGET_HIT (default 0.02; TARGET is read too),
#        ORCA (a binary to use instead of a fresh release build). Runs in a temporary
#        project with its own cache (ORCA_CACHE_DIR), so the user's cache and
#        configs/images.lock are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=${CHECK:-0}
image=debian-12-minimal
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    -*) echo "image.sh: unknown option $a; usage: benches/image.sh [--check] [IMAGE]" >&2; exit 2 ;;
    *) image=$a ;;
  esac
done
target=${TARGET_HIT:-${TARGET:-0.02}}
rounds=${ROUNDS:-2}
hits=${HITS:-20}
if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
orca=${ORCA:-$here/target/release/orca}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project/configs"
echo 'schema_version = "1.0"' > "$work/project/configs/base.hcl"
export ORCA_CACHE_DIR=$work/cache CI=true
cd "$work/project"
now() { date +%s.%N; }
# A timed step: quiet when it works, orca's own output and exit 1 when it fails.
step() {
  "$orca" image "$@" >"$work/step.log" 2>&1 ||
    { cat "$work/step.log" >&2; echo "image.sh: 'orca image $*' failed" >&2; exit 1; }
}
echo "image.sh: first build of $image (downloads its packages; not timed)" >&2
"$orca" image build "$image" >/dev/null
printf '%-6s %12s %12s %12s\n' round "cold (s)" "hit (s)" "hit/cold"
ratios=()
for r in $(seq "$rounds"); do
  step rm "$image"
  t0=$(now); step build "$image"; t1=$(now)
  cold=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  t0=$(now); for _ in $(seq "$hits"); do step build "$image"; done; t1=$(now)
  hit=$(awk -v a="$t0" -v b="$t1" -v n="$hits" 'BEGIN { print (b - a) / n }')
  ratio=$(awk -v h="$hit" -v c="$cold" 'BEGIN { print h / c }')
  ratios+=("$ratio")
  printf '%-6s %12.2f %12.4f %12.5f\n' "$r" "$cold" "$hit" "$ratio"
done
sorted=$(printf '%s\n' "${ratios[@]}" | sort -g)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf 'image cache hit / cold build: median %.5f (range %.5f..%.5f), target <= %s\n' \
  "$median" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)" "$target"
if ! awk -v m="$median" -v t="$target" 'BEGIN { exit !(m <= t) }'; then
  echo "image.sh: target missed: image cache hit / cold build $median > $target" >&2
  [ "$check" = 1 ] && exit 1
fi
exit 0
