#!/bin/bash
# bench-develop.sh — the development loop's figure (a): save one file on the
# host → the new content visible in the running container, through
# `berth watch` and a develop.watch sync rule, on busybox. It saves one file
# RUNS times (20) and prints the median and p95 in milliseconds. The
# container's file is read from the host through /proc/<its init>/root,
# polled without forking, so the figure is berth's alone.
#
#   hack/bench-develop.sh               # as root; builds berth into a temp dir
#   BERTH=bin/berth RUNS=50 hack/bench-develop.sh
#
# Everything lives under one temp dir (state root, project); the exit trap
# stops the watch by PID, takes the project down and removes the dir.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin BERTH_NO_OUTBOUND=1
RUNS=${RUNS:-20}
tmp=$(mktemp -d /tmp/berth-bench-develop-XXXXXX)
watch_pid=
cleanup() {
	if [ -n "$watch_pid" ]; then
		kill -INT "$watch_pid" 2>/dev/null || true
		wait "$watch_pid" 2>/dev/null || true
	fi
	"$BERTH" --root "$tmp/root" -p benchdev down -v >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${BERTH:-}" ]; then
	make --no-print-directory build BIN="$tmp/berth" >/dev/null
	BERTH=$tmp/berth
fi
sh hack/busybox-rootfs.sh "$tmp/busybox.tar" >/dev/null
b() { "$BERTH" --root "$tmp/root" "$@"; }
b image import "$tmp/busybox.tar" busybox:latest >/dev/null
mkdir -p "$tmp/proj/src"
cat >"$tmp/proj/compose.yaml" <<'YAML'
name: benchdev
services:
  app:
    image: busybox:latest
    init: true
    command: [sleep, "3600"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app}
YAML
"$BERTH" --root "$tmp/root" -f "$tmp/proj/compose.yaml" watch >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
until grep -qs '^Watching ' "$tmp/watch.err"; do
	kill -0 "$watch_pid" || { cat "$tmp/watch.err"; exit 1; }
	sleep 0.05
done
id=$(ls "$tmp/root/containers" | grep -E '^[0-9a-f]{64}$')
dst=/proc/$(<"$tmp/root/containers/$id/init.pid")/root/app/f.txt
times=()
for i in $(seq 1 "$RUNS"); do
	sleep 0.3 # a quiet tree before each save, as when a developer saves
	t0=$(date +%s%N)
	echo "v$i" >"$tmp/proj/src/f.txt"
	deadline=$((t0 + 10000000000))
	while true; do
		if [ -f "$dst" ]; then
			content=$(<"$dst")
			[ "$content" = "v$i" ] && break
		fi
		if (($(date +%s%N) > deadline)); then
			echo "edit $i not in the container within 10s" >&2
			cat "$tmp/watch.err" >&2
			exit 1
		fi
	done
	t1=$(date +%s%N)
	times+=($(((t1 - t0) / 1000)))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
med=${sorted[$((n / 2))]}
p95=${sorted[$(((n * 95 + 99) / 100 - 1))]}
printf '| edit → file in container (sync) | median %d.%03d ms | p95 %d.%03d ms | %d edits |\n' \
	$((med / 1000)) $((med % 1000)) $((p95 / 1000)) $((p95 % 1000)) "$n"
