#!/usr/bin/env bash
# Issue-11 benchmark: median wall time of `eidos validate --snapshot FILE` as a whole process on a
# release build (goal: <= 10 ms), then the criterion medians of the check itself (goal: <= 50 us).
# Prints figures; never fails on slowness (nor on the verdict: exit 3 is a finding, not an error).
#
# Usage: scripts/bench-validate.sh [SNAPSHOT]   (default: the in-repo H100 EKS fixture snapshot)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-200}"
snapshot="${1:-}"
if [ -z "$snapshot" ]; then
  snapshot=$(ls tests/fixtures/snapshots/*h100*eks*.yaml 2>/dev/null | head -n1 || true)
fi
if [ -z "$snapshot" ] || [ ! -f "$snapshot" ]; then
  echo "usage: $0 SNAPSHOT (a reference-sized snapshot; no in-repo fixture found)" >&2
  exit 2
fi
cargo build --release -q -p eidos-cli -p eidos-serializer-json -p eidos-serializer-yaml
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp target/release/eidos "$stage/"
for p in serializer_json serializer_yaml; do
  cp "target/release/libeidos_${p}.so" "$stage/"
done
echo "== eidos validate --snapshot $snapshot ($(wc -l < "$snapshot") lines)"
EIDOS_NO_DEFAULT_PLUGIN_DIRS=true scripts/bench-cli.py --runs "$runs" --warmup 10 -- \
  "$stage/eidos" --plugin-dir "$stage" validate --snapshot "$snapshot" || true
echo "== validation (criterion; medians)"
cargo bench -q -p eidos-recipes --bench validate >/dev/null 2>&1
for estimates in target/criterion/validate/*/new/estimates.json; do
  python3 - "$estimates" <<'PY'
import json, sys, pathlib
path = pathlib.Path(sys.argv[1])
median = json.loads(path.read_text())["median"]["point_estimate"] / 1000.0
print(f"{path.parent.parent.name:<60} median {median:8.3f} us")
PY
done
