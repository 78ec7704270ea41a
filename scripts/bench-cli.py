#!/usr/bin/env python3
"""Runs a command repeatedly and prints the median and spread of its wall time and peak RSS.

Usage: scripts/bench-cli.py [--runs N] [--warmup N] -- COMMAND [ARGS...]

Wall time is measured around fork/exec/wait; peak RSS comes from the kernel's rusage of the child
(ru_maxrss). Output goes to /dev/null. A benchmark, not a test: it never fails on slowness.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed * 1000.0, usage.ru_maxrss / 1024.0, proc.returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        parser.error("no command given")
    for _ in range(args.warmup):
        run_once(cmd)
    walls, rss, codes = [], [], set()
    for _ in range(args.runs):
        wall, peak, code = run_once(cmd)
        walls.append(wall)
        rss.append(peak)
        codes.add(code)
    walls.sort()
    p90 = walls[int(0.9 * (len(walls) - 1))]
    print(f"command: {' '.join(cmd)}")
    print(f"runs: {args.runs}  exit codes: {sorted(codes)}")
    print(f"wall ms: median {statistics.median(walls):.2f}  min {walls[0]:.2f}  p90 {p90:.2f}")
    print(f"peak RSS MB: median {statistics.median(rss):.1f}  max {max(rss):.1f}")
    return 0 if codes == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
