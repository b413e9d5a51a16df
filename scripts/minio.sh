#!/usr/bin/env bash
# Builds the MinIO server from the Go module proxy into a cache outside the repo,
# once, and prints the binary's path. Idempotent: a second run only prints the path.
# The S3 store's tests (store/s3store) run against it; the build takes a few minutes.
#
# Why a pseudo-version: MinIO tags its releases RELEASE.<date>, which are not
# semantic versions, so the proxy serves its commits only as v0.0.0-<time>-<commit>.
# Why a copy: the module cache is read-only, and building in a copy of the module
# uses MinIO's own go.mod and go.sum unchanged.
set -euo pipefail
. "$(dirname "$0")/cachedbuild.sh"

version=v0.0.0-20260212201848-7aac2a2c5b7c
cached_begin minio "$version"
module_copy github.com/minio/minio "$version"

# The version MinIO reports (and logs at start), taken from the pseudo-version:
# its time as MinIO's RFC 3339 Version and release tag, its commit as the commit ID.
stamp=${version#v0.0.0-}
stamp=${stamp%%-*}
commit=${version##*-}
rfc3339="${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:8:2}:${stamp:10:2}:${stamp:12:2}Z"
tag="DEVELOPMENT.${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:8:2}-${stamp:10:2}-${stamp:12:2}Z"
pkg=github.com/minio/minio/cmd
ldflags="-s -w -X $pkg.Version=$rfc3339 -X $pkg.ReleaseTag=$tag -X $pkg.CommitID=$commit -X $pkg.ShortCommitID=$commit -X $pkg.CopyrightYear=${stamp:0:4}"

echo "minio.sh: building MinIO $version (one time, a few minutes, cached in $cache)" >&2
(cd "$work/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -tags kqueue -ldflags "$ldflags" -o "$work/minio" .)

cached_install "$work/minio"
