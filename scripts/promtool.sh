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
. "$(dirname "$0")/cachedbuild.sh"

version=${PROMTOOL_VERSION:-v0.313.5} # Prometheus 3.13.5 (its Go module is versioned v0.3XX)
cached_begin promtool "$version"
module_copy github.com/prometheus/prometheus "$version"

echo "promtool.sh: building promtool $version (one time, a minute or two, cached in $cache)" >&2
(cd "$work/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/promtool" ./cmd/promtool)

cached_install "$work/promtool"
