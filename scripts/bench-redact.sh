#!/usr/bin/env bash
# Issue-16 benchmark: what redaction adds to `eidos snapshot --collectors os` whole-process time
# (goal: at most 20 %), on a release build. The two commands run alternately, so that a change in
# the machine's load hits both alike. Prints medians and the overhead; never fails on slowness.
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
python3 - "$runs" "$stage/eidos" <<'PY'
import os, statistics, subprocess, sys, time
runs, eidos = int(sys.argv[1]), sys.argv[2]
plain = [eidos, "snapshot", "--collectors", "os", "--format", "json"]
redacted = plain + ["--redact", "--redact-key", "bench"]
def once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, _ = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    return (time.perf_counter() - start) * 1000.0
for _ in range(3):
    once(plain), once(redacted)
times = {"plain": [], "redacted": []}
for _ in range(runs):
    times["plain"].append(once(plain))
    times["redacted"].append(once(redacted))
for name, cmd in (("plain", plain), ("redacted", redacted)):
    t = sorted(times[name])
    print(f"{' '.join(cmd[1:])}: median {statistics.median(t):.2f} ms  min {t[0]:.2f}  p90 {t[int(0.9 * (len(t) - 1))]:.2f}  ({runs} runs)")
p, r = statistics.median(times["plain"]), statistics.median(times["redacted"])
print(f"redaction overhead: {r - p:.2f} ms on {p:.2f} ms = {100 * (r - p) / p:.1f} % (goal <= 20 %)")
PY
