#!/usr/bin/env bash
# The whole test suite, the way the README and CI run it: installs what the tests need when it is
# missing, then checks formatting and lints, builds every crate and runs every test.
#
# Needs root: apt-get installs the system packages, and the systemd tests run a real systemd and
# D-Bus in private namespaces (unshare/nsenter).
#
# What the tests need beyond cargo, one entry a line: "package|shell test that it is there".
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A one-shot build gains nothing from incremental caches, and they took a quarter of a fresh
# clone's 10 GB target directory.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Debian packages.
apt_packages=(
  # promtool lints the server's /metrics.
  "prometheus|command -v promtool"
  # The systemd collector's tests run a real systemd user manager...
  "systemd|[ -x /lib/systemd/systemd ] && command -v systemctl && command -v busctl"
  # ...on a real D-Bus...
  "dbus-daemon|command -v dbus-daemon"
  # ...in private namespaces.
  "util-linux|command -v unshare && command -v nsenter"
)

# PyPI packages, pinned.
pip_packages=(
  # Checks the served OpenAPI document against the running server.
  "schemathesis==4.32.5|command -v schemathesis"
  # Reads `eidos validate --format junit` back as a real JUnit consumer.
  "junitparser==5.0.3|python3 -c 'import junitparser'"
  # Validates `eidos agent manifests` offline against the Kubernetes schemas it bundles.
  "kubernetes-validate==1.37.0|command -v kubernetes-validate"
  # Applies `eidos diff --format json-patch` output as an independent RFC 6902 implementation.
  "jsonpatch==1.33|python3 -c 'import jsonpatch'"
)

# Prints the package of each entry whose test fails.
missing() {
  local entry
  for entry in "$@"; do
    bash -c "${entry#*|}" >/dev/null 2>&1 || echo "${entry%%|*}"
  done
}

mapfile -t apt_missing < <(missing "${apt_packages[@]}")
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

mapfile -t pip_missing < <(missing "${pip_packages[@]}")
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${pip_missing[*]}"
  # A Debian-managed Python refuses plain installs (PEP 668); the suite owns this machine.
  python3 -m pip install -q --disable-pip-version-check "${pip_missing[@]}" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "${pip_missing[@]}"
  if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

set -x
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The end-to-end tests run the built binary and plugins.
cargo build --workspace
# Last, so that its summary lines close the output.
cargo test --workspace
