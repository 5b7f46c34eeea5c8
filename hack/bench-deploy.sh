#!/usr/bin/env bash
# bench-deploy.sh — berth deploy beside docker stack deploy: the 20-service
# bench project onto a Swarm of three dockerd on this machine (each in its
# own namespaces; see internal/swarmtest), interleaved round by round,
# written to bench/DEPLOY.md. Needs root and Debian's docker.io (installed
# when missing). Leaves no daemon, namespace, link or mount behind.
#
# Environment: BENCHTIME  rounds; default 3x
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
GO=${GO:-go}
[ "$(id -u)" = 0 ] || { echo "bench-deploy.sh: needs root" >&2; exit 1; }
if ! command -v dockerd >/dev/null 2>&1; then
  echo "bench: installing docker.io"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
[ -x bin/berth ] || make --no-print-directory build
BERTH_BENCH=1 BERTH_BENCH_DEPLOY_RESULTS="$PWD/bench/DEPLOY.md" \
  $GO test -run '^$' -bench BenchmarkDeploy -benchtime "${BENCHTIME:-3x}" -timeout 60m ./bench/
cat bench/DEPLOY.md
