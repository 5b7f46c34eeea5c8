#!/bin/bash
# e2e.sh — run the e2e suite; a test that fails is run once more on its own,
# and if it then passes it is reported as FLAKY (loudly, with its first
# failure) instead of failing the run. A known-flaky test is a bug to fix:
# the report says which.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The pyapp example's base image (TestPyappExample): debootstrap from the
# Debian mirror once, a few minutes, outside the tests' timeout; cached.
bash examples/pyapp/base.sh >/dev/null || exit 1
# The builder's C compiler image (TestBuildCProgram): that base plus gcc,
# once, about a minute; cached.
bash hack/cc-image.sh >/dev/null || exit 1
# Clients in modules of their own (testcontainers-go), so that their
# dependencies stay out of berth's go.mod; run with the same retry rule.
clients=0
for m in e2e/testcontainers; do
  if ! (cd "$m" && $GO test -count=1 -tags e2e -timeout 5m .); then
    if (cd "$m" && $GO test -count=1 -tags e2e -timeout 5m .); then
      echo "FLAKY: $m failed once and passed on a rerun; its first failure is above. Fix it." >&2
    else
      clients=1
    fi
  fi
done
finish() { [ "$clients" -eq 0 ] || exit 1; exit "$1"; }
$GO test -count=1 -tags e2e -timeout 15m ./e2e/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && finish 0
failed=$(sed -n 's/^--- FAIL: \([A-Za-z0-9_]*\).*/\1/p' "$log" | sort -u | paste -sd'|')
if [ -z "$failed" ]; then
  echo "e2e: failed before any test ended; not retried" >&2
  finish "$status"
fi
echo "e2e: rerunning what failed to tell a flake from a failure: $failed" >&2
if $GO test -count=1 -tags e2e -timeout 10m -run "^($failed)\$" ./e2e/; then
  echo "FLAKY: $failed failed once and passed on a rerun; its first failure is above. Fix it." >&2
  finish 0
fi
exit 1
