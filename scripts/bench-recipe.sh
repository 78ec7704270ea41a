#!/usr/bin/env bash
# Issue-3 benchmark: median wall time and peak RSS of `eidos recipe --gpu h100 --service eks` as a
# whole process on a release build (goal: <= 10 ms), then the criterion medians of the recipe
# engine's build (goal: <= 50 us). Prints figures; never fails on slowness.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-200}"
cargo build --release -q -p eidos-cli -p eidos-serializer-json -p eidos-serializer-yaml
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp target/release/eidos "$stage/"
for p in serializer_json serializer_yaml; do
  cp "target/release/libeidos_${p}.so" "$stage/"
done
echo "== eidos recipe --gpu h100 --service eks"
EIDOS_NO_DEFAULT_PLUGIN_DIRS=true scripts/bench-cli.py --runs "$runs" --warmup 10 -- \
  "$stage/eidos" --plugin-dir "$stage" recipe --gpu h100 --service eks
echo "== recipe engine (criterion; medians)"
cargo bench -q -p eidos-recipes --bench build >/dev/null 2>&1
for estimates in target/criterion/*/new/estimates.json; do
  python3 - "$estimates" <<'PY'
import json, sys, pathlib
path = pathlib.Path(sys.argv[1])
median = json.loads(path.read_text())["median"]["point_estimate"] / 1000.0
print(f"{path.parent.parent.name:<60} median {median:8.3f} us")
PY
done
