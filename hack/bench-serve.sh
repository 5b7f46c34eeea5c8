#!/usr/bin/env bash
# Figures of `berth serve` (issue 17): _ping latency, `docker run -d` +
# `docker rm -f` and `docker run --rm busybox true` through berth's socket,
# and the server's idle RSS. Usage: hack/bench-serve.sh [BERTH] [N]
# (default bin/berth, 20 rounds). Runs as root, in a fresh state root it
# removes again; needs the docker CLI (client only) and curl.
set -euo pipefail
BERTH=$(realpath "${1:-bin/berth}")
N=${2:-20}
DOCKER=${DOCKER:-/usr/local/bin/docker}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /tmp/berth-bench-serve.XXXXXX)
sock=$root/run/docker.sock
pid=
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	DOCKER_HOST= BERTH_NO_OUTBOUND=1 "$BERTH" --root "$root" container rm -f $("$BERTH" --root "$root" container ls -aq 2>/dev/null) >/dev/null 2>&1 || true
	rm -rf "$root"
}
trap cleanup EXIT
export BERTH_NO_OUTBOUND=1
sh "$here/busybox-rootfs.sh" "$root/busybox.tar" >/dev/null
"$BERTH" --root "$root" image import "$root/busybox.tar" busybox:latest >/dev/null
"$BERTH" --root "$root" serve -H "unix://$sock" 2>"$root/serve.log" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$root/docker-config

ms() { date +%s%N; }
# _ping: one connection per request, as the CLI makes.
t0=$(ms)
for _ in $(seq 200); do curl -s --unix-socket "$sock" http://berth/_ping >/dev/null; done
t1=$(ms)
printf '_ping (curl, new connection each)    %8.3f ms\n' "$(echo "($t1-$t0)/200/1000000" | bc -l)"

"$DOCKER" run --rm busybox true >/dev/null # warm
t0=$(ms)
for i in $(seq "$N"); do
	"$DOCKER" run -d --name "b$i" busybox sleep 60 >/dev/null
	"$DOCKER" rm -f "b$i" >/dev/null
done
t1=$(ms)
printf 'docker run -d + docker rm -f        %8.1f ms\n' "$(echo "($t1-$t0)/$N/1000000" | bc -l)"

t0=$(ms)
for _ in $(seq "$N"); do "$DOCKER" run --rm busybox true; done
t1=$(ms)
printf 'docker run --rm busybox true        %8.1f ms\n' "$(echo "($t1-$t0)/$N/1000000" | bc -l)"

# Idle RSS: after the work above, once the server has been idle a moment.
sleep 2
printf 'server RSS after the runs (idle)    %8s KiB\n' "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)"
