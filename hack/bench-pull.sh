#!/bin/bash
# bench-pull.sh — time `berth image pull` against `skopeo copy` of the same
# image (LAYERS random layers of SIZE_MB MiB, ~100 MB by default) from a
# registry on 127.0.0.1 served by hack/benchregistry. Prints the best of
# RUNS runs of each, their throughput and the ratio. No traffic leaves
# 127.0.0.1 (but for installing skopeo with apt-get when it is missing).
#
#   hack/bench-pull.sh                 # builds bin/berth-like binary in a temp dir
#   BERTH=bin/berth RUNS=5 hack/bench-pull.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LAYERS=${LAYERS:-5}
SIZE_MB=${SIZE_MB:-20}
RUNS=${RUNS:-3}
GO=${GO:-go}

if ! command -v skopeo >/dev/null; then
  echo "bench-pull.sh: installing skopeo" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null; }
fi

work=$(mktemp -d)
reg=""
cleanup() {
  exec 3>&- 2>/dev/null || true # closing the registry's stdin stops it
  [ -n "$reg" ] && wait "$reg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$GO" build -o "$work/benchregistry" ./hack/benchregistry
if [ -z "${BERTH:-}" ]; then
  make --no-print-directory build GO="$GO" BIN="$work/berth" >/dev/null
  BERTH=$work/berth
fi
if ! "$BERTH" image pull --help >/dev/null 2>&1; then
  echo "bench-pull.sh: $BERTH has no 'image pull' command" >&2
  exit 1
fi

mkfifo "$work/stdin"
"$work/benchregistry" -layers "$LAYERS" -size "$SIZE_MB" -repo bench:latest <"$work/stdin" >"$work/port" &
reg=$!
exec 3>"$work/stdin"
for _ in $(seq 600); do
  [ -s "$work/port" ] && break
  kill -0 "$reg" 2>/dev/null || { echo "bench-pull.sh: registry failed" >&2; exit 1; }
  sleep 0.2
done
port=$(head -n1 "$work/port")
img=127.0.0.1:$port/bench:latest
bytes=$((LAYERS * SIZE_MB * 1024 * 1024))
echo "image $img: $LAYERS layers of $SIZE_MB MiB, best of $RUNS runs"

now() { date +%s.%N; }
best() { # best CMD...: the shortest wall time of RUNS runs, in seconds
  local b="" t0 t1 d
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/out"
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [ -z "$b" ] || awk -v d="$d" -v b="$b" 'BEGIN { exit !(d < b) }'; then b=$d; fi
  done
  echo "$b"
}

skopeo_s=$(best skopeo copy -q --src-tls-verify=false "docker://$img" "oci:$work/out:bench")
berth_s=$(best "$BERTH" --root "$work/out" image pull -q "$img")

mbps() { awk -v n="$bytes" -v s="$1" 'BEGIN { printf "%.1f", n / 1e6 / s }'; }
printf 'skopeo copy:      %6.3f s  %7s MB/s\n' "$skopeo_s" "$(mbps "$skopeo_s")"
printf 'berth image pull: %6.3f s  %7s MB/s\n' "$berth_s" "$(mbps "$berth_s")"
awk -v a="$skopeo_s" -v b="$berth_s" 'BEGIN { printf "ratio skopeo/berth: %.2f (above 1: berth is faster)\n", a / b }'
