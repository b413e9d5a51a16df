#!/usr/bin/env bash
# Builds FerretDB v1.24.0 from the Go module proxy into a cache outside the repo,
# once, and prints the binary's path. Idempotent: a second run only prints the path.
#
# Why a copy: FerretDB's build embeds build/version/version.txt, which the module
# zip does not ship, and the module cache is read-only.
set -euo pipefail
. "$(dirname "$0")/cachedbuild.sh"

version=v1.24.0
cached_begin ferretdb "$version"
module_copy github.com/FerretDB/FerretDB "$version"
mkdir -p "$work/src/build/version"
printf '%s' "$version" >"$work/src/build/version/version.txt"

echo "ferretdb.sh: building FerretDB $version (one time, cached in $cache)" >&2
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$work/ferretdb" ./cmd/ferretdb)
cached_install "$work/ferretdb"
