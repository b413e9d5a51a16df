#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries are present: the benchmarks
# (and one harness test) back FerretDB with PostgreSQL. Idempotent.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
echo "postgres.sh: installing Debian's postgresql package" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
