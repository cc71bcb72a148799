#!/usr/bin/env bash
# The matrix's speed, as ratios measured side by side in one run.
#
# Default: the three-image matrix (debian-11, debian-12, debian-13, each on its default kernel
# 5.10, 6.1, 6.12), warm result cache ÷ cold: target ≤ 0.05 (TARGET_WARM). It runs in a
# temporary project whose script reads a file of the project (mounted in the guest). Each round
# changes that file, so the next run is cold (every cell's key changes: all three boot, run and
# are stored), then times WARM runs with nothing changed (every cell is taken from the result
# cache; each must say so in its JSON, or the benchmark fails).
#
# --parallel [MATRIX_FILE]: the whole matrix in parallel (the host's budget) against its cells one
# at a time (`--jobs 1`), both with --no-cache: target ≤ 0.60 (TARGET_PARALLEL) on 2 cores.
# Default file: configs/ebpf-test-matrix.hcl (the firewall's suite; build it first with
# `cargo build --release -p firewall`).
#
# A measured run that fails (a cell failed, or orca did) fails the benchmark.
#
# Usage: benches/matrix.sh [--check] [--parallel [MATRIX_FILE]]
#        --check (or CHECK=1): exit 1 when a ratio misses its target, naming it.
# Env:   ROUNDS (default 2) and WARM (default 3) for the cache ratio; TARGET_WARM (0.05),
#        TARGET_PARALLEL (0.60); ORCA (a binary to use instead of a fresh release build).
# Needs: hyperfine (--parallel), jq, python3. Images and kernels come from the user's cache and are
# built or fetched before anything is timed. Slow: under TCG on 2 cores a cold run takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

check=${CHECK:-0}
mode=cache
matrix=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    --parallel) mode=parallel ;;
    -*) echo "matrix.sh: unknown option $a; usage: benches/matrix.sh [--check] [--parallel [MATRIX_FILE]]" >&2; exit 2 ;;
    *) matrix+=("$a") ;;
  esac
