#!/usr/bin/env bash
# Booting distro images, as ratios measured side by side in one run, on the same kernel:
#   image        `orca run` of a VM on IMAGE (default debian-12) ÷ the same VM on the host's root:
#                target ≤ 1.10 (TARGET_IMAGE)
#   provisioned  the VM on IMAGE with a provision whose result is kept (the boot reuses the
#                provisioned root, provision does not run) ÷ the VM on the bare IMAGE: target ≤ 1.10
#                (TARGET_PROVISIONED)
# Each VM has 1 vCPU, 1 GB, no NIC and no mounts, and runs `uname -r` from `/`; all under TCG.
#
# The three commands are measured in ROUNDS rounds of RUNS runs each (hyperfine, one warm-up), so
# that load from other work on the machine hits all of them alike; each ratio is taken within a
# round (from means), and the median over the rounds is reported with its range.
#
# Before anything is timed every command must print the guest's release, the image VM must boot
# the image (its /etc/debian_version) and the provisioned one its kept root (the file its
# provision wrote); a timed run that exits non-zero fails the benchmark.
#
# Usage: benches/image-boot.sh [--check] [IMAGE]          default: debian-12
#        --check (or CHECK=1): exit 1 when a median ratio misses its target, naming it.
# Env:   ROUNDS (default 3), RUNS (default 3), KERNEL (default: the image's default kernel, 6.1
#        for debian-12), TARGET_IMAGE (1.10), TARGET_PROVISIONED (1.10); ORCA (a binary to use
#        instead of a fresh release build). Runs in a temporary project; images, provisioned
#        roots and kernels come from the user's cache (built on first use, not timed).
#        Needs hyperfine, jq, python3, qemu-system-x86_64.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=${CHECK:-0}
image=debian-12
for a in "$@"; do
  case $a in
    --check) check=1 ;;
    -*) echo "image-boot.sh: unknown option $a; usage: benches/image-boot.sh [--check] [IMAGE]" >&2; exit 2 ;;
    *) image=$a ;;
  esac
done
export CHECK=$check TARGET_IMAGE=${TARGET_IMAGE:-1.10} TARGET_PROVISIONED=${TARGET_PROVISIONED:-1.10}
rounds=${ROUNDS:-3}
runs=${RUNS:-3}
for t in hyperfine jq python3 qemu-system-x86_64; do
  command -v "$t" >/dev/null || { echo "image-boot.sh: $t is not installed" >&2; exit 3; }
done
if [ -z "${ORCA:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
orca=${ORCA:-$here/target/release/orca}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project/configs"
echo 'schema_version = "1.0"' >"$work/project/configs/base.hcl"
cd "$work/project"
export CI=true ORCA_ACCEL=tcg
kernel=${KERNEL:-$("$orca" image list --json 2>/dev/null | jq -r --arg i "$image" '.[] | select(.name == $i) | .kernel // empty')}
[ -n "$kernel" ] || { echo "image-boot.sh: image $image has no default kernel; set KERNEL" >&2; exit 2; }

# One VM spec per side; they differ only in the image and the provision.
spec() { # NAME IMAGE [PROVISION-LINES...]
  local name=$1 img=$2; shift 2
  {
    echo 'schema_version = "1.0"'
    echo 'vm {'
    echo "  name    = \"$name\""
    echo "  image   = \"$img\""
    echo "  kernel  = \"$kernel\""
    echo '  network = false'
    echo '  resources {'
    echo '    cpu    = 1'
    echo '    memory = "1GB"'
    echo '  }'
    if [ $# -gt 0 ]; then
      echo '  provision = ['
      for l in "$@"; do echo "    \"$l\","; done
      echo '  ]'
    fi
    echo '}'
  } >"configs/$name.hcl"
}
spec host host
spec bare "$image"
spec prov "$image" "mkdir -p /opt/orca-bench" "echo provisioned >/opt/orca-bench/stamp"

release=$("$orca" kernel list --json 2>/dev/null | jq -r --arg k "$kernel" '.[] | select(.version == $k) | .release')
echo "image-boot.sh: preparing $image, its provisioned root and kernel $kernel (not timed)" >&2
out=$("$orca" run configs/bare.hcl --cwd / -- cat /etc/debian_version 2>"$work/err") ||
  { cat "$work/err" >&2; echo "image-boot.sh: the $image VM did not run" >&2; exit 1; }
grep -q '^[0-9]' <<<"$out" || { echo "image-boot.sh: the $image VM did not boot a Debian image: $out" >&2; exit 1; }
"$orca" run configs/prov.hcl --cwd / -- true >/dev/null 2>"$work/err" ||
  { cat "$work/err" >&2; echo "image-boot.sh: the provisioned VM did not run" >&2; exit 1; }
out=$("$orca" run configs/prov.hcl --cwd / -- cat /opt/orca-bench/stamp 2>"$work/err") ||
  { cat "$work/err" >&2; exit 1; }
[ "$out" = provisioned ] && grep -q "reusing the provisioned root" "$work/err" ||
  { cat "$work/err" >&2; echo "image-boot.sh: the provisioned VM did not boot its kept root ($out)" >&2; exit 1; }

cmds=()
for s in host bare prov; do cmds+=("$orca run configs/$s.hcl --cwd / -- uname -r"); done
for c in "${cmds[@]}"; do
  out=$(bash -c "$c" 2>&1 | tr -d '\r' || true)
  grep -qx "$release" <<<"$out" || { echo "image-boot.sh: '$c' did not print $release: $out" >&2; exit 1; }
done

printf '%-6s %10s %10s %10s %14s %14s\n' round "host (s)" "$image (s)" "prov (s)" "image/host" "prov/image"
for r in $(seq "$rounds"); do
  hyperfine -N -w 1 -r "$runs" --export-json "$work/$r.json" "${cmds[@]}" >/dev/null ||
    { echo "image-boot.sh: a timed command failed (hyperfine's message above)" >&2; exit 1; }
  jq -r --arg r "$r" '[.results[].mean] as $m |
    [$r, $m[0], $m[1], $m[2], ($m[1]/$m[0]), ($m[2]/$m[1])] | map(tostring) | @tsv' \
    "$work/$r.json" >>"$work/rows.tsv"
  tail -1 "$work/rows.tsv" | awk -F'\t' '{printf "%-6s %10.2f %10.2f %10.2f %14.3f %14.3f\n", $1, $2, $3, $4, $5, $6}'
done
python3 - "$work/rows.tsv" "$image" "$kernel" <<'EOF'
import os, sys, statistics
rows = [list(map(float, l.split("\t"))) for l in open(sys.argv[1])]
image, kernel = sys.argv[2], sys.argv[3]
missed = []
print(f"\nmedian over {len(rows)} rounds (range), kernel {kernel}:")
for i, name, target in [(4, f"{image} / host root", "TARGET_IMAGE"), (5, f"provisioned {image} / bare {image}", "TARGET_PROVISIONED")]:
    vals = [r[i] for r in rows]
    med, t = statistics.median(vals), float(os.environ[target])
    print(f"  {name:<36} {med:.3f} ({min(vals):.3f}-{max(vals):.3f}), target <= {t:.2f}")
    if med > t:
        missed.append(f"{name} {med:.3f} > {t:.2f}")
for m in missed:
    print(f"image-boot.sh: target missed: {m}", file=sys.stderr)
if missed and os.environ["CHECK"] == "1":
    sys.exit(1)
EOF
