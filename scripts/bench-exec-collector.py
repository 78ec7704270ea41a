#!/usr/bin/env python3
"""Issue-15 benchmark: what starting an executable collector adds to a snapshot.

Three commands are timed, interleaved, RUNS times each (default 200), and their medians printed:

  exec      eidos snapshot --collectors trivial       a trivial executable collector (POSIX sh,
                                                       builtins only: --manifest and one answer)
  baseline  eidos snapshot --collectors facts          the built-in facts collector on an empty
                                                       directory: the same snapshot, no child
  program   the trivial collector run directly twice   its own run time: `--manifest`, then one
                                                       collection with the request on stdin

  overhead = median(exec) - median(baseline) - median(program)

for wall time, and the same for CPU time (user + system of the whole process tree), which a busy
machine disturbs less than wall time.

The goal (issue 15) is overhead <= 5 ms. A benchmark, not a test: it never fails on slowness.
Usage: scripts/bench-exec-collector.py [--runs N] [--profile debug|release] [--no-build]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TRIVIAL = r"""#!/bin/sh
if [ "${1-}" = --manifest ]; then
  printf '%s' '{"name":"trivial","kind":"collector","version":"1.0.0","apiVersion":"1.2.0","description":"benchmark"}'
  exit 0
fi
read -r request
printf '%s' '{"status":"ok","measurements":[{"type":"trivial","subtypes":[{"subtype":"s","data":{"k":"v"}}]}]}'
"""

REQUEST = b'{"apiVersion":"1.2.0","options":{},"hostRoot":"/","timeoutMs":5000}\n'


def timed(cmd, stdin=None):
    """Wall time and CPU time (user + system, the process and the children it waited for), in ms."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    proc.stdin.write(stdin or b"")
    proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return Sample(elapsed, (usage.ru_utime + usage.ru_stime) * 1000.0)


class Sample:
    """One run's wall and CPU milliseconds; samples add up (for the program's two runs)."""

    def __init__(self, wall, cpu):
        self.wall, self.cpu = wall, cpu

    def __add__(self, other):
        return Sample(self.wall + other.wall, self.cpu + other.cpu)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", default="debug", choices=["debug", "release"])
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    if not args.no_build:
        flags = ["--release"] if args.profile == "release" else []
        subprocess.run(["cargo", "build", "-q", *flags, "-p", "eidos-cli",
                        "-p", "eidos-serializer-json"], check=True)
    target = os.path.join(root, "target", args.profile)
    with tempfile.TemporaryDirectory() as stage:
        os.chmod(stage, 0o755)
        plugins = os.path.join(stage, "plugins")
        facts = os.path.join(stage, "facts.d")
        os.mkdir(plugins, 0o755)
        os.mkdir(facts, 0o755)
        with open(os.path.join(target, "libeidos_serializer_json.so"), "rb") as src:
            data = src.read()
        with open(os.path.join(plugins, "libeidos_serializer_json.so"), "wb") as dst:
            dst.write(data)
        trivial = os.path.join(plugins, "eidos-collector-trivial")
        with open(trivial, "w", encoding="utf-8") as f:
            f.write(TRIVIAL)
        os.chmod(trivial, 0o755)
        eidos = [os.path.join(target, "eidos"), "--no-default-plugin-dirs", "--plugin-dir", plugins,
                 "snapshot", "--format", "json", "--facts-dir", facts, "--collectors"]
        commands = {
            "exec": lambda: timed(eidos + ["trivial"]),
            "baseline": lambda: timed(eidos + ["facts"]),
            "program": lambda: timed([trivial, "--manifest"]) + timed([trivial], REQUEST),
        }
        for run in commands.values():  # warm-up
            for _ in range(5):
                run()
        times = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, run in commands.items():
                times[name].append(run())
    print(f"profile {args.profile}, {args.runs} runs each, medians "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    for measure in ("wall", "cpu"):
        series = {name: [getattr(s, measure) for s in t] for name, t in times.items()}
        medians = {name: statistics.median(v) for name, v in series.items()}
        for name, values in series.items():
            q = statistics.quantiles(values, n=10)
            print(f"  {measure:<4} {name:<9} {medians[name]:8.2f} ms   (p10 {q[0]:.2f}, p90 {q[-1]:.2f})")
        overhead = medians["exec"] - medians["baseline"] - medians["program"]
        print(f"  {measure:<4} overhead  {overhead:8.2f} ms   (exec - baseline - program; goal <= 5 ms)")


if __name__ == "__main__":
    main()
