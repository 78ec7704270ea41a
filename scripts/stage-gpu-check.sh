#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh needs and stages it in one folder, to be copied to a machine
# with an NVIDIA GPU and run there without a toolchain:
#
#   scripts/stage-gpu-check.sh DEST [--debug]
#
# DEST receives: eidos (release build unless --debug), libeidos_collector_gpu.so,
# libeidos_serializer_json.so, libeidos_serializer_yaml.so, gpu-check.sh, and nvml-phases (the
# collector's NVML phases timed in-process; gpu-check.sh prints them). Symbol tables the
# loader does not need are stripped when `strip` exists (the dynamic symbols the host looks up
# stay). Fails if the folder would exceed 60 MiB.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
    echo "usage: $0 DEST [--debug]" >&2
    exit 2
fi
dest=$1
profile=release
if [[ "${2:-}" == "--debug" ]]; then
    profile=debug
elif [[ $# -gt 1 ]]; then
    echo "$0: unknown argument $2 (expected --debug)" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
packages=(-p eidos-cli -p eidos-collector-gpu -p eidos-serializer-json -p eidos-serializer-yaml)
if [[ $profile == release ]]; then
    cargo build --release "${packages[@]}"
    cargo build --release -p eidos-collector-gpu --example nvml-phases
else
    cargo build "${packages[@]}"
    cargo build -p eidos-collector-gpu --example nvml-phases
fi
target=${CARGO_TARGET_DIR:-$root/target}/$profile

mkdir -p "$dest"
cp "$target/eidos" "$target/libeidos_collector_gpu.so" "$target/libeidos_serializer_json.so" \
    "$target/libeidos_serializer_yaml.so" "$dest/"
cp "$target/examples/nvml-phases" "$root/scripts/gpu-check.sh" "$dest/"
chmod +x "$dest/eidos" "$dest/gpu-check.sh" "$dest/nvml-phases"
if command -v strip >/dev/null 2>&1; then
    strip --strip-unneeded "$dest/eidos" "$dest/nvml-phases" "$dest"/*.so
fi

bytes=$(du -sb "$dest" | awk '{ print $1 }')
limit=$((60 * 1024 * 1024))
ls -l "$dest"
echo "staged $profile build in $dest: $((bytes / 1024)) KiB"
if [[ $bytes -gt $limit ]]; then
    echo "$0: $dest is over 60 MiB" >&2
    exit 1
fi
