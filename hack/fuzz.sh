#!/bin/bash
# fuzz.sh — run every native Go fuzz target (func FuzzXxx(f *testing.F) in a
# _test.go file) for FUZZTIME (default 20s) each, one at a time: `go test
# -fuzz` takes one target of one package. Arguments, if any, name the
# targets to run (`bash hack/fuzz.sh FuzzLoad`). Each starts from its seeds (the
# f.Add calls and testdata/fuzz/FuzzXxx) and the corpus cached in GOCACHE.
# A failing input is written to <package>/testdata/fuzz/FuzzXxx/: fix the
# bug and commit the file, which every `go test` then runs.
#
# FUZZPARALLEL (default 2) worker processes per target: a bound on CPU and
# memory. FUZZMINIMIZETIME (default 0, off) is -fuzzminimizetime: minimizing
# each new interesting input would take most of a short run.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
FUZZPARALLEL=${FUZZPARALLEL:-2}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-0}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# "./pkg FuzzName" for each target, in file order.
targets=$(git ls-files --cached --others --exclude-standard '*_test.go' |
  xargs grep -H '^func Fuzz[A-Za-z0-9_]*([a-z]* \*testing\.F)' |
  sed 's|^\(.*\)/[^/]*_test.go:func \(Fuzz[A-Za-z0-9_]*\).*|./\1 \2|' | sort -u)
if [ $# -gt 0 ]; then
  targets=$(grep -E " ($(IFS='|'; echo "$*"))\$" <<<"$targets")
fi
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

start=$SECONDS
failed=()
while read -r pkg name; do
  corpus="$pkg/testdata/fuzz/$name"
  before=$(ls "$corpus" 2>/dev/null)
  t0=$SECONDS
  $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" \
    -parallel "$FUZZPARALLEL" "$pkg" >"$log" 2>&1
  status=$?
  stats=$(grep '^fuzz: elapsed' "$log" | tail -1 | sed 's/^fuzz: //')
  if [ "$status" -eq 0 ]; then
    echo "ok    $pkg $name ($((SECONDS - t0))s) ${stats}"
    continue
  fi
  crashers=$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null) | sed "s|^|$corpus/|")
  # Go before 1.27 may report the -fuzztime deadline itself as a failure
  # (golang/go#75804): a bare "context deadline exceeded", no input written.
  # Tell it from a failure by running the target's seeds and corpus again.
  if [ -z "$crashers" ] && grep -q '^    context deadline exceeded$' "$log" &&
    ! grep -q '_test.go:[0-9]*:' "$log" &&
    $GO test -count=1 -run "^$name\$" "$pkg" >/dev/null 2>&1; then
    echo "ok    $pkg $name ($((SECONDS - t0))s) ${stats}; the Go toolchain reported its own deadline as a failure (golang/go#75804), ignored"
    continue
  fi
  cat "$log" >&2
  echo "FAIL  $pkg $name" >&2
  for c in $crashers; do
    echo "      failing input written to $c; rerun: $GO test -run '^$name/$(basename "$c")\$' $pkg" >&2
  done
  failed+=("$name")
done <<<"$targets"

echo "fuzz: $(wc -l <<<"$targets") targets, ${FUZZTIME} each, $((SECONDS - start))s in all"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
