#!/usr/bin/env bash
# Checks the gpu collector against nvidia-smi on a machine with an NVIDIA GPU, using only the
# prebuilt files that scripts/stage-gpu-check.sh put in one folder (eidos, the gpu collector, the
# json and yaml serializers, this script). Nothing is built here.
#
#   gpu-check.sh [STAGE_DIR]        (default: the folder this script is in)
#
# 1. Runs `eidos snapshot --collectors gpu --format json` with only STAGE_DIR's plugins.
# 2. Compares driver version, CUDA version, GPU count, and per GPU name, UUID, persistence mode
#    and MIG mode (current, pending) with `nvidia-smi --query-gpu=… --format=csv,noheader` and
#    `nvidia-smi -q -x`.
# 3. Times GPU_CHECK_RUNS (default 10) runs each of the eidos GPU snapshot and `nvidia-smi -q -x`
#    (after one untimed warm-up run of each) and prints the medians and their ratio; the goal is
#    eidos ≤ 1/10 of nvidia-smi.
#
# Exit status: 0 every compared field equal; 1 a mismatch or a failure; 2 no NVIDIA GPU here
# (nvidia-smi missing or failing, and eidos correctly reports gpu as not-applicable): nothing was
# compared, so this is not a pass.
#
# JSON is read with python3 when present; otherwise eidos is asked for YAML, read with awk.
# For testing the script itself: GPU_CHECK_NVML=PATH passes --set gpu.nvml=PATH to eidos, and
# GPU_CHECK_NO_PYTHON=1 forces the awk reader.
set -uo pipefail

stage=${1:-$(dirname "${BASH_SOURCE[0]}")}
if ! stage=$(cd "$stage" 2>/dev/null && pwd); then
    echo "gpu-check: stage folder ${1:-} does not exist" >&2
    exit 1
