#!/usr/bin/env bash
# Runs every test, the server-backed ones included, then every fuzz target
# for a short while (scripts/fuzz.sh; FUZZTIME per target, default 10s, 0
# skips them), and ends with one summary line counting both:
# "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/ferretdb.sh >/dev/null || { echo "tests: 0 passed, 1 failed (could not build FerretDB)"; exit 1; }
scripts/minio.sh >/dev/null || { echo "tests: 0 passed, 1 failed (could not build MinIO)"; exit 1; }
scripts/postgres.sh || { echo "tests: 0 passed, 1 failed (could not install PostgreSQL)"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
go vet ./... || { echo "tests: 0 passed, 1 failed (go vet)"; exit 1; }
go test -count=1 -timeout 40m -v ./... 2>&1 | tee "$log" | grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|ok |FAIL|panic:)' | grep -v '^=== RUN'
status=${PIPESTATUS[0]}

passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a build failure or panic outside a test
  grep -E 'FAIL|panic|cannot|undefined' "$log" | head -20
fi

# Every fuzz target, a short run each (FUZZTIME per target, default 10s; 0
# skips them), counted as one test each: scripts/fuzz.sh prints its lines.
if [ "${FUZZTIME:-10s}" != "0" ]; then
  fuzzlog=$(mktemp)
  scripts/fuzz.sh "${FUZZTIME:-10s}" | tee "$fuzzlog"
  fuzzstatus=${PIPESTATUS[0]}
  fuzzok=$(grep -c '^fuzz: ok ' "$fuzzlog")
  fuzzfailed=$(grep -c '^fuzz: FAIL ' "$fuzzlog")
  rm -f "$fuzzlog"
  if [ "$fuzzstatus" -ne 0 ] && [ "$fuzzfailed" -eq 0 ]; then
    fuzzfailed=1 # no target found, or the script itself failed
  fi
  passed=$((passed + fuzzok))
  failed=$((failed + fuzzfailed))
fi
if [ "$failed" -gt 0 ]; then
  # Each failed test with what it printed since it last ran (go test -v
  # prints a test's messages before its "--- FAIL" line), the last 60 lines.
  echo "failures:"
  awk '
    /^=== (RUN|CONT|NAME) / { n = 0 }
    { buf[n++ % 60] = $0 }
    /^\s*--- FAIL: / {
      print "----"; start = (n > 60) ? n - 60 : 0
      for (i = start; i < n; i++) print buf[i % 60]
      n = 0
    }' "$log" | head -400
fi
if [ "${CI:-}" = "true" ] && [ "$skipped" -gt 0 ]; then
  echo "skipped in CI (not allowed):"; grep -E '^\s*--- SKIP' "$log"
  failed=$((failed + skipped))
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
