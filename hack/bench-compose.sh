#!/usr/bin/env bash
# bench-compose.sh — berth beside Docker Compose (v2 or later when installed)
# and the floor of bare runc, optionally podman-compose, on the same Compose
# projects (1, 5, 20 and 100 busybox services; BERTH_BENCH_SIZES to choose), interleaved round by round, written to
# bench/RESULTS.md.
#
# Installs the missing peers with apt-get (a package that is not installable
# is left out and the bench runs without it), builds bin/berth, and runs
#   BERTH_BENCH=1 go test -run '^$' -bench BenchmarkCompose -benchtime 3x ./bench/
# Needs root. Leaves no daemon, container, mount, link or firewall rule behind.
#
# Environment: BENCH_ARGS  extra `go test` arguments (e.g. -bench 'BenchmarkCompose/20svc')
#              BENCHTIME   rounds per size after a first one; default 3x
#              BERTH_BENCH_PODMAN=1  add podman-compose (about 15 minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
GO=${GO:-go}

[ "$(id -u)" = 0 ] || { echo "bench-compose.sh: needs root" >&2; exit 1; }

# package:command that tells it is there. runc, busybox-static and iptables
# are berth's own deps. Debian's docker-compose is v1: installed only when no
# Docker Compose v2+ is there (the docker CLI plugin or a docker-compose that
# says v2+; bench/README.md says how to get one), and the bench then says it
# measured v1. podman-compose (and catatonit, the init podman binds in for
# `init: true`) only with BERTH_BENCH_PODMAN=1.
want="runc:runc busybox-static:/bin/busybox iptables:iptables docker.io:dockerd"
compose_major() { "$@" version --short 2>/dev/null | sed 's/^v//; s/\..*//'; }
v2=
for c in "docker compose" docker-compose; do
  m=$(compose_major $c || true)
  if [ -n "$m" ] && [ "$m" -ge 2 ] 2>/dev/null; then v2="$c"; break; fi
done
if [ -n "$v2" ]; then echo "bench: Docker Compose v2+: $v2 ($($v2 version --short))"
else
  echo "bench: no Docker Compose v2 or later here (see bench/README.md): Docker Compose v1 is measured instead"
  want="$want docker-compose:docker-compose"
fi
if [ "${BERTH_BENCH_PODMAN:-}" = 1 ]; then
  want="$want podman:podman podman-compose:podman-compose catatonit:/usr/bin/catatonit"
fi
# shellcheck source=hack/bench-lib.sh
. hack/bench-lib.sh
install_missing $want

# As berth ships: built by make, static, with its small shim (and init)
# embedded.
berth_skip=$(build_berth)
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
# Normally the benchmarks tear everything down themselves; this is for an
# interrupted run: stop our dockerd (by the PID it wrote, if the process is
# still the one started on this directory), then unmount and remove.
cleanup() {
  set +e +o pipefail
  local pidf=$work/docker/dockerd.pid pid
  if [ -f "$pidf" ]; then
    pid=$(cat "$pidf")
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$work/"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
  fi
  local p=$work/podman
  if [ -f "$p/containers.conf" ]; then
    local pod=(podman --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp")
    export CONTAINERS_CONF=$p/containers.conf
    "${pod[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
    for n in $("${pod[@]}" network ls --filter label=io.podman.compose.project --format '{{.Name}}' 2>/dev/null); do
      "${pod[@]}" network rm --force "$n" >/dev/null 2>&1 || true
      rm -rf "/var/lib/cni/networks/$n"
    done
  fi
  local r=$work/berth/root
  if [ -d "$r" ] && [ -x bin/berth ]; then
    local ids
    ids=$(bin/berth --root "$r" container ls -a -q 2>/dev/null || true)
    [ -z "$ids" ] || bin/berth --root "$r" container rm -f $ids >/dev/null 2>&1 || true
    for n in $(bin/berth --root "$r" network ls 2>/dev/null | awk 'NR > 1 {print $2}'); do
      bin/berth --root "$r" network rm "$n" >/dev/null 2>&1 || true
    done
  fi
  grep -F " $work/" /proc/self/mountinfo | awk '{print length($5), $5}' | sort -rn | cut -d' ' -f2- |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  # What the peers made outside $work (/var/lib/cni, /run/netns, the CNI
  # firewall chains…), as their set-ups recorded it.
  if compgen -G "$work/*.host.json" >/dev/null &&
    ! BERTH_BENCH_CLEANUP="$work" $GO test -count=1 -run '^TestInterruptedBenchCleanup$' ./bench/; then
    echo "bench: host clean-up after the interrupted run failed; $work/*.host.json says what is left" >&2
    return
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "bench: working in $work; results to bench/RESULTS.md"
start=$(date +%s)
touch "$work/.start"
rc=0
BERTH_BENCH=1 BERTH_BENCH_DIR="$work" BERTH_BENCH_RESULTS="$PWD/bench/RESULTS.md" \
  BERTH_BENCH_BERTH="$PWD/bin/berth" BERTH_BENCH_BERTH_SKIP="$berth_skip" \
  $GO test -count=1 -run '^$' -bench BenchmarkCompose -benchtime "${BENCHTIME:-3x}" -timeout 90m \
  ${BENCH_ARGS:-} ./bench/ || rc=$?
echo "bench: took $(( $(date +%s) - start )) s"
if [ bench/RESULTS.md -nt "$work/.start" ]; then cat bench/RESULTS.md
else echo "bench: bench/RESULTS.md not written by this run" >&2; fi
exit "$rc"
