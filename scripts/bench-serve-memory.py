#!/usr/bin/env python3
"""Issue-18 benchmark: how large can one client make `eidos serve`?

Starts the release server on loopback with rate limiting off (the worst case: behind a load
balancer every client shares one address, so operators often turn it off), then attacks it from
one address over CONNECTIONS kept-alive connections:

1. cache growth: REQUESTS POSTs of `{"kernel": "6.8.0-<i>-<padding>", "gpu": "h100",
   "context": true}` whose kernel texts are all distinct and exactly 256 characters, the longest
   allowed, so every answer is a new cache entry;
2. the issue's reproduction: OVERLONG POSTs whose kernel text is 346 KB (refused with 400).

Prints the server's peak RSS (VmHWM from /proc/PID/status) at rest and after each phase, and the
answers counted by status. Goal: peak RSS under 100 MB. Prints figures; never fails on them.

Needs python3 and a Linux /proc. Usage: scripts/bench-serve-memory.py
Options (environment): REQUESTS (default 20000), OVERLONG (default 4400), CONNECTIONS
(default 32), EIDOS_BIN=path (skip the build and use that binary).
"""

import asyncio
import collections
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("REQUESTS", "20000"))
OVERLONG = int(os.environ.get("OVERLONG", "4400"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
MAX_VERSION_LEN = 256


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def exchange(reader, writer, port, body):
    writer.write(
        (
            f"POST /v1/recipe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def attack(port, bodies):
    """Sends every body from `bodies` (a shared iterator) over CONNECTIONS connections."""
    counts = collections.Counter()

    async def connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            for body in bodies:
                try:
                    counts[await exchange(reader, writer, port, body)] += 1
                except (asyncio.IncompleteReadError, ConnectionError):
                    counts["connection closed"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, limit=1 << 20
                    )
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return counts


def growth_bodies():
    for i in range(REQUESTS):
        prefix = f"6.8.0-{i}-"
        kernel = prefix + "k" * (MAX_VERSION_LEN - len(prefix))
        yield json.dumps({"kernel": kernel, "gpu": "h100", "context": True}).encode()


def overlong_bodies():
    padding = "x" * 346_000
    for i in range(OVERLONG):
        yield json.dumps({"kernel": f"6.8.0-{i}{padding}", "gpu": "h100"}).encode()


def wait_ready(port, server):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"eidos serve exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).split(b" ")[1] == b"200":
                    return
        except (OSError, IndexError):
            pass
        time.sleep(0.05)
    sys.exit("eidos serve did not become ready within 30 s")


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def main():
    eidos = os.environ.get("EIDOS_BIN")
    if not eidos:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "eidos-cli"], cwd=ROOT, check=True
        )
        eidos = str(ROOT / "target" / "release" / "eidos")
    port = free_port()
    server = subprocess.Popen(
        [eidos, "serve", "--addr", f"127.0.0.1:{port}", "--rate-limit", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    try:
        wait_ready(port, server)
        print(
            f"eidos serve (pid {server.pid}) on 127.0.0.1:{port}, rate limit off; "
            f"{CONNECTIONS} connections; {os.cpu_count()} CPUs"
        )
        print(f"at rest:             VmRSS {mb(status_kb(server.pid, 'VmRSS'))}")
        for name, bodies in [
            (f"{REQUESTS} distinct 256-character kernels", growth_bodies()),
            (f"{OVERLONG} kernels of 346 KB", overlong_bodies()),
        ]:
            started = time.monotonic()
            counts = asyncio.run(attack(port, bodies))
            elapsed = time.monotonic() - started
            answers = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=str))
            print(f"{name}: {elapsed:.1f} s; answers {answers}")
            print(
                f"  after it:          VmRSS {mb(status_kb(server.pid, 'VmRSS'))}, "
                f"peak (VmHWM) {mb(status_kb(server.pid, 'VmHWM'))}"
            )
            if server.poll() is not None:
                sys.exit(f"eidos serve died (exit {server.returncode})")
        peak = status_kb(server.pid, "VmHWM")
        print(f"server peak RSS (VmHWM): {mb(peak)} (goal < 100 MB)")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