fi
eidos="$stage/eidos"
runs=${GPU_CHECK_RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in eidos libeidos_collector_gpu.so libeidos_serializer_json.so libeidos_serializer_yaml.so; do
    if [[ ! -f "$stage/$f" ]]; then
        echo "gpu-check: $stage/$f is missing (stage with scripts/stage-gpu-check.sh)" >&2
        exit 1
    fi
done

extra=()
if [[ -n "${GPU_CHECK_NVML:-}" ]]; then
    extra=(--set "gpu.nvml=$GPU_CHECK_NVML")
fi

# The eidos GPU snapshot, with only the staged plugins.
eidos_gpu() {
    "$eidos" --no-default-plugin-dirs --plugin-dir "$stage" snapshot --collectors gpu \
        --timeout 60s "${extra[@]}" "$@"
}

have_python() {
    [[ -z "${GPU_CHECK_NO_PYTHON:-}" ]] && command -v python3 >/dev/null 2>&1
}

# Flattens a snapshot into tab-separated lines: `meta<TAB>status|reason|warning|duration-ms<TAB>v`
# for the gpu collector's report, and `SUBTYPE<TAB>KEY<TAB>VALUE` for the gpu measurement.
flatten_json() {
    python3 - "$1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
report = doc.get("metadata", {}).get("collectors", {}).get("gpu", {})
def out(*fields):
    print("\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields))
out("meta", "status", report.get("status", ""))
out("meta", "reason", report.get("reason") or "")
out("meta", "duration-ms", report.get("duration-ms", ""))
for w in report.get("warnings", []):
    out("meta", "warning", w)
for m in doc.get("measurements", []):
    if str(m.get("type", "")).lower() != "gpu":
        continue
    for s in m.get("subtypes", []):
        for k, v in s.get("data", {}).items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            out(s.get("subtype", ""), k, v)
PY
}

flatten_yaml() {
    awk '
    function unquote(v) {
        if (v ~ /^\x27.*\x27$/) { v = substr(v, 2, length(v) - 2); gsub(/\x27\x27/, "\x27", v) }
        else if (v ~ /^".*"$/) { v = substr(v, 2, length(v) - 2) }
        return v
    }
    function rest(line,   i) { i = index(line, ": "); return i ? substr(line, i + 2) : "" }
    /^metadata:/     { sec = "meta"; next }
    /^measurements:/ { sec = "meas"; next }
    /^[^ -]/         { sec = ""; next }
    sec == "meta" && /^    gpu:$/ { ingpu = 1; next }
    sec == "meta" && /^    [^ ]/  { ingpu = 0 }
    sec == "meta" && ingpu && /^      status: /      { print "meta\tstatus\t" unquote(rest($0)) }
    sec == "meta" && ingpu && /^      reason: /      { print "meta\treason\t" unquote(rest($0)) }
    sec == "meta" && ingpu && /^      duration-ms: / { print "meta\tduration-ms\t" rest($0) }
    sec == "meta" && ingpu && /^      - /            { print "meta\twarning\t" unquote(substr($0, 9)) }
    sec == "meas" && /^- type: /      { type = tolower(rest($0)); next }
    sec == "meas" && /^  - subtype: / { sub_ = unquote(rest($0)); next }
    sec == "meas" && type == "gpu" && /^      [^ ]/ {
        line = substr($0, 7); i = index(line, ": ")
        if (i) print sub_ "\t" substr(line, 1, i - 1) "\t" unquote(substr(line, i + 2))
    }
    ' "$1"
}

# Writes the flattened eidos GPU snapshot to $work/eidos.tsv.
snapshot_flat() {
    if have_python; then
        eidos_gpu --format json >"$work/eidos.out" 2>"$work/eidos.err" || return 1
        flatten_json "$work/eidos.out" >"$work/eidos.tsv"
    else
        eidos_gpu --format yaml >"$work/eidos.out" 2>"$work/eidos.err" || return 1
        flatten_yaml "$work/eidos.out" >"$work/eidos.tsv"
    fi
}

# get SUBTYPE KEY: the value eidos wrote (first match), empty when absent.
get() {
    awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3; exit }' "$work/eidos.tsv"
}

failures=0
check() { # LABEL NVIDIA_SMI_VALUE EIDOS_VALUE
    if [[ "$2" == "$3" ]]; then
        printf '  ok    %-32s %s\n' "$1" "${2:-(not supported)}"
    else
        printf '  FAIL  %-32s nvidia-smi: %s   eidos: %s\n' "$1" "${2:-(not supported)}" "${3:-(absent)}"
        failures=$((failures + 1))
    fi
}

echo "== gpu-check: staged files in $stage"
find -L "$stage" -maxdepth 1 -type f -printf '  %10s  %f\n' | sort -k 2
du -shL "$stage" | awk '{ print "  total " $1 }'
echo "  eidos: $("$eidos" --version 2>&1)"
echo "  reader: $(have_python && echo 'python3 (json)' || echo 'awk (yaml)')"

if ! snapshot_flat; then
    echo "gpu-check: eidos snapshot failed:" >&2
    cat "$work/eidos.err" >&2
    exit 1
fi
status=$(awk -F'\t' '$1 == "meta" && $2 == "status" { print $3 }' "$work/eidos.tsv")
reason=$(awk -F'\t' '$1 == "meta" && $2 == "reason" { print $3 }' "$work/eidos.tsv")

# No GPU: nvidia-smi missing or unable to talk to a driver. Then eidos must say not-applicable.
smi_ok=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >"$work/smi-L.txt" 2>&1; then
    smi_ok=1
fi
if [[ $smi_ok == 0 ]]; then
    echo "== no usable nvidia-smi here ($(command -v nvidia-smi || echo 'not installed'))"
    if [[ "$status" == "not-applicable" ]]; then
        echo "  ok    eidos reports gpu not-applicable: $reason"
        echo "gpu-check: NOT RUN: no NVIDIA GPU on this machine; nothing compared (exit 2)"
        exit 2
    fi
    echo "  FAIL  eidos reports gpu as '$status' ($reason) although nvidia-smi cannot see a GPU"
    exit 1
fi

echo "== nvidia-smi: $(head -n 1 "$work/smi-L.txt")"
if [[ "$status" != "ok" ]]; then
    echo "  FAIL  eidos gpu status is '$status': $reason"
    cat "$work/eidos.err" >&2
    exit 1
fi
awk -F'\t' '$1 == "meta" && $2 == "warning" { print "  eidos warning: " $3 }' "$work/eidos.tsv"

fields=index,name,uuid,driver_version,persistence_mode,mig.mode.current,mig.mode.pending
if ! nvidia-smi --query-gpu="$fields" --format=csv,noheader >"$work/smi.csv" 2>"$work/smi.err"; then
    echo "gpu-check: nvidia-smi --query-gpu failed:" >&2
    cat "$work/smi.err" "$work/smi.csv" >&2
    exit 1
fi
if ! nvidia-smi -q -x >"$work/smi.xml" 2>"$work/smi.err"; then
    echo "gpu-check: nvidia-smi -q -x failed:" >&2
    cat "$work/smi.err" >&2
    exit 1
fi
xml_value() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" "$work/smi.xml" | head -n 1; }
# nvidia-smi writes "[N/A]" / "N/A" for what the GPU does not support; eidos leaves those out.
na_to_empty() { case "$1" in "[N/A]" | "N/A" | "[Not Supported]") echo "" ;; *) echo "$1" ;; esac; }

