#!/bin/bash
# bench-shim.sh — memory of the per-container supervisor: berth's shim beside
# podman's conmon, in one run, on the same busybox image, N containers each
# running `sleep 100000` behind an init with no network. For each supervisor
# process it reads VmRSS (/proc/PID/status), Pss and Private_Clean +
# Private_Dirty (/proc/PID/smaps_rollup), EARLY and SETTLE seconds after the
# tool's last container started, and prints the means (KiB per supervisor)
# as a Markdown table, also written to bench/SHIM.md.
#
#   hack/bench-shim.sh                  # as root; builds berth into a temp dir
#   BERTH=bin/berth SETTLE=30 hack/bench-shim.sh
#
# Everything lives under one temp dir: berth's state root and run directory
# (BERTH_NO_OUTBOUND=1: ip_forward is never touched), podman's store, run
# root, tmp dir (also TMPDIR and image_copy_tmp_dir, not /var/tmp), runc
# state directory (not /run/runc), CNI configuration directory and
# containers.conf. Neither tool's system-wide state (/var/lib/berth,
# /run/berth, /var/lib/containers/storage, /run/libpod, /etc/cni) is used.
# `podman import` writes containers/image's blob-info cache under
# /var/lib/containers/cache whatever --root says, so it runs in a private
# mount namespace with a temp dir over /var/lib/containers (or, where that
# directory did not exist, the directory is removed at the end). Directories
# podman or runc create on the host (/run/runc, ...) are removed at the end
# if this run created them. The exit trap removes the containers, unmounts
# what is left under the temp dir, kills by PID any process of the run still
# there, and then checks that no process, mount or link of the run is left.
#
# Variables: BERTH (a built berth; default: `make build` into the temp dir),
# N (containers per tool, 5), SETTLE (seconds, 10), EARLY (seconds, 1).
# apt-get installs what is missing: runc and busybox-static (needed; to
# build, the Makefile's PKGS too: the shim's C compiler and so on), podman
# and catatonit (without them the podman column or --init is left out).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

N=${N:-5}
SETTLE=${SETTLE:-10}
EARLY=${EARLY:-1}
OUT=$repo/bench/SHIM.md

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench-shim.sh: %s\n' "$*" >&2; exit 1; }
warnings=0
warn() { printf 'WARNING: %s\n' "$*" >&2; warnings=$((warnings + 1)); }

[ "$(id -u)" = 0 ] || die "needs root"
for v in N SETTLE EARLY; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number of seconds or containers"
done
[ "$N" -ge 1 ] || die "N must be at least 1"
[ "$EARLY" -lt "$SETTLE" ] || die "EARLY ($EARLY) must be less than SETTLE ($SETTLE)"

# The test suites' machine lock, shared: an e2e run (which takes it
# exclusively and checks the whole machine for leaks) waits for this one.
exec {machine_lock}>/run/berth-tests.lock
flock -s "$machine_lock"

