#!/usr/bin/env python3
"""Issue-6 benchmark: `eidos snapshot --collectors k8s` against the fake Kubernetes API server
holding a large cluster (default 50,000 pods, 3 containers each, 500 distinct images).

Usage: scripts/bench-k8s.py [--runs N] [--pods N] [--containers N] [--images N] [--no-build]

Builds the release binaries (unless --no-build), starts `k8s-fake-server` (a fake: no real API
server can run here) in its own process, and runs eidos under /usr/bin/time -v (Debian package
`time`) --runs times. Prints, per run and as medians: wall time, eidos's peak RSS, eidos's CPU
time (user + system), and the fake server's CPU time over the same run (from /proc/PID/stat), to
show where the time goes. A benchmark, not a test: it never fails on slowness.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def parse_time_v(text):
    """Wall seconds, peak RSS MB and CPU seconds from /usr/bin/time -v output."""
    def field(name):
        m = re.search(rf"^\s*{re.escape(name)}: (.+)$", text, re.M)
        if not m:
            raise RuntimeError(f"no {name!r} in /usr/bin/time output:\n{text}")
        return m.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    rss_mb = int(field("Maximum resident set size (kbytes)")) / 1024
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return wall, rss_mb, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=50_000)
    parser.add_argument("--containers", type=int, default=3)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()

    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time is missing: apt-get install time")
    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "eidos-cli", "-p", "eidos-collector-k8s",
             "-p", "eidos-serializer-json", "-p", "eidos-k8s-fake"],
            cwd=ROOT, check=True)
    release = os.path.join(ROOT, "target", "release")
    work = tempfile.mkdtemp(prefix="eidos-bench-k8s-")
    plugins = os.path.join(work, "plugins")
    os.mkdir(plugins)
    for lib in ["libeidos_collector_k8s.so", "libeidos_serializer_json.so"]:
        shutil.copy(os.path.join(release, lib), plugins)

    server = subprocess.Popen(
        [os.path.join(release, "k8s-fake-server"), "--pods", str(args.pods), "--containers",
         str(args.containers), "--images", str(args.images), "--kubeconfig", work],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "ready":
            sys.exit(f"the fake server did not start: {ready}")
        kubeconfig = ready[2]
        env = dict(os.environ, KUBECONFIG=kubeconfig, EIDOS_NO_DEFAULT_PLUGIN_DIRS="true")
        env.pop("NODE_NAME", None)
        cmd = ["/usr/bin/time", "-v", os.path.join(release, "eidos"), "--plugin-dir", plugins,
               "snapshot", "--collectors", "k8s", "--format", "json", "--timeout", "10m"]
        print(f"cluster: {args.pods} pods x {args.containers} containers, {args.images} images")
        print(f"command: {' '.join(cmd[2:])}")
        walls, rsss, cpus, server_cpus = [], [], [], []
        for i in range(args.runs):
            before = cpu_seconds(server.pid)
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            server_cpu = cpu_seconds(server.pid) - before
            if out.returncode != 0:
                sys.exit(f"eidos failed ({out.returncode}):\n{out.stderr}")
            images = len(
                next(s for s in __import__("json").loads(out.stdout)["measurements"][0]["subtypes"]
                     if s["subtype"] == "image")["data"])
            wall, rss, cpu = parse_time_v(out.stderr)
            walls.append(wall)
            rsss.append(rss)
            cpus.append(cpu)
            server_cpus.append(server_cpu)
            print(f"run {i + 1}: wall {wall:.2f} s  eidos peak RSS {rss:.1f} MB  eidos CPU {cpu:.2f} s"
                  f"  server CPU {server_cpu:.2f} s  images {images}")
        print(f"median: wall {statistics.median(walls):.2f} s  eidos peak RSS "
              f"{statistics.median(rsss):.1f} MB (max {max(rsss):.1f})  eidos CPU "
              f"{statistics.median(cpus):.2f} s  server CPU {statistics.median(server_cpus):.2f} s")
    finally:
        server.stdin.close()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
