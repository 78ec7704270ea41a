#!/usr/bin/env bash
# Fuzzes the config file parser and the settings resolution for a bounded number of inputs and
# prints, per target, how many inputs ran and how many were refused (a crash fails the run).
#   scripts/fuzz-config.sh [CASES]   (default 20000 per target)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
PROPTEST_CASES="$cases" cargo test -p eidos-cli --bin eidos settings::fuzz -- --nocapture --test-threads 1 2>&1 |
    grep -oE 'fuzz [a-z ]+: .*|test result.*|panicked.*'
