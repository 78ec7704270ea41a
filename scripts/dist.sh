#!/usr/bin/env bash
# Builds a release tarball for an air-gapped install: the eidos binary, a chosen set of plugins,
# a lock file pinning exactly those plugins, SHA256SUMS, and INSTALL.md. Installing it needs no
# network.
#
# Usage: scripts/dist.sh [--plugins LIST] [--out DIR] [--no-build] [--build-dir DIR]
#   --plugins    comma-separated plugin files to ship, by kind_name (default: every collector and
#                serializer built in the workspace except the SDK's example collector),
#                e.g. collector_os,serializer_json
#   --out        where the tarball goes (default: dist/)
#   --no-build   use already-built files (with --build-dir, default target/release)
set -euo pipefail
cd "$(dirname "$0")/.."

plugins=""
out="dist"
build=1
build_dir="target/release"
while [ $# -gt 0 ]; do
  case "$1" in
    --plugins) plugins="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    *) echo "dist.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  cargo build --release --workspace --exclude eidos-e2e
fi
[ -x "$build_dir/eidos" ] || { echo "dist.sh: $build_dir/eidos is missing (build first, or drop --no-build)" >&2; exit 1; }

if [ -z "$plugins" ]; then
  plugins=$(cd "$build_dir" && ls libeidos_collector_*.so libeidos_serializer_*.so 2>/dev/null \
    | sed -e 's/^libeidos_//' -e 's/\.so$//' | grep -vx 'collector_example' | paste -sd, -)
fi
[ -n "$plugins" ] || { echo "dist.sh: no plugins found in $build_dir" >&2; exit 1; }

version=$("$build_dir/eidos" --version | awk '{print $2}')
name="eidos-${version}-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin/plugins"
install -m 0755 "$build_dir/eidos" "$root/bin/eidos"
IFS=',' read -ra wanted <<< "$plugins"
for p in "${wanted[@]}"; do
  file="$build_dir/libeidos_${p}.so"
  [ -f "$file" ] || { echo "dist.sh: plugin $p not found at $file" >&2; exit 1; }
  install -m 0755 "$file" "$root/bin/plugins/"
done
chmod 0755 "$root" "$root/bin" "$root/bin/plugins"

# The lock is written by the shipped eidos itself, from the shipped plugins only.
"$root/bin/eidos" --no-default-plugin-dirs --plugin-dir "$root/bin/plugins" plugins lock --output "$root/plugins.lock"
chmod 0644 "$root/plugins.lock"

cat > "$root/INSTALL.md" <<DOC
# Installing eidos ${version} (offline)

1. Check the files: \`sha256sum -c SHA256SUMS\` (run inside this folder).
2. Copy the folder where it will live, owned by root and writable only by root, e.g.
   \`sudo cp -r . /opt/eidos && sudo chown -R root:root /opt/eidos && sudo chmod -R go-w /opt/eidos\`.
   eidos refuses plugin files or folders that others can write.
3. Run it with the lock in force, so that only the plugins shipped here can load:
   \`EIDOS_PLUGIN_LOCK=/opt/eidos/plugins.lock /opt/eidos/bin/eidos snapshot\`
   or put \`plugin-lock = "/opt/eidos/plugins.lock"\` in \`~/.config/eidos/config.toml\`.
   The plugins in \`bin/plugins/\` are found next to the binary with no flags.
4. \`eidos plugins list\` shows each plugin as loaded; any other plugin file found on the search
   path is refused and listed with the reason.

Shipped plugins: ${plugins//,/, }.
DOC

(cd "$root" && find . -type f ! -name SHA256SUMS | sort | sed 's|^\./||' | xargs sha256sum > SHA256SUMS)
mkdir -p "$out"
tarball="$(cd "$out" && pwd)/${name}.tar.gz"
tar -C "$stage" -czf "$tarball" "$name"
echo "$tarball"
