package shimtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// fakeBerth is the berth binary as far as auto-removal needs it: it records
// its arguments, its session and descriptors, and the state.json it found,
// in the file "removed" beside itself, and writes a line to its stderr.
const fakeBerth = `#!/bin/sh
out=$(dirname "$0")/removed
eval id=\${$#}
fd0=$(readlink /proc/$$/fd/0)
fd1=$(readlink /proc/$$/fd/1)
{
	printf '%s\037' "$@"
	echo
	echo "$$ $(cut -d' ' -f6 /proc/$$/stat)"
	echo "$fd0"
	echo "$fd1"
	cat "$2/containers/$id/state.json"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "fake-berth: removing $id" >&2
`

func (e *env) writeFakeBerth() string {
	e.t.Helper()
	p := filepath.Join(filepath.Dir(e.runtime), "fake-berth")
	if err := os.WriteFile(p, []byte(fakeBerth), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestAutoRemove: with --auto-remove, once the container exited for good
// the shim starts `BERTH --root ROOT --run-dir RUN --runtime RT container rm
// ID` in its own session, stdin and stdout on /dev/null, stderr the shim's.
func TestAutoRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "exit 1\n")
	berth := e.writeFakeBerth()
	s := e.startShim("--auto-remove", "--berth", berth, "--restart", "on-failure:1")
	s.mustStart()
	s.waitExit0()
	b := waitFile(t, filepath.Join(filepath.Dir(berth), "removed"))
	lines := strings.SplitN(string(b), "\n", 5)
	if len(lines) != 5 {
		t.Fatalf("removed: %q", b)
	}
	args := strings.Split(strings.TrimSuffix(lines[0], "\x1f"), "\x1f")
	want := []string{"--root", e.root, "--run-dir", e.runDir, "--runtime", e.runtime, "container", "rm", e.id}
	if !sameArgs(args, want) {
		t.Errorf("remover args %q, want %q", args, want)
	}
	if f := strings.Fields(lines[1]); len(f) != 2 || f[0] != f[1] {
		t.Errorf("remover pid and session %q: want its own session", lines[1])
	}
	if lines[2] != os.DevNull || lines[3] != os.DevNull {
		t.Errorf("remover stdin %q, stdout %q; want %s", lines[2], lines[3], os.DevNull)
	}
	// Only once the container is exited for good: after its restart.
	if !strings.Contains(lines[4], `"status":"exited"`) || !strings.Contains(lines[4], `"restart_count":1`) {
		t.Errorf("the remover found state.json %s, want exited after 1 restart", lines[4])
	}
	eventually(t, 5*time.Second, "the remover's stderr in shim.log", func() bool {
		return strings.Contains(e.shimLog(), "fake-berth: removing "+e.id)
	})
	if n := len(e.verbCalls("run")); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}

// TestNoAutoRemove: without --auto-remove the remover is not started.
func TestNoAutoRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "exit 0\n")
	berth := e.writeFakeBerth()
	s := e.startShim("--berth", berth)
	s.mustStart()
	s.waitExit0()
	// The shim would have started it before exiting; give it time to write.
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(filepath.Dir(berth), "removed")); err == nil {
		t.Error("berth container rm started without --auto-remove")
	}
}

// TestDebugLog: the shim's stderr (shim.log) holds lines starting with an
// RFC 3339 time; with --debug, the runtime's command lines.
func TestDebugLog(t *testing.T) {
	t.Parallel()
	for _, debug := range []bool{true, false} {
		name := "debug"
		if !debug {
			name = "quiet"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "echo hi\n")
			before := time.Now()
			var s *shim
			if debug {
				s = e.startShim("--debug")
			} else {
				s = e.startShim()
			}
			s.mustStart()
			s.waitExit0()
			log := e.shimLog()
			for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
				if line == "" {
					continue
				}
				ts, _, _ := strings.Cut(line, " ")
				tm, err := time.Parse(time.RFC3339Nano, ts)
				if err != nil {
					t.Errorf("shim.log line without a leading RFC 3339 time: %q", line)
					continue
				}
				requireTimeBetween(t, "shim.log time", tm, before, time.Now())
			}
			cmdLines := [][]string{
				e.rt("--log", e.path(ctrstate.RuntimeLog), "run", "--detach", "--bundle", e.bundle, "--pid-file", e.path(ctrstate.InitPidFile), e.id),
				e.rt("delete", e.id),
			}
			for _, argv := range cmdLines {
				has := strings.Contains(log, strings.Join(argv, " "))
				if debug && !has {
					t.Errorf("shim.log does not hold the command line %q:\n%s", strings.Join(argv, " "), log)
				}
				if !debug && has {
					t.Errorf("shim.log holds the command line %q without --debug", strings.Join(argv, " "))
				}
			}
		})
	}
}

// TestInitFlag: with --init the container's process is the init, given a
// readiness pipe as its fd 3 (--preserve-fds 1): the shim reports the
// container running only once the init wrote on it.
func TestInitFlag(t *testing.T) {
	t.Parallel()
	t.Run("waits for the init", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, waitFor+`sleep 0.4
exec "$SHIMTEST_INIT" --ready-fd=3 -- sh -c '`+waitFor+`echo child; waitfor release; exit 5'
`)
		s := e.startShim("--init")
		s.mustStart()
		if d := time.Since(s.start); d < 400*time.Millisecond {
			t.Errorf("ready %v after the start, before the init was", d)
		}
		run := e.verbCalls("run")
		want := ctrstate.RuntimeArgs(e.runtimeRoot(), "--log", e.path(ctrstate.RuntimeLog), "run", "--detach", "--bundle", e.bundle,
			"--pid-file", e.path(ctrstate.InitPidFile), "--preserve-fds", "1", e.id)
		if len(run) != 1 || !sameArgs(run[0], want) {
			t.Errorf("run %q, want %q", run, want)
		}
		e.waitLog("stdout", "child")
		e.touch("release")
		s.waitExit0()
		if st := e.state(); st.ExitCode == nil || *st.ExitCode != 5 {
			t.Errorf("state.json: %s, want exit code 5", e.rawState())
		}
		s.requireNoLeftovers()
	})
	t.Run("init dies before ready", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "exec 3>&-\nexit 9\n")
		s := e.startShim("--init")
		s.mustStart()
		if d := time.Since(s.start); d > 5*time.Second {
			t.Errorf("ready only after %v", d)
		}
		s.waitExit0()
		if st := e.state(); st.ExitCode == nil || *st.ExitCode != 9 {
			t.Errorf("state.json: %s, want exit code 9", e.rawState())
		}
	})
}
