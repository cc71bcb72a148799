#!/usr/bin/env bash
# The matrix's speed, as ratios measured side by side in one run:
#   1. the whole matrix in parallel (the host's budget) against its cells one at a time
#      (`--jobs 1`, the sum of the cells run alone): target <= 0.60 on 2 cores;
#   2. a warm re-run, every cell from the result cache, against the cold run: target <= 0.05.
#
# Usage: benches/matrix.sh [MATRIX_FILE]     (default configs/ebpf-test-matrix.hcl)
# Needs: a release build (brought up to date unless ORCA names a binary), hyperfine, python3, and the kernels of the catalog
# (fetched first, so that no side of a ratio pays for a download). Slow: under TCG on 2 cores a
# cold matrix takes minutes; the serial side about twice that.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet
fi
orca=${ORCA:-$PWD/target/release/orca}
command -v hyperfine >/dev/null || { echo "matrix.sh: hyperfine is not installed" >&2; exit 3; }
matrix=("$@")
export CI=true # plain progress lines, no bars

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== preparing kernels and objects (not measured)"
"$orca" kernel fetch >/dev/null
"$orca" build >/dev/null

echo "== cold: parallel against one at a time (each run ignores the result cache)"
hyperfine --runs 1 --export-json "$work/cold.json" \
  -n parallel "$orca matrix run ${matrix[*]} --no-cache --json $work/parallel.json" \
  -n serial "$orca matrix run ${matrix[*]} --no-cache --jobs 1 --json $work/serial.json"

echo "== warm: every cell from the result cache"
hyperfine --warmup 1 --runs 5 --export-json "$work/warm.json" \
  -n warm "$orca matrix run ${matrix[*]} --json $work/warm-report.json"

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
mean = lambda f, i: json.load(open(f"{work}/{f}"))["results"][i]["mean"]
parallel, serial, warm = mean("cold.json", 0), mean("cold.json", 1), mean("warm.json", 0)
cells = json.load(open(f"{work}/serial.json"))["cells"]
ran = [c for c in cells if c["outcome"] != "unavailable"]
cell_sum = sum(c["duration_ms"] for c in ran) / 1000
cached = sum(1 for c in json.load(open(f"{work}/warm-report.json"))["cells"] if c["cached"])
accel = json.load(open(f"{work}/parallel.json")).get("accel")
print()
print(f"cells: {len(ran)} ran ({accel}); sum of the cells run alone {cell_sum:.1f}s")
print(f"{'':28}{'wall':>9}{'ratio':>8}{'target':>8}")
print(f"{'one at a time (--jobs 1)':28}{serial:>8.1f}s{'1.00':>8}")
print(f"{'parallel':28}{parallel:>8.1f}s{parallel / serial:>8.2f}{'<=0.60':>8}")
print(f"{'warm, {}/{} cached'.format(cached, len(ran)):28}{warm:>8.2f}s{warm / parallel:>8.3f}{'<=0.05':>8}")
EOF
