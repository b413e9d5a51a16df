#!/usr/bin/env bash
# Builds Prometheus's promtool from the Go module proxy into a cache outside the
# repo, once, and prints the binary's path. Idempotent: a second run only prints
# the path. deploy/'s tests check the alert rules with it (promtool check rules).
#
# Why a copy and not `go install pkg@version`: Prometheus's go.mod has replace
# directives, which go install refuses; building in a copy of the module uses
# its own go.mod and go.sum unchanged (GOWORK=off: the module ships a go.work), and nothing enters
# tidelog's go.mod.
set -euo pipefail

version=${PROMTOOL_VERSION:-v0.313.5} # Prometheus 3.13.5 (its Go module is versioned v0.3XX)
cache=${TIDELOG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidelog}
bin=$cache/promtool-$version/promtool

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# Test binaries of several packages may ask at once: one builds, the others
# wait for it and then find the binary.
exec 9>"$cache/promtool-$version.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

work=$(mktemp -d "$cache/promtool-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Resolve the module through the proxy; GOFLAGS=-mod=mod lets `go mod download`
# run outside any module.
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/prometheus@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "promtool.sh: could not download Prometheus $version" >&2; exit 1; }

cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"

echo "promtool.sh: building promtool $version (one time, a minute or two, cached in $cache)" >&2
(cd "$work/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/promtool" ./cmd/promtool)

mkdir -p "$(dirname "$bin")"
mv "$work/promtool" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