done
[ "$mode" = parallel ] || [ ${#matrix[@]} -eq 0 ] ||
  { echo "matrix.sh: MATRIX_FILE goes with --parallel; the cache ratio runs its own three-image matrix" >&2; exit 2; }
export CHECK=$check TARGET_PARALLEL=${TARGET_PARALLEL:-0.60} TARGET_WARM=${TARGET_WARM:-0.05}
if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet
fi
orca=${ORCA:-$PWD/target/release/orca}
for t in jq python3; do
  command -v "$t" >/dev/null || { echo "matrix.sh: $t is not installed" >&2; exit 3; }
done
export CI=true # plain progress lines, no bars

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$mode" = parallel ]; then
  command -v hyperfine >/dev/null || { echo "matrix.sh: hyperfine is not installed" >&2; exit 3; }
  echo "== preparing kernels and objects (not measured)"
  "$orca" kernel fetch >/dev/null
  "$orca" build >/dev/null
  echo "== parallel against one at a time (--no-cache: every cell runs)"
  hyperfine --runs 1 --export-json "$work/cold.json" \
    -n parallel "$orca matrix run ${matrix[*]-} --no-cache --json $work/parallel.json" \
    -n serial "$orca matrix run ${matrix[*]-} --no-cache --jobs 1 --json $work/serial.json" ||
    { echo "matrix.sh: a measured matrix run failed (hyperfine's message above)" >&2; exit 1; }
  python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
mean = lambda f, i: json.load(open(f"{work}/{f}"))["results"][i]["mean"]
parallel, serial = mean("cold.json", 0), mean("cold.json", 1)
cells = json.load(open(f"{work}/serial.json"))["cells"]
ran = [c for c in cells if c["outcome"] != "unavailable"]
cell_sum = sum(c["duration_ms"] for c in ran) / 1000
accel = json.load(open(f"{work}/parallel.json")).get("accel")
target = float(os.environ["TARGET_PARALLEL"])
print()
print(f"cells: {len(ran)} ran ({accel}); sum of the cells run alone {cell_sum:.1f}s")
print(f"{'':28}{'wall':>9}{'ratio':>8}{'target':>8}")
print(f"{'one at a time (--jobs 1)':28}{serial:>8.1f}s{'1.00':>8}")
print(f"{'parallel':28}{parallel:>8.1f}s{parallel / serial:>8.2f}{'<=' + format(target, '.2f'):>8}")
if parallel / serial > target:
    print(f"matrix.sh: target missed: parallel / one at a time {parallel / serial:.2f} > {target:.2f}", file=sys.stderr)
    if os.environ["CHECK"] == "1":
        sys.exit(1)
PY
  exit 0
fi

# The three-image matrix, in a project of its own.
rounds=${ROUNDS:-2}
warm=${WARM:-3}
p=$work/project
mkdir -p "$p/configs" "$p/src"
cat >"$p/configs/matrix.hcl" <<'HCL'
schema_version = "1.0"

test_matrix = [
  { name = "debian-11", image = "debian-11", kernel_version = "5.10" },
  { name = "debian-12", image = "debian-12", kernel_version = "6.1" },
  { name = "debian-13", image = "debian-13", kernel_version = "6.12" },
]

test {
  timeout  = "20m"
  commands = [
    "grep -q '^1[123]' /etc/debian_version",
    "sh src/check.sh",
  ]
}
HCL
cat >"$p/src/check.sh" <<'SH'
# Runs in the guest, from the mounted project: the kernel's BPF syscall is there, the round's
# file is readable.
set -e
test -e /proc/sys/kernel/unprivileged_bpf_disabled
cat src/round
SH
printf 'build/\n' >"$p/.gitignore"
cd "$p"
run() { # LABEL JSON [ARGS...]: one matrix run, quiet when it works
  local label=$1 json=$2; shift 2
  "$orca" matrix run configs/matrix.hcl --json "$json" "$@" >"$work/run.log" 2>&1 ||
    { cat "$work/run.log" >&2; echo "matrix.sh: the $label matrix run failed" >&2; exit 1; }
}
cached() { jq -r '[.cells[] | select(.cached)] | length' "$1"; }
now() { date +%s.%N; }

echo "matrix.sh: preparing the images and kernels, and a first run (not timed)" >&2
echo 0 >src/round
run first "$work/first.json"
printf '%-6s %10s %10s %12s\n' round "cold (s)" "warm (s)" "warm/cold"
for r in $(seq "$rounds"); do
  echo "$r" >src/round
  t0=$(now); run cold "$work/cold.json"; t1=$(now)
  [ "$(cached "$work/cold.json")" = 0 ] ||
    { echo "matrix.sh: round $r: a cell was taken from the cache after its project changed" >&2; exit 1; }
  cold=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  t0=$(now)
  for _ in $(seq "$warm"); do
    run warm "$work/warm.json"
    [ "$(cached "$work/warm.json")" = 3 ] ||
      { echo "matrix.sh: round $r: a warm run ran a cell ($(cached "$work/warm.json") of 3 cached)" >&2; exit 1; }
  done
  t1=$(now)
  w=$(awk -v a="$t0" -v b="$t1" -v n="$warm" 'BEGIN { print (b - a) / n }')
  ratio=$(awk -v w="$w" -v c="$cold" 'BEGIN { print w / c }')
  echo "$ratio" >>"$work/ratios"
  printf '%-6s %10.2f %10.3f %12.4f\n' "$r" "$cold" "$w" "$ratio"
done
sorted=$(sort -g "$work/ratios")
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf 'three-image matrix, warm result cache / cold: median %.4f (range %.4f..%.4f), target <= %s\n' \
  "$median" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)" "$TARGET_WARM"
if ! awk -v m="$median" -v t="$TARGET_WARM" 'BEGIN { exit !(m <= t) }'; then
  echo "matrix.sh: target missed: warm / cold $median > $TARGET_WARM" >&2
  [ "$check" = 1 ] && exit 1
fi
exit 0
