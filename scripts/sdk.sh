#!/usr/bin/env bash
# Builds the plugin SDK archive: everything a vendor needs to build an eidos collector plugin on a
# machine without network access.
#
#   eidos-plugin-sdk-API/
#     eidos-plugin-api/          the crate exactly as `cargo package` makes it (builds on its own)
#     collector-example/         the guide's example collector as a standalone crate using it
#     vendor/                    every crate those depend on (`cargo vendor`), checksummed
#     .cargo/config.toml         makes cargo take crates from vendor/ instead of crates.io
#     docs/                      the plugin guide and the compatibility policy
#     README.md
#
# Usage: scripts/sdk.sh [--out DIR]     (default dist/; prints the archive's path)
# It runs cargo offline: the dependencies must be in cargo's cache (any build of the workspace puts
# them there).
set -euo pipefail
cd "$(dirname "$0")/.."

out="dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    *) echo "sdk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

cargo=${CARGO:-cargo}
api_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' plugin-api/Cargo.toml | head -n 1)
rust_version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$api_version" ] && [ -n "$rust_version" ] || {
  echo "sdk.sh: cannot read the plugin API version or rust-version" >&2; exit 1; }
api_minor=${api_version%.*}
name="eidos-plugin-sdk-${api_version}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/docs" "$root/.cargo"

# The crate as a registry would serve it: workspace inheritance resolved, nothing from the checkout
# but its own files. Whether it builds on its own is checked by tests/tests/sdk.rs.
package_dir="$stage/package-target"
"$cargo" package -p eidos-plugin-api --offline --allow-dirty --no-verify \
  --target-dir "$package_dir" >&2
tar -xzf "$package_dir/package/eidos-plugin-api-${api_version}.crate" -C "$root"
mv "$root/eidos-plugin-api-${api_version}" "$root/eidos-plugin-api"

# The example collector, as a vendor's own crate would look (no workspace of ours around it).
mkdir -p "$root/collector-example"
cp -R plugins/collector-example/src "$root/collector-example/src"
cat > "$root/collector-example/Cargo.toml" <<TOML
[package]
name = "eidos-collector-example"
version = "0.1.0"
edition = "2021"
rust-version = "${rust_version}"
license = "Apache-2.0"
publish = false
description = "The example eidos collector from docs/plugin-development.md: load average and uptime"

[lib]
# cdylib: the shared library eidos loads. rlib: lets the tests call the collector directly.
crate-type = ["cdylib", "rlib"]

[dependencies]
eidos-plugin-api = { path = "../eidos-plugin-api", version = "${api_minor}" }

[dev-dependencies]
eidos-plugin-api = { path = "../eidos-plugin-api", version = "${api_minor}", features = ["test-support"] }
tempfile = "3"

# Panics must unwind so that eidos can catch them. Never set panic = "abort".
[profile.release]
panic = "unwind"

# Its own workspace, wherever the SDK is unpacked.
[workspace]
TOML

# Every dependency, vendored, with the configuration that makes cargo use them.
(cd "$root/collector-example" && "$cargo" generate-lockfile --offline >&2)
(cd "$root/collector-example" && "$cargo" vendor --offline --locked "$root/vendor" >/dev/null)
cat > "$root/.cargo/config.toml" <<'TOML'
# Crates come from vendor/ (relative to the directory holding .cargo/), never from the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
TOML

cp docs/plugin-development.md docs/plugin-api-compatibility.md "$root/docs/"
cat > "$root/README.md" <<DOC
# eidos plugin SDK (plugin API ${api_version})

Builds eidos collector plugins without network access. You need Rust ${rust_version} or later.

    cd collector-example
    cargo build --release --offline
    ls target/release/libeidos_collector_example.so

Start your own plugin as a copy of \`collector-example/\` beside it (so that \`../eidos-plugin-api\`
and this directory's \`.cargo/config.toml\` apply), and follow \`docs/plugin-development.md\`. A
dependency that is not in \`vendor/\` cannot be fetched here: add it on a connected machine with
\`cargo vendor\`.
DOC

mkdir -p "$out"
archive="$(cd "$out" && pwd)/${name}.tar.gz"
tar -C "$stage" -czf "$archive" "$name"
echo "$archive"
