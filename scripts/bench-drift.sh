#!/usr/bin/env bash
# Benchmarks `eidos fleet report` and `eidos diff` (release build), and checks that the fleet report
# finds the planted outliers exactly. A benchmark, not a test: it prints figures and never fails on
# slowness; it fails only when the report is wrong.
#
# Usage: scripts/bench-drift.sh [WORKDIR]   (default: a temporary directory, removed afterwards)
# Needs: cargo build --release (the binary and plugins in target/release), python3 with PyYAML.
#
# Fleet: 1,000 and 10,000 generated nodes (scripts/fleet-gen.py: the reference snapshot with this
# machine's os readings merged in, per-node identity and volatile readings, planted outliers),
# written as JSON (what the agent stores) and as YAML (FORMATS, SIZES narrow the set);
# median wall time and peak RSS of `eidos fleet report --from DIR -f json` over RUNS runs (goals at
# 10,000 nodes: <= 3 s, <= 300 MB). Diff: two snapshots of one node a restart apart, at the Go
# fixture's size (32 KB) and at the real H100 reference snapshot's (75 KB), whole process, median
# of 50 runs (goal <= 10 ms at the reference's size).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
# Snapshot formats and fleet sizes measured (the same generated nodes, written as JSON or YAML);
# set either to the empty string (FORMATS= SIZES=) to measure only the diff.
FORMATS="${FORMATS-json yaml}"
SIZES="${SIZES-1000 10000}"
bin=target/release/eidos
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work="${1:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
plugins="$work/plugins"
mkdir -p "$plugins"
cp target/release/libeidos_collector_*.so target/release/libeidos_serializer_*.so "$plugins/"
# The binary as an installation has it (copied), not as the linker left it: started from the
# linker's fresh output, a short command such as `diff` took about 70 more page faults and ran
# about 8 % slower than the same bytes copied (the page cache holds the two differently).
cp "$bin" "$work/eidos"
eidos=("$work/eidos" --no-default-plugin-dirs --plugin-dir "$plugins")

# This machine's snapshot: real os readings for the generated nodes.
"${eidos[@]}" snapshot --collectors os --best-effort -f json -o "$work/this-node.json" 2>/dev/null

for fmt in $FORMATS; do
for n in $SIZES; do
  dir="$work/$fmt-$n"
  [ -d "$dir" ] || python3 scripts/fleet-gen.py --nodes "$n" --out "$dir" --base "$work/this-node.json" --format "$fmt"
  echo "fleet report: $n nodes, $fmt"
  du -sh "$dir" | awk '{print "size on disk: " $1}'
  python3 scripts/bench-cli.py --runs "$RUNS" --warmup 1 -- \
    "${eidos[@]}" fleet report --from "$dir" -f json -o "$work/report-$fmt-$n.json"
  # The planted outliers, found exactly, and nothing else.
  python3 - "$work/report-$fmt-$n.json" "$dir.expected.json" <<'EOF'
import json, sys
report, expected = (json.load(open(p)) for p in sys.argv[1:3])
found = {k["path"]: k for k in report["keys"]}
assert set(found) == set(expected["keys"]), f"drifting keys {sorted(found)} != planted {sorted(expected['keys'])}"
for path, want in expected["keys"].items():
    minorities = found[path]["minorities"]
    assert len(minorities) == 1, (path, minorities)
    assert minorities[0]["value"] == want["value"], (path, minorities[0]["value"], want["value"])
    assert minorities[0]["outliers"] == want["nodes"], (path, minorities[0]["outliers"], want["nodes"])
collectors = {c["collector"]: c for c in report["collectors"]}
assert set(collectors) == set(expected["collectors"]), sorted(collectors)
for name, want in expected["collectors"].items():
    m = collectors[name]["minorities"]
    assert len(m) == 1 and m[0]["value"] == want["value"] and m[0]["outliers"] == want["nodes"], m
s = report["summary"]
print(f"report: {s['nodes']} nodes, {s['configurations']} configurations, {s['driftingKeys']} drifting keys, "
      f"{s['driftingCollectors']} drifting collectors, {s['outliers']} outliers: the planted ones exactly")
EOF
done
done

# Diff: a snapshot and the same node after a containerd restart (volatile readings moved, nothing
# else): exit 0, whole process. Twice: the Go tool's 32 KB fixture as it is, and the same node with
# more systemd units, as large as the real H100 reference snapshot (75 KB). The warm-up runs fill
# the user's probe and manifest caches (~/.cache/eidos), as any earlier run on a node does: the
# collectors' manifests then come from the cache and only the serializer library is loaded.
python3 - tests/fixtures/snapshots/h100-eks-go.yaml "$work" <<'EOF'
import copy, sys, yaml
fixture, work = sys.argv[1], sys.argv[2]
REFERENCE_BYTES = 75_128  # the size of the real H100 reference snapshot

def restarted(doc):
    doc = copy.deepcopy(doc)
    for m in doc["measurements"]:
        if m["type"].lower() == "systemd":
            d = next(s["data"] for s in m["subtypes"] if s["subtype"] == "containerd.service")
            d["MainPID"] = d["ExecMainPID"] = "2001"
            d["ActiveEnterTimestamp"] += 10**8
            d["MemoryCurrent"] = 1_700_000_000
    doc["metadata"]["measurement-timestamp"] = "2026-03-12T09:00:00Z"
    return doc

def write(doc, name):
    yaml.safe_dump(doc, open(f"{work}/{name}", "w"), sort_keys=False)

doc = yaml.safe_load(open(fixture))
write(restarted(doc), "after-restart.yaml")
# Reference-sized: copies of the node's systemd units under other names, until it is as long.
big = copy.deepcopy(doc)
units = next(m for m in big["measurements"] if m["type"].lower() == "systemd")["subtypes"]
originals = list(units)
while len(yaml.safe_dump(big, sort_keys=False)) < REFERENCE_BYTES:
    unit = copy.deepcopy(originals[len(units) % len(originals)])
    unit["subtype"] = f"copy{len(units)}-{unit['subtype']}"
    units.append(unit)
write(big, "reference-sized.yaml")
write(restarted(big), "reference-sized-after-restart.yaml")
EOF
echo "diff: the Go fixture (32 KB)"
python3 scripts/bench-cli.py --runs 50 --warmup 3 -- \
  "${eidos[@]}" diff tests/fixtures/snapshots/h100-eks-go.yaml "$work/after-restart.yaml" -f json
echo "diff: reference-sized ($(wc -c < "$work/reference-sized.yaml") bytes)"
python3 scripts/bench-cli.py --runs 50 --warmup 3 -- \
  "${eidos[@]}" diff "$work/reference-sized.yaml" "$work/reference-sized-after-restart.yaml" -f json
# The same with the plugins pinned by a lock file (as a production node runs them): a locked
# library is not loaded in a probe process first.
"${eidos[@]}" plugins lock -o "$work/plugins.lock"
python3 scripts/bench-cli.py --runs 50 --warmup 3 -- \
  "${eidos[@]}" --plugin-lock "$work/plugins.lock" diff tests/fixtures/snapshots/h100-eks-go.yaml "$work/after-restart.yaml" -f json
# Where the time goes: the same process without the comparison (one serializer plugin loaded, the
# recipe engine run), for scale.
python3 scripts/bench-cli.py --runs 50 --warmup 3 -- \
  "${eidos[@]}" recipe --snapshot tests/fixtures/snapshots/h100-eks-go.yaml -f json
