#!/usr/bin/env bash
# Figures of `berth serve` (issue 17) beside dockerd: _ping latency,
# `docker run -d` + `docker rm -f` and `docker run --rm busybox true`
# through each server's socket, and each server's idle RSS (right after
# start and one _ping, and after the runs). Usage: hack/bench-serve.sh
# [BERTH] [N] (default bin/berth, 20 rounds). Runs as root, in fresh state
# roots it removes again; needs the docker CLI (client only), curl and python3.
# dockerd (Debian's docker.io), when installed, runs detached on its own
# data root and socket, with no bridge and no iptables rules of its own
# (containers run with --network none on both servers), and is stopped by
# its PID at the end; BERTH_BENCH_DOCKERD=0 leaves it out.
set -euo pipefail
BERTH=$(realpath "${1:-bin/berth}")
N=${2:-20}
DOCKER=${DOCKER:-/usr/local/bin/docker}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /tmp/berth-bench-serve.XXXXXX)
pid= dpid=
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	DOCKER_HOST= BERTH_NO_OUTBOUND=1 "$BERTH" --root "$root/berth" container rm -f $("$BERTH" --root "$root/berth" container ls -aq 2>/dev/null) >/dev/null 2>&1 || true
	if [ -n "$dpid" ]; then
		DOCKER_HOST=unix://$root/dockerd.sock "$DOCKER" rm -f $(DOCKER_HOST=unix://$root/dockerd.sock "$DOCKER" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
		kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
		# What dockerd mounted under its roots, if it left any.
		grep -o " $root/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	fi
	rm -rf "$root"
}
trap cleanup EXIT
export BERTH_NO_OUTBOUND=1 DOCKER_CONFIG=$root/docker-config
sh "$here/busybox-rootfs.sh" "$root/busybox.tar" >/dev/null

ms() { date +%s%N; }
# rss PID...: the resident KiB of the processes together.
rss() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo "$t"; }
# waitsock SOCK: until a server answers _ping there.
waitsock() { for _ in $(seq 400); do curl -sf --unix-socket "$1" http://x/_ping >/dev/null 2>&1 && return; sleep 0.05; done; echo "no server on $1" >&2; exit 1; }

# measure NAME SOCK PID...: the figures of one server, as "name value" lines.
measure() {
	local name=$1 sock=$2
	shift 2
	export DOCKER_HOST=unix://$sock
	echo "$name rss_start $(rss "$@")"
	# _ping: one connection per request, as the CLI makes; the median of
	# 200 from one client process (a process per request would measure
	# its own start).
	echo "$name ping_ms $(python3 - "$sock" <<'PY'
import socket, statistics, sys, time
ts = []
for _ in range(200):
    t = time.perf_counter()
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    c.sendall(b"GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n")
    while c.recv(4096):
        pass
    c.close()
    ts.append(time.perf_counter() - t)
print(statistics.median(ts) * 1000)
PY
)"
	local t0 t1
	"$DOCKER" run --rm --network none busybox true >/dev/null # warm
	t0=$(ms)
	for i in $(seq "$N"); do
		"$DOCKER" run -d --network none --name "b$i" busybox sleep 60 >/dev/null
		"$DOCKER" rm -f "b$i" >/dev/null
	done
	t1=$(ms)
	echo "$name run_d_rm_ms $(echo "($t1-$t0)/$N/1000000" | bc -l)"
	t0=$(ms)
	for _ in $(seq "$N"); do "$DOCKER" run --rm --network none busybox true; done
	t1=$(ms)
	echo "$name run_rm_ms $(echo "($t1-$t0)/$N/1000000" | bc -l)"
	sleep 3 # idle a moment (berth serve gives memory back 2 s after its last request)
	echo "$name rss_after $(rss "$@")"
}

"$BERTH" --root "$root/berth" image import "$root/busybox.tar" busybox:latest >/dev/null
"$BERTH" --root "$root/berth" serve -H "unix://$root/berth.sock" 2>"$root/serve.log" &
pid=$!
waitsock "$root/berth.sock"
measure berth "$root/berth.sock" "$pid" >"$root/figures"
kill -INT "$pid" && wait "$pid" || true
pid=

if [ -n "$DOCKERD" ] && [ "${BERTH_BENCH_DOCKERD:-1}" != 0 ]; then
	mkdir -p "$root/dockerd"
	"$DOCKERD" --data-root "$root/dockerd/data" --exec-root "$root/dockerd/exec" --pidfile "$root/dockerd/pid" \
		-H "unix://$root/dockerd.sock" --bridge none --iptables=false --ip6tables=false --ip-masq=false \
		--containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-plugins \
		>"$root/dockerd/log" 2>&1 &
	dpid=$!
	waitsock "$root/dockerd.sock"
	DOCKER_HOST=unix://$root/dockerd.sock "$DOCKER" import "$root/busybox.tar" busybox:latest >/dev/null
	# dockerd and the containerd it started.
	procs=("$dpid" $(pgrep -P "$dpid" containerd || true))
	measure dockerd "$root/dockerd.sock" "${procs[@]}" >>"$root/figures"
fi

awk '
{ v[$1" "$2] = $3; if (!($1 in seen)) { seen[$1] = 1; names[++n] = $1 } }
END {
	split("ping_ms run_d_rm_ms run_rm_ms rss_start rss_after", keys, " ")
	split("_ping (median, new connection each), ms|docker run -d + docker rm -f, ms|docker run --rm busybox true, ms|idle RSS after start + one _ping, KiB|idle RSS after the runs, KiB", labels, "|")
	printf "%-42s", ""; for (i = 1; i <= n; i++) printf "%12s", names[i]; if (n == 2) printf "%15s", "dockerd/berth"; printf "\n"
	for (k = 1; k <= 5; k++) {
		printf "%-42s", labels[k]
		for (i = 1; i <= n; i++) printf "%12.3f", v[names[i]" "keys[k]]
		if (n == 2 && v["berth "keys[k]] > 0) printf "%14.1fx", v["dockerd "keys[k]] / v["berth "keys[k]]
		printf "\n"
	}
}' "$root/figures"
