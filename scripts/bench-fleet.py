#!/usr/bin/env python3
"""Issue-12 benchmarks against the fake Kubernetes API server (a fake: no real API server can run
here), printing figures; a benchmark, not a test: it never fails on slowness.

1. list + parse: 10,000 snapshot ConfigMaps (each the repository's reference snapshot, ~32 KB of
   YAML), listed 500 a page and each parsed into a snapshot (fleet/examples/list_snapshots.rs, the
   library's for_each_snapshot). Wall time and peak RSS of the lister, per run and median.
2. one agent round: `eidos agent run --rounds 1 --collectors os,systemd --output cm://…` (the
   agent starts, runs one round in a child `eidos snapshot`, the child writes the ConfigMap) and,
   for comparison, the round's child alone (`eidos snapshot --collectors os,systemd --output
   cm://…`). Wall time per run and median.

Usage: scripts/bench-fleet.py [--runs N] [--rounds N] [--configmaps N] [--no-build] [--profile P]
(--profile debug measures an unoptimised build: only for a quick look, never for the figures.)
Needs /usr/bin/time (Debian package `time`).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_v(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (wall s, peak RSS MB, stdout)."""
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)$", out.stderr, re.M)
    wall = 0.0
    for part in m.group(1).strip().split(":"):
        wall = wall * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
    return wall, rss, out.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--configmaps", type=int, default=10_000)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--profile", default="release", choices=["release", "debug"])
    args = parser.parse_args()
    global RELEASE
    RELEASE = os.path.join(ROOT, "target", args.profile)
    mode = ["--release"] if args.profile == "release" else []
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time is missing: apt-get install time")
    if not args.no_build:
        subprocess.run(
            ["cargo", "build"] + mode + ["-q", "-p", "eidos-cli", "-p", "eidos-collector-os",
             "-p", "eidos-collector-systemd", "-p", "eidos-serializer-yaml", "-p", "eidos-k8s-fake"],
            cwd=ROOT, check=True)
        subprocess.run(["cargo", "build"] + mode + ["-q", "-p", "eidos-fleet", "--example",
                        "list_snapshots"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="eidos-bench-fleet-")
    plugins = os.path.join(work, "plugins")
    os.mkdir(plugins)
    for lib in ["libeidos_collector_os.so", "libeidos_collector_systemd.so",
                "libeidos_serializer_yaml.so"]:
        shutil.copy(os.path.join(RELEASE, lib), plugins)
    snapshot = os.path.join(ROOT, "tests", "fixtures", "snapshots", "h100-eks-go.yaml")
    server = subprocess.Popen(
        [os.path.join(RELEASE, "k8s-fake-server"), "--pods", "0", "--kubeconfig", work,
         "--configmaps", str(args.configmaps), "--snapshot", snapshot],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "ready":
            sys.exit(f"the fake server did not start: {ready}")
        kubeconfig = ready[2]
        env = dict(os.environ, KUBECONFIG=kubeconfig, EIDOS_NO_DEFAULT_PLUGIN_DIRS="true",
                   NODE_NAME="bench-node")

        lister = [os.path.join(RELEASE, "examples", "list_snapshots"), kubeconfig, "eidos"]
        print(f"profile: {args.profile}")
        print(f"list + parse: {args.configmaps} ConfigMaps of {os.path.getsize(snapshot)} bytes,"
              f" 500 a page")
        print(f"command: {' '.join(lister[:1])} KUBECONFIG eidos")
        walls, rsss = [], []
        for i in range(args.runs):
            wall, rss, out = time_v(lister, env)
            walls.append(wall)
            rsss.append(rss)
            print(f"run {i + 1}: wall {wall:.2f} s  peak RSS {rss:.1f} MB  ({out.strip()})")
        print(f"median: wall {statistics.median(walls):.2f} s  peak RSS "
              f"{statistics.median(rsss):.1f} MB (max {max(rsss):.1f})")

        eidos = [os.path.join(RELEASE, "eidos"), "--plugin-dir", plugins]
        agent = eidos + ["agent", "run", "--rounds", "1", "--collectors", "os,systemd",
                         "--output", "cm://eidos/eidos-$(NODE_NAME)"]
        child = eidos + ["snapshot", "--collectors", "os,systemd", "--output",
                         "cm://eidos/eidos-$(NODE_NAME)"]
        for name, cmd in [("one agent round (agent start + child + write)", agent),
                          ("the round's child alone (eidos snapshot --output cm://)", child)]:
            print(f"{name}: os+systemd on this machine, ConfigMap write to the fake")
            print(f"command: eidos {' '.join(cmd[3:])}")
            walls = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                walls.append(time.perf_counter() - started)
                if out.returncode != 0:
                    sys.exit(f"failed ({out.returncode}):\n{out.stderr}")
            walls.sort()
            print(f"{args.rounds} runs: median {statistics.median(walls) * 1000:.0f} ms  "
                  f"min {walls[0] * 1000:.0f} ms  max {walls[-1] * 1000:.0f} ms")
    finally:
        server.stdin.close()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
