#!/usr/bin/env bash
# `orca build` against the bare clang commands it runs, side by side in hyperfine runs.
#
#   cold          orca build -jN, no build/ and an empty object cache (the toolchain probe is
#                 remembered, as after any first build)    vs  the bare clang commands, N at a time
#   cold+probe    the same with orca's whole cache empty (clang --version and hashing the tools)
#   no-op         orca build with nothing changed           vs  cold
#   cache hit     orca build after `orca clean`             vs  cold
#
# The bare commands are orca's clang command lines (same flags, reproducibility flags included,
# read from `orca plan --json`), run in the project. orca also copies the sources into its stage,
# strips DWARF (in process), validates, hashes and caches: that is the overhead measured.
# "bare clang+strip" adds an `llvm-strip -g` per object, the usual way to strip (bpf2go's), for
# reference.
#
# The commands are measured side by side in ROUNDS rounds, so that load from other work on the
# machine hits all of them alike; each ratio is taken within a round (from medians), and the
# median ratio over the rounds is reported with its range.
#
# A measured command that fails fails the benchmark (hyperfine stops at a non-zero exit).
#
# Usage: benches/build.sh [--check] [PROJECT_DIR]     default: this repository (its ebpf/ programs)
#        --check (or CHECK=1): exit 1 when a target is missed, naming it, so the benchmark is a gate.
# Env:   JOBS (default: nproc), ROUNDS (default 5) of RUNS (default 3), the targets TARGET_COLD
#        (1.10), TARGET_NOOP (0.05), TARGET_HIT (0.10). Needs hyperfine, jq, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=${CHECK:-0}
args=()
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    -*) echo "build.sh: unknown option $a; usage: benches/build.sh [--check] [PROJECT_DIR]" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
project=$(cd "${args[0]:-$here}" && pwd)
export CHECK=$check TARGET_COLD=${TARGET_COLD:-1.10} TARGET_NOOP=${TARGET_NOOP:-0.05} TARGET_HIT=${TARGET_HIT:-0.10}
jobs=${JOBS:-$(nproc)}
runs=${RUNS:-3}
rounds=${ROUNDS:-5}

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
orca=$here/target/release/orca
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A copy of the project's specs and sources: the benchmark never touches the project's build/.
mkdir -p "$work/proj" "$work/bare"
cp -r "$project/configs" "$project/ebpf" "$work/proj/"
cd "$work/proj"
export ORCA_CACHE_DIR=$work/cache CI=true

plan=$("$orca" plan --json)
major=$(jq -r .toolchain.clang_major <<<"$plan")
clang=$(jq -r --arg d "clang-$major" '.toolchain.clang // $d' <<<"$plan")
strip=$(dirname "$(readlink -f "$(command -v "$clang")")")/llvm-strip
[ -x "$strip" ] || strip=llvm-strip-$major

# One line per program: orca's clang command line (src/build/compile.rs), output in $work/bare.
bare_cmds() {
  jq -r --arg clang "$clang" --arg root "$PWD" --arg out "$work/bare" --arg strip "$1" '
    .toolchain as $t | .programs[] |
    ([$clang, "-target", $t.target] + $t.cflags + .cflags + ($t.include_dirs | map("-I" + .)) +
     ["-fno-ident", "-fdebug-compilation-dir=.", "-fdebug-prefix-map=\($root)=.",
      "-fmacro-prefix-map=\($root)=.", "-Werror=date-time", "-c", .source,
      "-o", "\($out)/\(.name).raw.o", "-MD", "-MF", "\($out)/\(.name).d"] | join(" ")) +
    (if $strip == "" then "" else " && \($strip) -g \($out)/\(.name).raw.o -o \($out)/\(.name).o" end)
  ' <<<"$plan"
}
bare_cmds "" >"$work/clang.txt"
bare_cmds "$strip" >"$work/clang-strip.txt"
for f in clang clang-strip; do
  printf '%s\n' "exec xargs -P $jobs -d '\\n' -n1 sh -c <$work/$f.txt" >"$work/$f.sh"
done
fresh_bare="sh -c 'rm -rf $work/bare && mkdir $work/bare'"

echo "project: $project ($(jq '.programs | length' <<<"$plan") programs), -j $jobs," \
  "$rounds rounds x $runs runs, $("$clang" --version | head -1)"
# -N: no intermediate shell, so that the few-millisecond no-op build is measured precisely.
for r in $(seq "$rounds"); do
  hyperfine -N --style none --warmup 1 --runs "$runs" --export-json "$work/round-$r.json" \
    -n "bare clang" --prepare "$fresh_bare" "sh $work/clang.sh" \
    -n "bare clang+strip" --prepare "$fresh_bare" "sh $work/clang-strip.sh" \
    -n "orca cold" --prepare "rm -rf build $ORCA_CACHE_DIR/objects" "$orca build -j $jobs" \
    -n "orca cold+probe" --prepare "rm -rf build $ORCA_CACHE_DIR" "$orca build -j $jobs" \
    -n "orca no-op" --prepare "$orca build -j $jobs" "$orca build -j $jobs" \
    -n "orca cache hit" --prepare "rm -rf build" "$orca build -j $jobs" >/dev/null ||
    { echo "build.sh: a measured command failed (hyperfine's message above)" >&2; exit 1; }
  echo "round $r/$rounds done" >&2
done

python3 - "$work"/round-*.json <<'PY'
import json, os, statistics, sys
data = [json.load(open(f))["results"] for f in sys.argv[1:]]
rounds = [{x["command"]: x["median"] for x in d} for d in data]
# CPU time (user + system, clang's included) suffers less from other load than wall time does.
cpu = [{x["command"]: x["user"] + x["system"] for x in d} for d in data]
print()
print(f"  {'median over rounds':<22} {'wall ms':>8} {'cpu ms':>8}")
for name in rounds[0]:
    wall = statistics.median(r[name] for r in rounds) * 1000
    print(f"  {name:<22} {wall:8.1f} {statistics.median(r[name] for r in cpu) * 1000:8.1f}")
rows = [
    ("orca cold / bare clang", "orca cold", "bare clang", float(os.environ["TARGET_COLD"])),
    ("orca cold / bare clang+strip", "orca cold", "bare clang+strip", None),
    ("orca cold+probe / bare clang+strip", "orca cold+probe", "bare clang+strip", None),
    ("orca no-op / orca cold", "orca no-op", "orca cold", float(os.environ["TARGET_NOOP"])),
    ("orca cache hit / orca cold", "orca cache hit", "orca cold", float(os.environ["TARGET_HIT"])),
]
print()
missed = []
print("  wall-time ratio                       median  [min .. max] over rounds      cpu-time ratio")
for label, a, b, target in rows:
    ratios = sorted(r[a] / r[b] for r in rounds)
    med = statistics.median(ratios)
    cpu_med = statistics.median(r[a] / r[b] for r in cpu)
    verdict = "" if target is None else f"  target <= {target:.2f}: " + ("ok" if med <= target else "MISSED")
    print(f"  {label:<36} {med:6.3f}x [{ratios[0]:.3f} .. {ratios[-1]:.3f}]{verdict:<24} {cpu_med:6.3f}x")
    if target is not None and med > target:
        missed.append(f"{label}: median {med:.3f}x > target {target:.2f}x")
for m in missed:
    print(f"build.sh: target missed: {m}", file=sys.stderr)
if missed and os.environ["CHECK"] == "1":
    sys.exit(1)
PY
