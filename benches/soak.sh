#!/usr/bin/env bash
# Boot soak: boots `orca run --kernel K --cpus C -- true` N times per kernel, the kernels in turn,
# P at a time, and reports how many passed, how many first tries failed and why, and how many
# passed only on orca's retry. Every console of a failed first try (and of a failed boot) is kept.
#
# Usage: benches/soak.sh [-n BOOTS_PER_KERNEL] [-p PARALLEL] [-c CPUS] [-o DIR] [KERNEL...]
#        defaults: -n 50 -p 2 -c 2, kernels 5.10 6.1 6.12 7.2, DIR a new build/soak-<time>
#        e.g. benches/soak.sh -n 50 -p 2 5.10 6.1 6.12 7.2     (200 boots, two at a time)
# Env:   ORCA (the orca binary; default: target/release/orca, built first),
#        SOAK_DEADLINE (seconds one `orca run` may take before it is killed; default 600),
#        and every ORCA_* variable orca reads (ORCA_ACCEL, ORCA_VM_CMDLINE, ...).
#
# Per boot, DIR/boot-NNNN-K.{err,console} hold orca's stderr and the guest's serial console
# (ORCA_VM_CONSOLE); orca keeps the console of a failed first try as <console>.first. The logs
# of boots that passed on their first try are removed. DIR/results.tsv has one line per boot:
# index, kernel, exit code, seconds, first-try cause ("-" when the first try passed), outcome
# (pass, flaky = passed on the retry, fail).
#
# Exit: 0 when every boot passed (on its first try or on the retry), 1 otherwise, 2 usage.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
per=50
par=2
cpus=2
out=
while getopts "n:p:c:o:h" o; do
  case $o in
    n) per=$OPTARG ;;
    p) par=$OPTARG ;;
    c) cpus=$OPTARG ;;
    o) out=$OPTARG ;;
    h) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: see benches/soak.sh -h" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
for v in "$per" "$par" "$cpus"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: -n, -p and -c take positive integers, got '$v'" >&2; exit 2; }
done
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12 7.2)

if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  ORCA=$here/target/release/orca
fi
[ -x "$ORCA" ] || { echo "soak.sh: $ORCA is not an executable" >&2; exit 2; }
out=${out:-$here/build/soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export ORCA out cpus SOAK_DEADLINE=${SOAK_DEADLINE:-600} CI=${CI:-1}
cd "$here"
for k in "${kernels[@]}"; do
  "$ORCA" kernel fetch "$k" >/dev/null 2>&1 || { echo "soak.sh: cannot fetch kernel $k" >&2; exit 3; }
done

# The cause of a failed boot, in a few words: a panic's first function (RIP or the panic line),
# a hang's last console line, or what orca said.
cause() { # CONSOLE ERR CODE
  local console=$1 err=$2 code=$3 rip last
  if [ -s "$console" ] && grep -qE 'Kernel panic|Oops|BUG:|general protection' "$console"; then
    rip=$(tr -d '\r' <"$console" | grep -m1 -oE 'RIP: [0-9a-f]{4}:[^ ]+' | sed -E 's/RIP: [0-9a-f]{4}://; s/\+0x.*//' || true)
    echo "panic${rip:+ in $rip}"
  elif [ -s "$console" ]; then
    last=$(tr -d '\r' <"$console" | grep -v '^\s*$' | tail -1 | sed -E 's/^\[ *[0-9.]+\] //' | cut -c1-60)
    if [ "$code" = 124 ] || [ "$code" = none ]; then echo "hang after: $last"; else echo "exit $code after: $last"; fi
  else
    echo "exit $code: $(grep -m1 'error' "$err" | cut -c1-80)"
  fi
}
export -f cause

one() { # INDEX KERNEL
  local i=$1 k=$2 base code start secs first outcome
  base=$out/boot-$(printf %04d "$i")-$k
  start=$(date +%s.%N)
  code=0
  ORCA_VM_CONSOLE=$base.console timeout -k 10 "$SOAK_DEADLINE" \
    "$ORCA" run --kernel "$k" --cpus "$cpus" -- true >/dev/null 2>"$base.err" || code=$?
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  if [ "$code" = 0 ] && [ ! -e "$base.console.first" ]; then
    first=- outcome=pass
    rm -f "$base.err" "$base.console"
  elif [ "$code" = 0 ]; then
    first=$(cause "$base.console.first" "$base.err" "$(grep -m1 -oE 'first try: exit [0-9]+' "$base.err" | grep -oE '[0-9]+$' || echo none)")
    outcome=flaky
  else
    first=$(cause "${base}.console$([ -e "$base.console.first" ] && echo .first)" "$base.err" "$code")
    outcome=fail
  fi
  printf '%s\t%s\t%s\t%.1f\t%s\t%s\n' "$i" "$k" "$code" "$secs" "$first" "$outcome"
}
export -f one

total=$((per * ${#kernels[@]}))
echo "soak: $total boots ($per per kernel: ${kernels[*]}), $par at a time, $cpus vCPUs; logs in $out" >&2
echo "soak: load before: $(uptime | sed 's/.*load average/load average/')" >&2
t0=$(date +%s)
for i in $(seq 0 $((total - 1))); do
  echo "$i ${kernels[$((i % ${#kernels[@]}))]}"
done | xargs -P "$par" -L 1 bash -c 'one "$@"' _ | tee "$out/results.tsv" |
  awk -F'\t' '$6 != "pass" {print "soak: boot " $1 " (" $2 "): " $6 ", exit " $3 ", first try: " $5 > "/dev/stderr"}'
t1=$(date +%s)
echo "soak: load after: $(uptime | sed 's/.*load average/load average/')" >&2

awk -F'\t' -v total="$total" -v secs=$((t1 - t0)) -v order="${kernels[*]}" '
  { n++; k[$2]++; t[$2] += $4
    if ($6 != "fail") p[$2]++
    if ($5 != "-") { first++; fk[$2]++; c[$5]++ }
    if ($6 == "flaky") { r++; rk[$2]++ }
    if ($6 == "fail") f++ }
  END {
    printf "\n%-8s %6s %8s %16s %14s %8s\n", "kernel", "boots", "passed", "first-try fails", "of them flaky", "mean s"
    split(order, ks, " ")
    for (i = 1; i in ks; i++) { x = ks[i]; if (k[x]) printf "%-8s %6d %8d %16d %14d %8.1f\n", x, k[x], p[x], fk[x], rk[x], t[x] / k[x] }
    printf "\nboots %d of %d in %d s: %d passed (%d on the first try), %d first-try failures (%.1f%%), %d passed on the retry (flaky), %d failed\n",
      n, total, secs, n - f, n - first, first + 0, 100 * first / (n ? n : 1), r + 0, f + 0
    if (first) { print "first-try failures by cause:"; for (x in c) printf "  %3d  %s\n", c[x], x }
  }' "$out/results.tsv"
[ "$(awk -F'\t' '$6 == "fail"' "$out/results.tsv" | wc -l)" = 0 ] && [ "$(wc -l <"$out/results.tsv")" = "$total" ]
