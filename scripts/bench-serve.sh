#!/usr/bin/env bash
# Issue-4 benchmark: `eidos serve` under wrk on loopback (rate limit disabled, 2 threads,
# 64 connections, 10 s per run): req/s and p99 latency of a recipe query and of /health on the
# same server, then the server's peak RSS. Each URL is measured ROUNDS times (default 3) and the
# median is printed. Request logs go to /dev/null at the default level (info), as in production;
# LOGS=off measures without them. Prints figures; never fails on slowness.
#
# Needs: wrk (Debian package `wrk`), python3 (or BENCH_PORT), a Linux /proc. Usage: scripts/bench-serve.sh
# Options (environment): ROUNDS, DURATION, LOGS=off, CPUS=0,1 (pin server and wrk to those CPUs
# with taskset), EIDOS_BIN=path (skip the build and use that binary), WRK=path.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
wrk_bin="${WRK:-wrk}"
command -v "$wrk_bin" >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
pin=()
if [[ -n "${CPUS:-}" ]]; then pin=(taskset -c "$CPUS"); fi
run_wrk() { "${pin[@]}" "$wrk_bin" "$@"; }

eidos="${EIDOS_BIN:-}"
if [[ -z "$eidos" ]]; then
  cargo build --release -q -p eidos-cli
  eidos=target/release/eidos
fi
port="${BENCH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:${port}"
if [[ "${LOGS:-on}" == off ]]; then export RUST_LOG=warn; fi
"${pin[@]}" "$eidos" serve --addr "127.0.0.1:${port}" --rate-limit 0 2>/dev/null &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
# GET /ready with bash's /dev/tcp (no HTTP client needed); true on 200.
ready() {
  { exec 3<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || return 1
  printf 'GET /ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3
  local status
  read -r _ status _ <&3 || true
  exec 3<&-
  [[ "$status" == 200 ]]
}
for _ in $(seq 100); do
  ready && break
  sleep 0.05
done
ready || { echo "eidos serve did not become ready" >&2; exit 1; }

# wrk's "99%" latency in milliseconds.
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }'; }
median() { sort -g | awk '{ a[NR]=$1 } END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }

bench() {
  local name="$1" url="$2" rps=() p99=()
  run_wrk -t2 -c64 -d2s "$url" >/dev/null # warm-up
  for _ in $(seq "$rounds"); do
    out=$(run_wrk -t2 -c64 -d"$duration" --latency "$url")
    rps+=("$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")")
    p99+=("$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)")
    if grep -q "Non-2xx" <<<"$out"; then echo "warning: non-2xx answers for $url" >&2; fi
  done
  printf '%-40s req/s median %10.0f  (runs: %s)\n' "$name" "$(printf '%s\n' "${rps[@]}" | median)" "${rps[*]}"
  printf '%-40s p99 ms median %8.3f  (runs: %s)\n' "$name" "$(printf '%s\n' "${p99[@]}" | median)" "${p99[*]}"
  eval "${3}=$(printf '%s\n' "${rps[@]}" | median)"
}

echo "eidos serve on ${base}; wrk -t2 -c64 -d${duration}; ${rounds} rounds; logs ${LOGS:-on}; $(nproc) CPUs; pinned to: ${CPUS:-none}"
bench "/v1/recipe?os=ubuntu&gpu=h100&service=eks" "${base}/v1/recipe?os=ubuntu&gpu=h100&service=eks" recipe_rps
bench "/health" "${base}/health" health_rps
awk -v r="$recipe_rps" -v h="$health_rps" 'BEGIN { printf "recipe/health throughput ratio: %.2f (goal >= 0.5)\n", r/h }'
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/${server}/status")
awk -v k="$hwm_kb" 'BEGIN { printf "server peak RSS (VmHWM): %.1f MB (goal <= 30 MB)\n", k/1024 }'
