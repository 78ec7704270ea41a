#!/usr/bin/env python3
"""Generates a fleet of node snapshots for benchmarking `eidos fleet report`.

Usage: scripts/fleet-gen.py --nodes N --out DIR [--base SNAPSHOT.yaml|json ...] [--seed S]

Every node starts from one base document: the repository's reference snapshot
(tests/fixtures/snapshots/h100-eks-go.yaml, systemd, OS, Kubernetes and GPU readings), with the
`os` readings of each further --base snapshot (e.g. this machine's `eidos snapshot -f json`) merged
over it, and per-GPU and Kubernetes node subtypes shaped like eidos's collectors write them. Then
each node gets what differs between real identical nodes: its name and host name, GPU UUIDs and
serials, snapshot times and durations, systemd PIDs, timestamps and usage counters, and the os
collector's counter sysctls (all declared volatile by the collectors, or node identity).

A few outliers are planted on nodes chosen at random (seeded): a hand-set sysctl, an older GPU
driver, a kernel module not loaded, a lowered file limit on containerd, a GPU collector that
failed. What a correct report must find, and nothing else, is written to DIR/../NAME.expected.json
(outside DIR, so that the report does not read it).

Writes YAML, as `eidos snapshot` does by default, or JSON (--format json). Needs PyYAML to read the
reference and to write YAML.
"""
import argparse
import copy
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tests", "fixtures", "snapshots", "h100-eks-go.yaml")


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        return json.loads(text)
    try:
        import yaml  # type: ignore
    except ImportError:
        sys.exit(f"{path}: reading YAML needs PyYAML (pip install pyyaml), or pass a JSON snapshot")
    return yaml.safe_load(text)


def measurement(doc, kind):
    for m in doc["measurements"]:
        if m["type"].lower() == kind:
            return m
    m = {"type": kind, "subtypes": []}
    doc["measurements"].append(m)
    return m


def subtype(doc, kind, name):
    m = measurement(doc, kind)
    for s in m["subtypes"]:
        if s["subtype"] == name:
            return s["data"]
    s = {"subtype": name, "data": {}}
    m["subtypes"].append(s)
    return s["data"]


def base_document(extra_bases):
    doc = load(REFERENCE)
    for path in extra_bases:
        other = load(path)
        for m in other.get("measurements", []):
            if m["type"].lower() != "os":
                continue
            for s in m["subtypes"]:
                subtype(doc, "os", s["subtype"]).update(s["data"])
    smi = subtype(doc, "gpu", "smi")
    for g in range(int(smi.get("gpu-count", 8))):
        data = subtype(doc, "gpu", f"gpu-{g}")
        data.update({
            "index": g,
            "model": smi.get("gpu.model", "NVIDIA H100 80GB HBM3"),
            "pci-bus-id": f"00000000:{0x18 + g * 0x10:02X}:00.0",
            "vbios-version": smi.get("gpu.vbios-version", "96.00.74.00.1C"),
            "persistence-mode": "Enabled",
            "compute-mode": "Default",
            "memory-total-mib": 81559,
            "power-limit-watts": 700.0,
            "uuid": "",
            "serial": "",
        })
    node = subtype(doc, "k8s", "node")
    node.update({
        "name": "",
        "kubeletVersion": "v1.30.14-eks-3025e55",
        "containerRuntimeVersion": "containerd://1.7.27",
        "osImage": "Ubuntu 22.04.5 LTS",
        "architecture": "amd64",
        "allocatable.nvidia.com/gpu": "8",
    })
    doc["metadata"] = {
        "collectors": {
            name: {"status": "ok", "duration-ms": 1.0, "plugin-version": "0.1.0"}
            for name in ("gpu", "k8s", "os", "systemd")
        },
        "complete": True,
        "measurement-timestamp": "",
        "snapshot-version": "0.1.0",
        "source-node": "",
    }
    return doc