echo "== comparison (nvidia-smi vs eidos)"
check "driver" "$(xml_value driver_version)" "$(get smi driver)"
check "cuda-version" "$(xml_value cuda_version)" "$(get smi cuda-version)"
check "gpu-count (nvidia-smi -q -x)" "$(xml_value attached_gpus)" "$(get smi gpu-count)"
check "gpu-count (--query-gpu rows)" "$(grep -c . "$work/smi.csv")" "$(get smi gpu-count)"

while IFS= read -r row; do
    IFS=',' read -r idx name uuid driver persistence mig_current mig_pending <<<"$row"
    trim() { local v="$1"; v="${v#"${v%%[![:space:]]*}"}"; echo "${v%"${v##*[![:space:]]}"}"; }
    idx=$(trim "$idx")
    sub="gpu-$idx"
    check "$sub model" "$(trim "$name")" "$(get "$sub" model)"
    check "$sub uuid" "$(trim "$uuid")" "$(get "$sub" uuid)"
    check "$sub driver" "$(trim "$driver")" "$(get smi driver)"
    check "$sub persistence-mode" "$(na_to_empty "$(trim "$persistence")")" "$(get "$sub" persistence-mode)"
    check "$sub mig-mode.current" "$(na_to_empty "$(trim "$mig_current")")" "$(get "$sub" mig-mode.current)"
    check "$sub mig-mode.pending" "$(na_to_empty "$(trim "$mig_pending")")" "$(get "$sub" mig-mode.pending)"
done <"$work/smi.csv"

echo "== eidos summary subtype (smi)"
awk -F'\t' '$1 == "smi" { printf "  %-28s %s\n", $2, $3 }' "$work/eidos.tsv"
echo "  keys per GPU (gpu-0): $(awk -F'\t' '$1 == "gpu-0"' "$work/eidos.tsv" | wc -l)"

# Times RUNS runs of a command (after one untimed warm-up); prints the median in milliseconds.
median_ms() {
    local name=$1
    shift
    "$@" >/dev/null 2>&1
    : >"$work/$name.times"
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        if ! "$@" >/dev/null 2>"$work/$name.run.err"; then
            echo "gpu-check: a timed run of $name failed:" >&2
            cat "$work/$name.run.err" >&2
            return 1
        fi
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000)) >>"$work/$name.times"
    done
    sort -n "$work/$name.times" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f\n", m / 1000 }'
}

echo "== timing: $runs runs each after one warm-up (wall clock per process)"
if ! eidos_ms=$(median_ms eidos eidos_gpu --format json); then exit 1; fi
if ! smi_ms=$(median_ms smi nvidia-smi -q -x); then exit 1; fi
# The host's own cost: the same command with gpu pointed at no library (not applicable).
no_nvml="$work/no-such-dir/libnvidia-ml.so.1"
if ! host_ms=$(median_ms host "$eidos" --no-default-plugin-dirs --plugin-dir "$stage" snapshot \
    --collectors gpu --format json --set "gpu.nvml=$no_nvml"); then exit 1; fi
ratio=$(awk -v a="$eidos_ms" -v b="$smi_ms" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')
echo "  eidos snapshot --collectors gpu --format json   median ${eidos_ms} ms"
echo "  nvidia-smi -q -x                                 median ${smi_ms} ms"
echo "  ratio eidos / nvidia-smi                         ${ratio}"
echo "  eidos without NVML (gpu not applicable)          median ${host_ms} ms"
echo "  eidos gpu collector time inside eidos (last run) $(awk -F'\t' '$1 == "meta" && $2 == "duration-ms" { print $3 " ms" }' "$work/eidos.tsv")"
if awk -v r="$ratio" 'BEGIN { exit !(r <= 0.1) }'; then
    echo "  goal (ratio <= 0.100): met"
else
    echo "  goal (ratio <= 0.100): NOT met"
fi

# Where the collector's time goes (nvml-phases, staged when built), for information.
if [[ -x "$stage/nvml-phases" && -z "${GPU_CHECK_NVML:-}" ]]; then
    echo "== NVML phases in-process"
    "$stage/nvml-phases" libnvidia-ml.so.1 "$runs" 2>&1 | sed 's/^/  /'
fi

if [[ $failures -gt 0 ]]; then
    echo "gpu-check: FAILED: $failures field(s) differ"
    exit 1
fi
echo "gpu-check: PASSED: every compared field equal"
exit 0
