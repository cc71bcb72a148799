#!/usr/bin/env bash
# The matrix's speed, as a ratio measured side by side in one run: the whole matrix in parallel
# (the host's budget) against its cells one at a time (`--jobs 1`, the sum of the cells run
# alone): target <= 0.60 on 2 cores. (Every cell runs each time: there is no result cache to
# measure, see `orca matrix run --help`.)
#
# A measured run that fails (a cell failed, or orca did) fails the benchmark: hyperfine stops at
# a non-zero exit.
#
# Usage: benches/matrix.sh [--check] [MATRIX_FILE]     (default configs/ebpf-test-matrix.hcl)
#        --check (or CHECK=1): exit 1 when the ratio misses its target, naming it.
# Env:   TARGET_PARALLEL (default 0.60); ORCA (a binary to use instead of a fresh release build).
# Needs: hyperfine, python3, and the kernels of the catalog (fetched first, so that no side of
# the ratio pays for a download). Slow: under TCG on 2 cores a cold matrix takes minutes; the
# serial side about twice that.
set -euo pipefail
cd "$(dirname "$0")/.."
check=${CHECK:-0}
matrix=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    -*) echo "matrix.sh: unknown option $a; usage: benches/matrix.sh [--check] [MATRIX_FILE]" >&2; exit 2 ;;
    *) matrix+=("$a") ;;
  esac
done
export CHECK=$check TARGET_PARALLEL=${TARGET_PARALLEL:-0.60}
if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet
fi
orca=${ORCA:-$PWD/target/release/orca}
command -v hyperfine >/dev/null || { echo "matrix.sh: hyperfine is not installed" >&2; exit 3; }
export CI=true # plain progress lines, no bars

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== preparing kernels and objects (not measured)"
"$orca" kernel fetch >/dev/null
"$orca" build >/dev/null

echo "== parallel against one at a time"
hyperfine --runs 1 --export-json "$work/cold.json" \
  -n parallel "$orca matrix run ${matrix[*]-} --json $work/parallel.json" \
  -n serial "$orca matrix run ${matrix[*]-} --jobs 1 --json $work/serial.json" ||
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
