#!/usr/bin/env bash
# Issue-16 benchmark: what redaction adds to `eidos snapshot --collectors os` whole-process time
# (goal: at most 20 %), on a release build. Prints the medians and the overhead; never fails on
# slowness.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-50}"
cargo build --release -q -p eidos-cli -p eidos-collector-os -p eidos-serializer-json
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp target/release/eidos "$stage/"
for p in collector_os serializer_json; do
  cp "target/release/libeidos_${p}.so" "$stage/"
done
median() { sed -n 's/^wall ms: median \([0-9.]*\).*/\1/p'; }
echo "== eidos snapshot --collectors os --format json"
plain=$(scripts/bench-cli.py --runs "$runs" -- "$stage/eidos" snapshot --collectors os --format json | tee /dev/stderr | median)
echo "== eidos snapshot --collectors os --format json --redact --redact-key bench"
redacted=$(scripts/bench-cli.py --runs "$runs" -- "$stage/eidos" snapshot --collectors os --format json --redact --redact-key bench | tee /dev/stderr | median)
python3 -c "import sys; p, r = float(sys.argv[1]), float(sys.argv[2]); print(f'redaction overhead: {r - p:.2f} ms on {p:.2f} ms = {100 * (r - p) / p:.1f} % (goal <= 20 %)')" "$plain" "$redacted"
