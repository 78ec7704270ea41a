#!/usr/bin/env python3
"""Issue-12 benchmarks against the fake Kubernetes API server (a fake: no real API server can run
here), printing figures; a benchmark, not a test: it never fails on slowness.

1. list + parse: 10,000 snapshot ConfigMaps (each the repository's reference snapshot with its node
   name replaced by the ConfigMap's, ~32 KB of YAML; then the same content as JSON, as the agent's
   pods store it: without whitespace between tokens, ~25 KB, see `fleet::store::encode`), listed
   500 a page while worker threads parse each into the fleet report's grouping
   (fleet/examples/list_snapshots.rs: the streaming listing and gather_stream). Wall time and peak
   RSS of the lister, per run and median.
2. the whole fleet report from those ConfigMaps: `eidos fleet report --from cm://eidos -f json -o
   FILE`, wall time and peak RSS, per run and median (it must find 10,000 nodes, one
   configuration).
3. one agent round: `eidos agent run --rounds 1 --collectors os,systemd --output cm://…` (the
   agent starts, runs one round in a child `eidos snapshot`, the child writes the ConfigMap) and,
   for comparison, the round's child alone (`eidos snapshot --collectors os,systemd --output
   cm://…`). Wall time per run and median.

Usage: scripts/bench-fleet.py [--runs N] [--rounds N] [--configmaps N] [--formats yaml,json]
                              [--no-lister] [--no-report] [--no-agent] [--no-build] [--profile P]
(--profile debug measures an unoptimised build: only for a quick look, never for the figures.)
Needs /usr/bin/time (Debian package `time`) and PyYAML (to write the JSON form; `eidos diff`
checks that it is the same snapshot).
"""
import argparse
import json
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


def median_line(walls, rsss):
    return (f"median: wall {statistics.median(walls):.2f} s  peak RSS "
            f"{statistics.median(rsss):.1f} MB (max {max(rsss):.1f})")


def snapshot_files(work, eidos, env):
    """The reference snapshot with its node name as a placeholder, as YAML and as JSON (as a
    ConfigMap holds it: the writer drops the serializer's indentation); checked to be the same
    snapshot with `eidos diff`."""
    import yaml
    reference = os.path.join(ROOT, "tests", "fixtures", "snapshots", "h100-eks-go.yaml")
    with open(reference) as f:
        text = f.read()
    node = yaml.safe_load(text)["metadata"]["source-node"]
    text = text.replace(node, PLACEHOLDER)
    files = {"yaml": os.path.join(work, "snapshot.yaml"), "json": os.path.join(work, "snapshot.json")}
    with open(files["yaml"], "w") as f:
        f.write(text)
    with open(files["json"], "w") as f:
        json.dump(yaml.safe_load(text), f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    same = subprocess.run(eidos + ["diff", files["yaml"], files["json"]], env=env,
                          capture_output=True, text=True)
    if same.returncode != 0:
        sys.exit(f"the JSON form differs from the YAML one ({same.returncode}):\n"
                 f"{same.stdout}{same.stderr}")
    return files


PLACEHOLDER = "placeholder-node-name"


def start_server(work, configmaps, snapshot):
    """The fake API server with `configmaps` snapshot ConfigMaps; (process, kubeconfig)."""
    server = subprocess.Popen(
        [os.path.join(RELEASE, "k8s-fake-server"), "--pods", "0", "--kubeconfig", work,
         "--configmaps", str(configmaps), "--snapshot", snapshot,
         "--node-placeholder", PLACEHOLDER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = server.stdout.readline().split()
    if not ready or ready[0] != "ready":
        sys.exit(f"the fake server did not start: {ready}")
    return server, ready[2]


def stop_server(server):
    server.stdin.close()
    server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--configmaps", type=int, default=10_000)
    parser.add_argument("--formats", default="yaml,json")
    parser.add_argument("--no-lister", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--no-agent", action="store_true")
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
             "-p", "eidos-collector-systemd", "-p", "eidos-serializer-yaml",
             "-p", "eidos-serializer-json", "-p", "eidos-k8s-fake"],
            cwd=ROOT, check=True)
        subprocess.run(["cargo", "build"] + mode + ["-q", "-p", "eidos-fleet", "--example",
                        "list_snapshots"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="eidos-bench-fleet-")
    plugins = os.path.join(work, "plugins")
    os.mkdir(plugins)
    for lib in ["libeidos_collector_os.so", "libeidos_collector_systemd.so",
                "libeidos_serializer_yaml.so", "libeidos_serializer_json.so"]:
        shutil.copy(os.path.join(RELEASE, lib), plugins)
    base_env = dict(os.environ, EIDOS_NO_DEFAULT_PLUGIN_DIRS="true", NODE_NAME="bench-node")
    eidos = [os.path.join(RELEASE, "eidos"), "--plugin-dir", plugins]
    print(f"profile: {args.profile}")
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} (1, 5, 15 min) on {os.cpu_count()} CPUs")
    server = None
    try:
        files = snapshot_files(work, eidos, base_env)
        for fmt in args.formats.split(","):
            snapshot = files[fmt]
            server, kubeconfig = start_server(work, args.configmaps, snapshot)
            env = dict(base_env, KUBECONFIG=kubeconfig)
            lister = [os.path.join(RELEASE, "examples", "list_snapshots"), kubeconfig, "eidos"]
            print(f"list + parse: {args.configmaps} ConfigMaps of {os.path.getsize(snapshot)} "
                  f"bytes of {fmt.upper()}, 500 a page")
            print(f"command: {' '.join(lister[:1])} KUBECONFIG eidos")
            walls, rsss = [], []
            for i in range(0 if args.no_lister else args.runs):
                wall, rss, out = time_v(lister, env)
                walls.append(wall)
                rsss.append(rss)
                print(f"run {i + 1}: wall {wall:.2f} s  peak RSS {rss:.1f} MB  ({out.strip()})")
            if walls:
                print(median_line(walls, rsss))
            if not args.no_report:
                output = os.path.join(work, "report.json")
                report = eidos + ["fleet", "report", "--from", "cm://eidos", "-f", "json",
                                  "-o", output]
                print(f"fleet report: the same {args.configmaps} ConfigMaps ({fmt.upper()})")
                print(f"command: eidos {' '.join(report[3:])}")
                walls, rsss = [], []
                for i in range(args.runs):
                    wall, rss, _ = time_v(report, env)
                    with open(output) as f:
                        summary = json.load(f)["summary"]
                    if summary["nodes"] != args.configmaps or summary["configurations"] != 1:
                        sys.exit(f"unexpected report: {summary}")
                    walls.append(wall)
                    rsss.append(rss)
                    print(f"run {i + 1}: wall {wall:.2f} s  peak RSS {rss:.1f} MB  "
                          f"({summary['nodes']} nodes, {summary['configurations']} "
                          f"configuration(s))")
                print(median_line(walls, rsss))
            stop_server(server)
            server = None

        if args.no_agent:
            return
        server, kubeconfig = start_server(work, 0, files["json"])
        env = dict(base_env, KUBECONFIG=kubeconfig)
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
        if server is not None:
            stop_server(server)
        print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
              f"{os.getloadavg()[2]:.2f}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
