#!/bin/sh
# A fake OCI runtime for the shim's black-box tests: runc's command line
# (global --root, --log-format, --log, then run, create, start, delete or
# exec), no containers. The tests copy it into a temporary directory.
#
# create starts the container's "process" in the background with the stdio
# the shim gave it: a shell that waits on a fifo until start, then runs
# bundle/cmd (with sh, in the bundle directory). With --console-socket the
# test binary (SHIMTEST_EXE, in helper mode) makes a terminal, sends its
# master side to the socket and becomes that process. start opens the
# fifo; run --detach is create then start. delete removes the container's
# "state", the directory ROOT/ID (delete --force kills the process first);
# exec runs its command (with the host's view of files, in the bundle
# directory) as a child whose pid it writes to --pid-file, and exits with
# its status.
#
# Every call is appended to ROOT/calls, one line each, its arguments
# separated by \037. The start of each run or create and the end of each
# delete are appended to ROOT/times ("create-start SECONDS", "delete-end
# SECONDS"), read from the boot clock (/proc/uptime, 10ms steps) by the
# shell itself, without a fork: the shim's back-off between a run's delete
# and the next run, without the work of the runtime, which a busy machine
# stretches.
#
# Failures are asked for by files in the bundle: create-fail (run or
# create) and start-fail (run or start) hold lines appended to the --log
# file before the command exits 1.

read -r began _ </proc/uptime
calls=$(printf '%s\037' "$@")
root= log=
while [ $# -gt 0 ]; do
	case "$1" in
	--root) root=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--log-format) shift 2 ;;
	--*) echo "fake runtime: unknown global flag $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ -n "$root" ] || { echo "fake runtime: no --root" >&2; exit 2; }
mkdir -p "$root"
printf '%s\n' "$calls" >>"$root/calls"

fail() {
	[ -n "$log" ] && printf '{"level":"error","msg":"%s","time":"%s"}\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
	echo "$1" >&2
	exit 1
}

cmd=$1
shift
# create_ makes the container with the flags of create (and run's
# --detach), its process waiting on the fifo ROOT/ID/go.
create_() {
	echo "create-start $began" >>"$root/times"
	bundle= pidfile= console= preserve=0
	while [ $# -gt 1 ]; do
		case "$1" in
		--bundle) bundle=$2; shift 2 ;;
		--pid-file) pidfile=$2; shift 2 ;;
		--console-socket) console=$2; shift 2 ;;
		--preserve-fds) preserve=$2; shift 2 ;;
		--detach) [ "$cmd" = run ] || fail "create: unknown flag $1"; shift ;;
		*) fail "$cmd: unknown flag $1" ;;
		esac
	done
	id=$1
	st=$root/$id
	if [ -f "$bundle/create-fail" ]; then
		cat "$bundle/create-fail" >>"$log"
		exit 1
	fi
	[ -d "$bundle" ] || fail "bundle $bundle does not exist"
	[ -e "$st" ] && fail "container with id exists: $id"
	mkdir "$st" || fail "mkdir $st"
	mkfifo "$st/go" || fail "mkfifo"
	printf '%s\n' "$bundle" >"$st/bundle"
	[ "$preserve" -ge 1 ] || exec 3>&-
	exec 5<&0
	# The process is the child of a subshell that exits at once: as runc's,
	# it is then the shim's (a subreaper), and no shell of this script can
	# reap it when it exits early.
	(
		if [ -n "$console" ]; then
			SHIMTEST_HELPER=console "$SHIMTEST_EXE" "$console" "$st/go" "$bundle" <&5 5<&- &
		else
			(
				read _ <"$st/go"
				cd "$bundle" || exit 111
				exec /bin/sh ./cmd
			) <&5 5<&- &
		fi
		echo $! >"$st/pid"
	)
	read -r pid <"$st/pid"
	printf '%s' "$pid" >"$pidfile"
}

# start_ lets container $1's process run.
start_() {
	id=$1
	st=$root/$id
	[ -d "$st" ] || fail "container $id does not exist"
	read -r bundle <"$st/bundle"
	if [ -f "$bundle/start-fail" ]; then
		cat "$bundle/start-fail" >>"$log"
		# as runc run's: a process that cannot start is not left behind
		if [ "$cmd" = run ]; then
			read -r pid <"$st/pid"
			kill -9 "$pid" 2>/dev/null
			rm -rf "$st"
		fi
		exit 1
	fi
	echo go >"$st/go"
}

case "$cmd" in
create)
	create_ "$@"
	;;
run)
	create_ "$@"
	start_ "$id"
	;;
start)
	start_ "$1"
	;;
delete)
	force=
	if [ "$1" = --force ]; then
		force=1
		shift
	fi
	id=$1
	st=$root/$id
	[ -d "$st" ] || fail "container $id does not exist"
	pid=$(cat "$st/pid")
	if [ -n "$force" ]; then
		kill -9 "$pid" 2>/dev/null
	elif [ -d "/proc/$pid" ] && ! grep -q '^State:.*[ZX]' "/proc/$pid/status" 2>/dev/null; then
		fail "cannot delete container $id that is not stopped"
	fi
	rm -rf "$st"
	read -r ended _ </proc/uptime
	echo "delete-end $ended" >>"$root/times"
	;;
exec)
	pidfile=
	while [ $# -gt 0 ]; do
		case "$1" in
		--pid-file) pidfile=$2; shift 2 ;;
		--*) fail "exec: unknown flag $1" ;;
		*) break ;;
		esac
	done
	id=$1
	shift
	[ -d "$root/$id" ] || fail "container $id does not exist"
	cd "$(cat "$root/$id/bundle")" || exit 1
	# As runc's, the process in the container is not the runtime's own:
	# the pid file names it, the runtime waits for it and exits with its
	# status.
	"$@" &
	child=$!
	[ -n "$pidfile" ] && printf '%s' $child >"$pidfile"
	wait $child
	;;
*)
	fail "unknown command $cmd"
	;;
esac