# ---------------------------------------------------------------- packages
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_updated=0
apt_install() { # apt_install PKG...: install those missing; fails if one fails
  local p missing=()
  for p; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >&2 || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
apt_install runc busybox-static || die "cannot install runc and busybox-static"
command -v runc >/dev/null || die "runc not found"
if [ -z "${BERTH:-}" ]; then
  # What the Makefile's deps target installs (its build needs a C compiler
  # for the shim, and more as it changes), read from the Makefile itself.
  # shellcheck disable=SC2016
  build_pkgs=$(printf 'bench-shim-pkgs:\n\t@echo $(PKGS)\n' | make -s -f Makefile -f - bench-shim-pkgs 2>/dev/null) || build_pkgs=""
  # shellcheck disable=SC2086
  [ -z "$build_pkgs" ] || apt_install $build_pkgs || die "cannot install the Makefile's PKGS: $build_pkgs"
fi
apt_install podman || true
apt_install catatonit || true

have_podman=0
podman_why=""
if command -v podman >/dev/null && command -v conmon >/dev/null; then
  have_podman=1
else
  podman_why="podman or conmon not installed (apt-get install podman failed)"
  warn "$podman_why: no podman column"
fi
init_path=""
for p in /usr/libexec/podman/catatonit /usr/bin/catatonit; do
  if [ -x "$p" ]; then init_path=$p; break; fi
done
init_flag=(--init)
init_note="behind berth's own init"
[ "$have_podman" = 1 ] && init_note="behind an init (berth's own; podman's catatonit)"
if [ "$have_podman" = 1 ] && [ -z "$init_path" ]; then
  init_flag=()
  init_note="without an init on both sides (catatonit is not installed): sleep is PID 1"
  warn "catatonit not found: both tools run their containers without --init"
fi

# ------------------------------------------------------------ state, trap
tmp=$(mktemp -d /tmp/bench-shim.XXXXXX)
chmod 755 "$tmp"
R=$tmp/berth # berth's state root
P=$tmp/podman # podman's store, run root, tmp dir, configuration
berth_ids=() shim_pids=() podman_ids=() conmon_pids=()
podman_used=0

b() { BERTH_NO_OUTBOUND=1 "$BERTH" --root "$R" --run-dir "$R/run" "$@"; }
podman_global=() # set with the configuration below
pm() { env CONTAINERS_CONF="$P/containers.conf" TMPDIR="$P/tmp" podman "${podman_global[@]}" "$@"; }

# What podman and runc may create on the host whatever their --root says,
# and berth's defaults (which --root and --run-dir must leave alone): what
# this run creates is removed at the end.
host_paths=(/var/lib/containers /run/containers /run/libpod /var/lib/cni /etc/cni /run/netns /run/runc
  /var/lib/berth /run/berth)
declare -A existed=()
for p in "${host_paths[@]}"; do
  if [ -e "$p" ]; then existed[$p]=1; else existed[$p]=0; fi
done
berth_links() { ip -br link 2>/dev/null | awk '{print $1}' | grep -i berth | sort || true; }
links_before=$(berth_links)
fwd_before=$(cat /proc/sys/net/ipv4/ip_forward)
[ "$fwd_before" = 0 ] || warn "net.ipv4.ip_forward is already $fwd_before before the run"

mounts_under() { # mount points under $1, deepest first
  findmnt -rn -o TARGET 2>/dev/null | awk -v d="$1" 'index($0, d "/") == 1 || $0 == d' | sort -r
}
run_pids() { # PIDs of processes of this run: command line naming $tmp, or root under $tmp
  local f pid args root
  for f in /proc/[0-9]*; do
    pid=${f#/proc/}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
    args=()
    mapfile -d '' -t args 2>/dev/null <"$f/cmdline" || continue
    root=$(readlink "$f/root" 2>/dev/null) || root=""
    if [[ "${args[*]}" == *"$tmp"* || "$root" == "$tmp"/* ]]; then
      echo "$pid"
    fi
  done
}
lines_of() { # lines_of A in|notin B: the lines of A that are (not) lines of B
  local l
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    if grep -qxF -- "$l" <<<"$3"; then [ "$2" = in ] && echo "$l"; else [ "$2" = notin ] && echo "$l"; fi
  done <<<"$1"
  return 0
}
alive() { [ -n "$(awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null)" ]; } # not a zombie

cleanup() {
  local rc=$? ids pid m p left i
  trap '' INT TERM
  set +eu
  log "cleanup"
  [ -n "${sleep_pid:-}" ] && kill "$sleep_pid" 2>/dev/null
  # The bridges of networks in this run's state root ("berth" and 10 hex
  # digits of the ID; with --network none there should be none).
  local our_links
  our_links=$(cat "$R"/networks/*.json 2>/dev/null | grep -o '"id":"[0-9a-f]\{10\}' | sed 's/"id":"/berth/' | sort -u)
  if [ -n "${BERTH:-}" ] && [ -x "$BERTH" ] && [ -d "$R" ]; then
    ids=$(b container ls -a -q 2>/dev/null)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      b container rm -f $ids >/dev/null || warn "berth container rm -f failed"
    fi
  fi
  if [ "$podman_used" = 1 ] && [ "${#podman_global[@]}" -gt 0 ] && [ -d "$P/storage" ]; then
    ids=$(pm ps -a -q 2>/dev/null)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      pm rm -f -t0 $ids >/dev/null || warn "podman rm -f failed"
    fi
  fi
  # The supervisors exit once their container is gone; anything of the run
  # still there after 10 s is killed, by PID.
  for i in $(seq 50); do
    left=""
    for pid in "${shim_pids[@]}" "${conmon_pids[@]}"; do
      alive "$pid" && left="$left $pid"
    done
    [ -z "$left" ] && break
    sleep 0.2
  done
  for pid in $(run_pids); do
    warn "killing leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    kill -KILL "$pid" 2>/dev/null
  done
  sleep 0.2
  for m in $(mounts_under "$tmp"); do
    umount "$m" 2>/dev/null || { warn "umount $m failed, detaching it"; umount -l "$m"; }
  done
  # Host directories this run created (podman's, runc's), if podman left them.
  for p in "${host_paths[@]}"; do
    [ "${existed[$p]}" = 0 ] && [ -e "$p" ] || continue
    case $p in
      /var/lib/containers | /run/containers | /run/libpod | /var/lib/cni)
        [ -z "$(mounts_under "$p")" ] && rm -rf --one-file-system "$p" ;;
      *) rmdir "$p" 2>/dev/null ;; # only if empty: others may use it now
    esac
  done
  if [ -z "$(mounts_under "$tmp")" ]; then
    rm -rf --one-file-system "$tmp"
  else
    warn "mounts left under $tmp; not removing it"
  fi

  # Check that nothing of the run is left.
  local before=$warnings
  left=$(run_pids)
  [ -z "$left" ] || warn "processes of the run left: $(echo $left)"
  left=$(mounts_under "$tmp")
  [ -z "$left" ] || warn "mounts left: $(echo $left)"
  [ ! -e "$tmp" ] || warn "$tmp left"
  local links_now
  links_now=$(berth_links)
  left=$(lines_of "$links_now" in "$our_links")
  [ -z "$left" ] || warn "berth links of the run left: $(echo $left)"
  left=$(lines_of "$(lines_of "$links_now" notin "$links_before")" notin "$our_links")
  [ -z "$left" ] || log "note: berth links that appeared during the run, not of its networks" \
    "(another berth on this host): $(echo $left)"
  for p in "${host_paths[@]}"; do
    [ "${existed[$p]}" = 0 ] && [ -e "$p" ] && warn "$p was made by the run and is left"
  done
  for i in "${podman_ids[@]}"; do
    [ -e "/run/runc/$i" ] && warn "runc state /run/runc/$i left"
  done
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$fwd_before" ] ||
    warn "net.ipv4.ip_forward changed: $fwd_before -> $(cat /proc/sys/net/ipv4/ip_forward)"
  if [ "$warnings" = "$before" ]; then
    log "clean: no process, mount, link or directory of the run left; ip_forward $fwd_before"
  else
    log "LEFT BEHIND: $((warnings - before)) warning(s) above"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ build
if [ -n "${BERTH:-}" ]; then
  BERTH=$(realpath "$BERTH")
  [ -x "$BERTH" ] || die "BERTH=$BERTH is not executable"
else
  log "make build BIN=$tmp/bin/berth"
  make --no-print-directory build BIN="$tmp/bin/berth" >&2
  BERTH=$tmp/bin/berth
fi
sh hack/busybox-rootfs.sh "$tmp/busybox-rootfs.tar"

now() { date +%s.%N; }
sleep_pid=""
sleep_until() { # sleep_until T: until the epoch time T (in the background: a signal ends the wait)
  sleep "$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')" &
  sleep_pid=$!
  wait "$sleep_pid"
  sleep_pid=""
}
age() { awk -v t="$1" -v n="$(now)" 'BEGIN { printf "%.1f", n - t }'; }
sample() { # sample NAME PID...: "vmrss pss private" means in KiB; each PID's to stderr
  local name=$1 pid rss pss pc pd line sum=""
  shift
  for pid; do
    alive "$pid" || die "$name PID $pid is gone"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    read -r pss pc pd <<<"$(awk '/^Pss:/ { a = $2 } /^Private_Clean:/ { b = $2 } /^Private_Dirty:/ { c = $2 }
      END { print a, b, c }' "/proc/$pid/smaps_rollup")"
    line="$rss $pss $((pc + pd))"
    printf '   %-10s pid %-7s VmRSS %5s  Pss %5s  private %5s KiB\n' "$name" "$pid" $line >&2
    sum="$sum$line"$'\n'
  done
  printf '%s' "$sum" | awk '{ r += $1; p += $2; v += $3; n++ } END { printf "%.0f %.0f %.0f\n", r / n, p / n, v / n }'
}

# ------------------------------------------------------------------ berth
log "berth: import busybox, start $N containers (${init_flag[*]:-no init}, --network none)"
b image import "$tmp/busybox-rootfs.tar" busybox:latest >/dev/null
for i in $(seq "$N"); do
  id=$(b container run -d "${init_flag[@]}" --network none --name "bench-shim-$i" busybox:latest sleep 100000)
  berth_ids+=("$id")
done
t_berth=$(now)
for id in "${berth_ids[@]}"; do
  pid=""
  for _ in $(seq 50); do
    pid=$(grep -o '"shim_pid":[0-9]*' "$R/containers/$id/state.json" 2>/dev/null | cut -d: -f2) || true
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || die "no shim_pid in $R/containers/$id/state.json"
  grep -qF "$R" "/proc/$pid/cmdline" || die "PID $pid is not the shim of $id"
  shim_pids+=("$pid")
done
shim_exe=$(readlink "/proc/${shim_pids[0]}/exe")
shim_size=$(stat -Lc %s "/proc/${shim_pids[0]}/exe")
if grep -q '/ld-[^/]*\.so' "/proc/${shim_pids[0]}/maps"; then shim_kind="dynamically linked"; else shim_kind="statically linked"; fi
v=$(go version "$shim_exe" 2>/dev/null) || v=""
[[ $v == *": go"* ]] && shim_kind="$shim_kind Go (${v##* })"
# Is the container's init (state.json's "pid") the shim's own binary?
init_pid=$(grep -o '"pid":[0-9]*' "$R/containers/${berth_ids[0]}/state.json" | cut -d: -f2)
init_shares=0
[ "${#init_flag[@]}" -gt 0 ] && [ -n "$init_pid" ] &&
  [ "$(stat -Lc %d:%i "/proc/$init_pid/exe" 2>/dev/null)" = "$(stat -Lc %d:%i "/proc/${shim_pids[0]}/exe")" ] &&
  init_shares=1
log "berth shims: ${shim_pids[*]} ($shim_exe, $shim_size bytes)"

sleep_until "$(awk -v t="$t_berth" -v e="$EARLY" 'BEGIN { printf "%.3f", t + e }')"
berth_early_age=$(age "$t_berth")
log "berth shims ${berth_early_age} s after the last start"
m=$(sample "berth-shim" "${shim_pids[@]}")
read -r b_rss1 b_pss1 b_priv1 <<<"$m"

# ----------------------------------------------------------------- podman
podman_ok=0
if [ "$have_podman" = 1 ]; then
  mkdir -p "$P"/{storage,runroot,tmp,cni,runc,varlibcontainers}
  # runc's state goes under $P too, not to /run/runc.
  podman_global=(--root "$P/storage" --runroot "$P/runroot" --tmpdir "$P/tmp" --runtime-flag "root=$P/runc")
  podman_used=1 # from here on the trap removes podman's containers
  nofile=$(ulimit -Hn) nprocs=$(ulimit -Hu)
  [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ] && nofile=20000
  [ "$nprocs" = unlimited ] || [ "$nprocs" -gt 32768 ] && nprocs=32768
  # runc (crun fails on cgroup v1 here), cgroupfs and file events (no
  # systemd), ulimits within the host's hard limits (podman's default nofile
  # of 1048576 is not; conmon runs runc with RLIMIT_NPROC 32768, so nproc
  # above it fails with "rlimit type 6"), CNI configuration under $P.
  {
    echo '[containers]'
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nprocs:$nprocs\"]"
    [ -n "$init_path" ] && echo "init_path = \"$init_path\""
    echo 'netns = "none"'
    echo
    echo '[engine]'
    echo 'runtime = "runc"'
    echo 'cgroup_manager = "cgroupfs"'
    echo 'events_logger = "file"'
    echo "image_copy_tmp_dir = \"$P/tmp\""
    echo
    echo '[network]'
    echo 'network_backend = "cni"'
    echo "network_config_dir = \"$P/cni\""
  } >"$P/containers.conf"
  log "podman: import busybox, start $N containers (${init_flag[*]:-no init}, --network none)"
  imported=0
  if [ -d /var/lib/containers ]; then
    # The blob-info cache goes to a temp dir, not /var/lib/containers/cache.
    unshare -m --propagation private sh -c 'mount --bind "$1" /var/lib/containers && shift && exec "$@"' \
      sh "$P/varlibcontainers" env CONTAINERS_CONF="$P/containers.conf" TMPDIR="$P/tmp" \
      podman "${podman_global[@]}" import "$tmp/busybox-rootfs.tar" localhost/busybox:latest >/dev/null 2>"$tmp/podman.err" && imported=1
  else
    pm import "$tmp/busybox-rootfs.tar" localhost/busybox:latest >/dev/null 2>"$tmp/podman.err" && imported=1
  fi
  if [ "$imported" = 1 ]; then
    podman_ok=1
    for i in $(seq "$N"); do
      if ! id=$(pm run -d --pull never --network none "${init_flag[@]}" --name "bench-shim-$i" \
        localhost/busybox:latest sleep 100000 2>"$tmp/podman.err"); then
        podman_ok=0
        break
      fi
      podman_ids+=("$id")
    done
  fi
  t_podman=$(now)
  if [ "$podman_ok" = 1 ]; then
    for id in "${podman_ids[@]}"; do
      pid=$(pm inspect --format '{{.State.ConmonPid}}' "$id")
      [[ $pid =~ ^[1-9][0-9]*$ ]] && grep -qF "$P" "/proc/$pid/cmdline" ||
        die "PID '$pid' is not the conmon of podman container $id"
      conmon_pids+=("$pid")
    done
    conmon_exe=$(readlink "/proc/${conmon_pids[0]}/exe")
    log "conmons: ${conmon_pids[*]} ($conmon_exe)"
    sleep_until "$(awk -v t="$t_podman" -v e="$EARLY" 'BEGIN { printf "%.3f", t + e }')"
    podman_early_age=$(age "$t_podman")
    log "conmons ${podman_early_age} s after the last start"
    m=$(sample conmon "${conmon_pids[@]}")
    read -r c_rss1 c_pss1 c_priv1 <<<"$m"
  else
    podman_why="podman could not run a container here: $(tail -n 3 "$tmp/podman.err" | tr '\n' ' ')"
    warn "$podman_why"
    warn "no podman column"
  fi
fi

# ------------------------------------------------------------ steady state
sleep_until "$(awk -v t="$t_berth" -v s="$SETTLE" 'BEGIN { printf "%.3f", t + s }')"
berth_age=$(age "$t_berth")
log "berth shims ${berth_age} s after the last start"
m=$(sample "berth-shim" "${shim_pids[@]}")
read -r b_rss b_pss b_priv <<<"$m"
if [ "$podman_ok" = 1 ]; then
  sleep_until "$(awk -v t="$t_podman" -v s="$SETTLE" 'BEGIN { printf "%.3f", t + s }')"
  podman_age=$(age "$t_podman")
  log "conmons ${podman_age} s after the last start"
  m=$(sample conmon "${conmon_pids[@]}")
  read -r c_rss c_pss c_priv <<<"$m"
fi

# ----------------------------------------------------------------- report
ratio() { # ratio A B
  if [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "—"; fi
}
col() { if [ -n "$1" ]; then echo "$1"; else echo "—"; fi; }
[ "$podman_ok" = 1 ] || c_rss="" c_pss="" c_priv="" c_rss1="" c_pss1="" c_priv1=""
case $(stat -fc %T /sys/fs/cgroup) in cgroup2fs) cg="cgroup v2" ;; *) cg="cgroup v1" ;; esac
shim_mib=$(awk -v s="$shim_size" 'BEGIN { printf "%.1f", s / 1048576 }')
berth_version=$("$BERTH" version 2>/dev/null | head -n1)
table() { # table RSS PSS PRIV CRSS CPSS CPRIV
  echo "| KiB per supervisor | berth shim | conmon | berth/conmon |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| VmRSS | $1 | $(col "$4") | $(ratio "$1" "$4") |"
  echo "| Pss | $2 | $(col "$5") | $(ratio "$2" "$5") |"
  echo "| private (Private_Clean + Private_Dirty) | $3 | $(col "$6") | $(ratio "$3" "$6") |"
}
report() {
  echo "# Per-container supervisor memory: berth's shim beside podman's conmon"
  echo
  echo "Written by \`hack/bench-shim.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). $N containers per tool, each"
  echo "\`sleep 100000\` from the same busybox image, $init_note, \`--network none\`;"
  echo "the mean over the $N supervisor processes, in KiB: VmRSS from \`/proc/PID/status\`, Pss and"
  echo "Private_Clean + Private_Dirty from \`/proc/PID/smaps_rollup\`."
  echo
  if [ "$podman_ok" = 1 ]; then
    echo "Steady state: berth's shims ${berth_age} s and the conmons ${podman_age} s after their tool's last start."
  else
    echo "Steady state: berth's shims ${berth_age} s after the last start."
  fi
  echo
  table "$b_rss" "$b_pss" "$b_priv" "${c_rss:-}" "${c_pss:-}" "${c_priv:-}"
  echo
  if [ "$podman_ok" = 1 ]; then
    echo "Early: berth's shims ${berth_early_age} s and the conmons ${podman_early_age} s after the last start."
  else
    echo "Early: berth's shims ${berth_early_age} s after the last start."
  fi
  echo
  table "$b_rss1" "$b_pss1" "$b_priv1" "${c_rss1:-}" "${c_pss1:-}" "${c_priv1:-}"
  echo
  echo "- berth: \`$berth_version\`; shim binary $shim_size bytes ($shim_mib MiB), $shim_kind;"
  echo "  runtime $(runc --version | head -n1)."
  if [ "$podman_ok" = 1 ]; then
    echo "- podman: $(podman --version | sed 's/^podman version //'), $("$conmon_exe" --version | head -n1)" \
      "($conmon_exe), runc, cgroupfs, a private store and run root."
  else
    echo "- podman: no figures ($podman_why)."
  fi
  echo "- host: Linux $(uname -r), $cg, $(nproc) CPUs."
  echo "- Pss divides each shared page among the processes that map it: the berth shims share their"
  if [ "$init_shares" = 1 ]; then
    echo "  binary's pages with each other and with the container inits (the same file)."
  else
    echo "  binary's pages with each other."
  fi
  if [ "$podman_ok" = 1 ]; then
    echo "  The conmons share theirs, and their shared libraries (glib, libc), with each other and"
    echo "  any other process using them."
  fi
  echo "  Private pages are the supervisor's own: what each further container costs."
}
report | tee "$OUT"
log "wrote ${OUT#"$repo"/}"
