#!/usr/bin/env bash
# bench-build.sh — berth's builder beside BuildKit (Debian's docker.io: its
# dockerd and /usr/bin/docker 20.10 with DOCKER_BUILDKIT=1, on a daemon of
# the bench's own) and, with BERTH_BENCH_PODMAN=1, podman build, on a 3-stage
# Dockerfile on busybox, interleaved round by round: cold build, rebuild with
# nothing changed, rebuild after one source file changed. Written to
# bench/BUILD-RESULTS.md.
#
# Installs the missing peers with apt-get (a package that is not installable
# is left out and the bench runs without it), builds bin/berth, and runs
#   BERTH_BENCH=1 go test -run '^$' -bench BenchmarkBuild -benchtime 5x ./bench/
# Needs root. Leaves no daemon, container, mount or image store behind: the
# daemon is stopped by its PID and every store lives under one working
# directory, removed at the end.
#
# Environment: BENCHTIME   rounds after a first one; default 5x
#              BERTH_BENCH_PODMAN=1  add podman build
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
GO=${GO:-go}

[ "$(id -u)" = 0 ] || { echo "bench-build.sh: needs root" >&2; exit 1; }

want="runc:runc busybox-static:/bin/busybox docker.io:dockerd"
[ "${BERTH_BENCH_PODMAN:-}" != 1 ] || want="$want podman:podman"
# shellcheck source=hack/bench-lib.sh
. hack/bench-lib.sh
install_missing $want
berth_skip=$(build_berth)

echo "bench: results to bench/BUILD-RESULTS.md"
start=$(date +%s)
rc=0
# The benchmark tears its daemon and stores down itself, also when it fails.
BERTH_BENCH=1 BERTH_BENCH_BUILD_RESULTS="$PWD/bench/BUILD-RESULTS.md" \
  BERTH_BENCH_BERTH="$PWD/bin/berth" BERTH_BENCH_BERTH_SKIP="$berth_skip" \
  $GO test -count=1 -run '^$' -bench BenchmarkBuild -benchtime "${BENCHTIME:-5x}" -timeout 60m ./bench/ || rc=$?
echo "bench: took $(( $(date +%s) - start )) s"
[ ! -f bench/BUILD-RESULTS.md ] || cat bench/BUILD-RESULTS.md
exit "$rc"
