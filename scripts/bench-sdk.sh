#!/usr/bin/env bash
# Measures what a vendor sees with the plugin SDK archive: the archive's size, and the clean
# release build of its example collector (offline, empty cargo home) — wall time per run, their
# median, and the size of the library built.
#
# Usage: scripts/bench-sdk.sh [--runs N] [--archive FILE]
#   --runs      clean builds to time (default 3)
#   --archive   an archive from scripts/sdk.sh (default: build one now)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --archive) archive="$2"; shift 2 ;;
    *) echo "bench-sdk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

cargo=${CARGO:-cargo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$archive" ]; then
  archive=$(scripts/sdk.sh --out "$work/out" 2>/dev/null)
fi
tar -xzf "$archive" -C "$work"
example=$(echo "$work"/eidos-plugin-sdk-*/collector-example)
mkdir -p "$work/cargo-home"

times=()
for i in $(seq 1 "$runs"); do
  rm -rf "$example/target"
  start=$(date +%s.%N)
  (cd "$example" && CARGO_HOME="$work/cargo-home" "$cargo" build --release --offline --locked -q)
  end=$(date +%s.%N)
  t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  times+=("$t")
  echo "run $i: ${t}s"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
library="$example/target/release/libeidos_collector_example.so"
echo "archive: $(basename "$archive") $(stat -c %s "$archive") bytes"
echo "clean release build of the example, median of $runs: ${median}s"
echo "library: $(stat -c %s "$library") bytes"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