def vary(doc, i, rng):
    """What differs between identical nodes: identity and volatile readings."""
    name = f"gpu-node-{i:05d}"
    doc["metadata"]["source-node"] = name
    doc["metadata"]["measurement-timestamp"] = f"2026-03-11T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z"
    for c in doc["metadata"]["collectors"].values():
        c["duration-ms"] = round(rng.uniform(0.5, 900.0), 3)
    sysctl = subtype(doc, "os", "sysctl")
    sysctl["/proc/sys/kernel/hostname"] = name
    sysctl["/proc/sys/fs/file-nr"] = f"{rng.randint(1000, 90000)}\t0\t9223372036854775807"
    sysctl["/proc/sys/fs/inode-nr"] = f"{rng.randint(10**5, 10**6)}\t{rng.randint(0, 5000)}"
    sysctl["/proc/sys/fs/dentry-state"] = f"{rng.randint(10**5, 10**6)}\t{rng.randint(10**5, 10**6)}\t45\t0\t{rng.randint(0, 10**5)}\t0"
    sysctl["/proc/sys/kernel/ns_last_pid"] = str(rng.randint(300, 4_000_000))
    sysctl["/proc/sys/kernel/random/uuid"] = "%08x-%04x-4%03x-a%03x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))
    sysctl["/proc/sys/kernel/random/boot_id"] = "%032x" % rng.getrandbits(128)
    sysctl["/proc/sys/kernel/random/entropy_avail"] = str(rng.randint(200, 4096))
    boot = 1_773_232_700_000_000 + rng.randint(0, 10**11)
    for m in doc["measurements"]:
        if m["type"].lower() != "systemd":
            continue
        for s in m["subtypes"]:
            d = s["data"]
            pid = rng.randint(300, 90000)
            for key in list(d):
                if key.endswith("TimestampMonotonic") and d[key]:
                    d[key] = rng.randint(10**7, 10**9)
                elif key.endswith("Timestamp") and d[key]:
                    d[key] = boot + rng.randint(0, 10**8)
            for key in ("MainPID", "ExecMainPID"):
                if key in d and d[key] != "0":
                    d[key] = str(pid)
            for key in ("MemoryCurrent", "CPUUsageNSec", "TasksCurrent"):
                if isinstance(d.get(key), int) and d[key] < 2**63:
                    d[key] = rng.randint(1, 10**12)
            if "InvocationID" in d:
                d["InvocationID"] = "[" + " ".join(str(rng.randint(0, 255)) for _ in range(16)) + "]"
            if "ExecStart" in d:
                d["ExecStart"] = d["ExecStart"].replace("1342", str(pid))
    smi = subtype(doc, "gpu", "smi")
    for g in range(int(smi.get("gpu-count", 8))):
        gpu = subtype(doc, "gpu", f"gpu-{g}")
        gpu["uuid"] = "GPU-%08x-%04x-%04x-%04x-%012x" % (
            rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48))
        gpu["serial"] = str(1650000000000 + i * 8 + g)
    subtype(doc, "k8s", "node")["name"] = name
    return name


def plan(nodes, rng):
    """Chooses distinct random nodes for the outliers: node index -> what to plant there."""
    chosen = rng.sample(range(nodes), min(nodes, 12))
    kinds = ["swappiness"] * 3 + ["driver"] * 5 + ["kmod"] * 2 + ["nofile", "gpu-failed"]
    return dict(zip(chosen, kinds))


def plant(doc, kind):
    if kind == "swappiness":
        subtype(doc, "os", "sysctl")["/proc/sys/vm/swappiness"] = "1"
    elif kind == "driver":
        subtype(doc, "gpu", "smi")["driver"] = "550.54.15"
    elif kind == "kmod":
        del subtype(doc, "os", "kmod")["br_netfilter"]
    elif kind == "nofile":
        subtype(doc, "systemd", "containerd.service")["LimitNOFILE"] = 1024
    elif kind == "gpu-failed":
        doc["measurements"] = [m for m in doc["measurements"] if m["type"].lower() != "gpu"]
        doc["metadata"]["collectors"]["gpu"] = {
            "status": "failed", "reason": "NVML: Unknown Error", "duration-ms": 4.2, "plugin-version": "0.1.0"}
        doc["metadata"]["complete"] = False


def expected_report(plants, names):
    """What a correct report finds: each planted value and its nodes, and nothing else."""
    nodes = lambda kind: sorted(names[i] for i, k in plants.items() if k == kind)
    return {
        "keys": {
            "os/sysctl//proc/sys/vm/swappiness": {"value": "1", "nodes": nodes("swappiness")},
            "gpu/smi/driver": {"value": "550.54.15", "nodes": nodes("driver")},
            "os/kmod/br_netfilter": {"value": None, "nodes": nodes("kmod")},
            "systemd/containerd.service/LimitNOFILE": {"value": 1024, "nodes": nodes("nofile")},
        },
        "collectors": {"gpu": {"value": "failed", "nodes": nodes("gpu-failed")}},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--base", action="append", default=[], help="a real snapshot whose os readings join the base")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml",
                        help="how the snapshots are written (eidos snapshot writes YAML by default)")
    args = parser.parse_args()
    if args.format == "json":
        dump = lambda d: json.dumps(d, indent=2) + "\n"
    else:
        try:
            import yaml  # type: ignore
        except ImportError:
            sys.exit("writing YAML needs PyYAML (pip install pyyaml), or use --format json")
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        dump = lambda d: yaml.dump(d, Dumper=dumper, sort_keys=False, allow_unicode=True, width=10**6)
    rng = random.Random(args.seed)
    base = base_document(args.base)
    plants = plan(args.nodes, rng)
    os.makedirs(args.out, exist_ok=True)
    names, total = [], 0
    for i in range(args.nodes):
        doc = copy.deepcopy(base)
        names.append(vary(doc, i, rng))
        if i in plants:
            plant(doc, plants[i])
        text = dump(doc)
        total += len(text)
        with open(os.path.join(args.out, f"{names[-1]}.{args.format}"), "w", encoding="utf-8") as f:
            f.write(text)
    out = os.path.abspath(args.out).rstrip("/")
    with open(out + ".expected.json", "w", encoding="utf-8") as f:
        json.dump(expected_report(plants, names), f, indent=2)
    readings = sum(len(s["data"]) for m in base["measurements"] for s in m["subtypes"])
    print(f"{args.nodes} snapshots in {args.out}: {readings} readings each, {total / args.nodes / 1024:.0f} KiB on average; expected outliers in {out}.expected.json")


if __name__ == "__main__":
    main()
