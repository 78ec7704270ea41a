#!/usr/bin/env bash
# Issue-2 benchmark: median wall time and peak RSS of `eidos snapshot --collectors os --format json`
# and of `eidos plugins list`, on a release build. Prints figures; never fails on slowness.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-50}"
cargo build --release -q -p eidos-cli -p eidos-collector-os -p eidos-serializer-json -p eidos-serializer-yaml -p eidos-serializer-table
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp target/release/eidos "$stage/"
for p in collector_os serializer_json serializer_yaml serializer_table; do
  cp "target/release/libeidos_${p}.so" "$stage/"
done
echo "== eidos snapshot --collectors os --format json"
scripts/bench-cli.py --runs "$runs" -- "$stage/eidos" snapshot --collectors os --format json
echo "== eidos plugins list"
scripts/bench-cli.py --runs "$runs" -- "$stage/eidos" plugins list
