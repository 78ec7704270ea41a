#!/usr/bin/env bash
# Issue-8/18 benchmark: the start-up cost of loading plugins, as the median wall time of `eidos
# plugins list` and `eidos snapshot --collectors os` with and without a plugin lock, over every
# release plugin. Every plugin is hashed and loaded from a sealed copy; without a lock each one is
# also loaded first in a probe process. Prints figures; never fails on slowness.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-50}"
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release -q --workspace --exclude eidos-e2e
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
cp target/release/eidos "$stage/"
mkdir -m 0755 "$stage/plugins"
for f in target/release/libeidos_collector_*.so target/release/libeidos_serializer_*.so; do
  cp "$f" "$stage/plugins/"
done
eidos="$stage/eidos --no-default-plugin-dirs --plugin-dir $stage/plugins"
$eidos plugins lock --output "$stage/plugins.lock"
echo "plugins: $(ls "$stage/plugins" | wc -l), $(du -sh "$stage/plugins" | cut -f1) in all"
echo "== eidos plugins list (no lock)"
# shellcheck disable=SC2086
scripts/bench-cli.py --runs "$runs" -- $eidos plugins list
echo "== eidos plugins list --plugin-lock (every plugin hashed and loaded from a sealed copy)"
# shellcheck disable=SC2086
scripts/bench-cli.py --runs "$runs" -- $eidos --plugin-lock "$stage/plugins.lock" plugins list
echo "== eidos snapshot --collectors os --format json (no lock: two plugins probed)"
# shellcheck disable=SC2086
scripts/bench-cli.py --runs "$runs" -- $eidos snapshot --collectors os --format json
echo "== eidos snapshot --collectors os --format json --plugin-lock"
# shellcheck disable=SC2086
scripts/bench-cli.py --runs "$runs" -- $eidos --plugin-lock "$stage/plugins.lock" snapshot --collectors os --format json
