#!/usr/bin/env bash
# Builds FerretDB v1.24.0 from the Go module proxy into a cache outside the repo,
# once, and prints the binary's path. Idempotent: a second run only prints the path.
#
# Why a copy: FerretDB's build embeds build/version/version.txt, which the module
# zip does not ship, and the module cache is read-only.
set -euo pipefail

version=v1.24.0
cache=${TIDELOG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidelog}
bin=$cache/ferretdb-$version/ferretdb

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/ferretdb-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Resolve the module through the proxy; GOFLAGS=-mod=mod lets `go mod download`
# run outside any module.
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "ferretdb.sh: could not download FerretDB $version" >&2; exit 1; }

cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$work/src/build/version"
printf '%s' "$version" >"$work/src/build/version/version.txt"

echo "ferretdb.sh: building FerretDB $version (one time, cached in $cache)" >&2
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$work/ferretdb" ./cmd/ferretdb)

mkdir -p "$(dirname "$bin")"
mv "$work/ferretdb" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
