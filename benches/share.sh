#!/usr/bin/env bash
# How the guest reaches the host's files: 9p (the default) against virtiofs, on the same kernel,
# side by side in hyperfine runs:
#   boot   `orca run -- true`: what the share costs a boot
#   files  reading every file under /usr/include (about 8,000 files): file-heavy work
#
# Usage: benches/share.sh [KERNEL]     (default 6.1: it has both 9p and virtiofs)
# Env:   RUNS (default 3). Needs a release build (brought up to date), hyperfine, jq, and
#        virtiofsd (Debian: qemu-system-common), and root (virtiofsd needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
kernel=${1:-6.1}
runs=${RUNS:-3}
cargo build --release --quiet
orca=$PWD/target/release/orca
command -v hyperfine >/dev/null || { echo "share.sh: hyperfine is not installed" >&2; exit 3; }
export CI=true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$orca" kernel fetch "$kernel" >/dev/null

files="find /usr/include -type f -exec cat {} + | wc -c"
for share in 9p virtiofs; do
  # Each side must work before it is timed.
  ORCA_SHARE=$share "$orca" run --kernel "$kernel" -- true
done
hyperfine -w 1 -r "$runs" --export-json "$work/boot.json" \
  -n 9p "ORCA_SHARE=9p $orca run --kernel $kernel -- true" \
  -n virtiofs "ORCA_SHARE=virtiofs $orca run --kernel $kernel -- true"
hyperfine -r "$runs" --export-json "$work/files.json" \
  -n 9p "ORCA_SHARE=9p $orca run --kernel $kernel -- sh -c '$files'" \
  -n virtiofs "ORCA_SHARE=virtiofs $orca run --kernel $kernel -- sh -c '$files'"
for w in boot files; do
  jq -r --arg w "$w" '[.results[].mean] as $m |
    "\($w): 9p \($m[0]*100|round/100) s, virtiofs \($m[1]*100|round/100) s, virtiofs/9p \($m[1]/$m[0]*100|round/100)×"' \
    "$work/$w.json"
done
