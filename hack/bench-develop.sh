#!/bin/bash
# bench-develop.sh — the development loop's figures, berth watch beside
# docker compose watch (Docker Compose v2+ on a private dockerd, as
# hack/bench-compose.sh starts it; left out, with the reason, when it is not
# here) on the same project in the same run, the tools taking turns save by
# save:
#   sync          save one file → the new content in the container
#   sync+restart  save a config file → the service restarted and running with it
#   rebuild       save the dependencies file → the rebuilt service running with it
#   compose edit  change the service's environment in compose.yaml → the
#                 service recreated and running with it (berth only: docker
#                 compose watch does not act on Compose file edits)
# with median, p95 and the ratio of the medians. The figures are read from
# the host through a directory bound into the containers, alike for both.
#
#   hack/bench-develop.sh                          # as root; builds berth
#   BERTH=bin/berth RUNS=5 hack/bench-develop.sh   # RUNS saves per figure (default 20, 10, 5, 10)
#
# The benchmark (BenchmarkDevelop in bench/develop_test.go) stops each watch
# by its PID, takes both projects down and stops its dockerd by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin BERTH_NO_OUTBOUND=1
GO=${GO:-go}
if [ -z "${BERTH:-}" ]; then
	make --no-print-directory build GO="$GO" >/dev/null
	BERTH=bin/berth
fi
BERTH_BENCH=1 BERTH_BENCH_BERTH="$(realpath "$BERTH")" BERTH_BENCH_RUNS="${RUNS:-}" \
	$GO test -count=1 -run '^$' -bench '^BenchmarkDevelop$' -benchtime 1x -timeout 30m ./bench/
