#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each and prints one line
# per target, then "fuzz: N targets, N failed".
#
#   scripts/fuzz.sh [TIME [PATTERN]]
#
# TIME is per target: seconds (default 10) or a Go duration (90s, 5m).
# PATTERN (an extended regexp) picks targets by name, e.g. 'Manifest|Config'.
# The targets are found, not listed: every `func FuzzX(f *testing.F)` in a
# _test.go file. Go runs one -fuzz target per `go test`, so each target is
# its own run. A failure leaves its input in the package's testdata/fuzz/,
# where plain `go test` replays it from then on: keep it with the fix.
#
# Environment: FUZZPARALLEL (workers per target; default GOMAXPROCS),
# FUZZMINIMIZETIME (time spent shrinking each new input; default 3s; Go's
# own default of 60s can eat a whole short run).
set -uo pipefail
cd "$(dirname "$0")/.."

time=${1:-10}
pattern=${2:-.}
case "$time" in
  *[a-z]) ;;
  *) time="${time}s" ;;
esac
retry=$time # the time of a second run, when the first ran out early
if [[ "$time" =~ ^([0-9]+)s$ ]]; then
  retry="$(( BASH_REMATCH[1] * 2 + 10 ))s"
fi
minimize=${FUZZMINIMIZETIME:-3s}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then
  parallel=(-parallel "$FUZZPARALLEL")
fi

# "dir name" for every fuzz target, sorted; vendored or hidden trees left out.
targets=$(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
  grep -v -e '/\.' -e '/vendor/' |
  sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*).*#\1 \2#' |
  awk -v p="$pattern" '$2 ~ p' | sort)

total=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# run DIR NAME TIME: one fuzz run into $log.
run() {
  go test -run='^$' -fuzz="^${2}\$" -fuzztime="$3" -fuzzminimizetime="$minimize" "${parallel[@]}" \
    -timeout=30m "./$1" >"$log" 2>&1 </dev/null
}

while read -r dir name; do
  [ -n "$name" ] || continue
  total=$((total + 1))
  start=$(date +%s)
  run "$dir" "$name" "$time"
  status=$?
  # On a loaded machine the time may run out while Go still replays the
  # corpus, before any fuzzing: that is no finding, so run once more, longer.
  if [ "$status" -ne 0 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input' "$log"; then
    run "$dir" "$name" "$retry"
    status=$?
  fi
  took=$(( $(date +%s) - start ))
  execs=$(grep -Eo 'execs: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
  if [ "$status" -eq 0 ]; then
    echo "fuzz: ok   $name ./$dir (${took}s, ${execs:-0} execs)"
  else
    failed=$((failed + 1))
    echo "fuzz: FAIL $name ./$dir (${took}s)"
    grep -v -E '^fuzz: elapsed' "$log" | head -40 | sed 's/^/    /'
  fi
done <<<"$targets"

echo "fuzz: $total targets, $failed failed"
[ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
