package shimtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// observation is one reading of state.json while the shim runs.
type observation struct {
	status       string
	hasPid       bool
	exitCode     int
	restartCount int
	hasShimPid   bool
	hasFinished  bool
}

// observeUntilExit reads state.json as often as it can until the shim
// exits, returning the distinct readings in order.
func observeUntilExit(s *shim) []observation {
	return observeUntil(s, func(observation) bool { return false })
}

// observeUntil reads state.json as often as it can until the shim exits or
// stop says so of a reading, returning the distinct readings in order.
func observeUntil(s *shim, stop func(observation) bool) []observation {
	var out []observation
	deadline := time.Now().Add(exitTimeout)
	for !s.exited() && time.Now().Before(deadline) {
		if st, err := readState(s.e); err == nil {
			o := observation{status: st.Status, hasPid: st.Pid != nil, restartCount: st.RestartCount,
				hasShimPid: st.ShimPid != nil, hasFinished: st.FinishedAt != nil}
			if st.ExitCode != nil {
				o.exitCode = *st.ExitCode
			}
			if len(out) == 0 || out[len(out)-1] != o {
				out = append(out, o)
			}
			if stop(o) {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

// restartGaps returns the shim's back-off before each restart: the time
// between the runtime's delete of a run and the start of its run of the
// next, on the fake runtime's boot clock (ROOT/times). The clock moves in
// steps of clockStep, so a gap may read up to one step short.
func (e *env) restartGaps() []time.Duration {
	e.t.Helper()
	b, _ := os.ReadFile(filepath.Join(e.runtimeRoot(), "times"))
	var gaps []time.Duration
	var deleted time.Duration // the last delete's end; 0: none since the last run
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		event, secs, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(secs, 64)
		if !ok || err != nil {
			e.t.Fatalf("fake runtime's times: line %q", line)
		}
		at := time.Duration(f * float64(time.Second))
		switch event {
		case "delete-end":
			deleted = at
		case "create-start":
			if deleted != 0 {
				gaps = append(gaps, at-deleted)
			}
			deleted = 0
		}
	}
	return gaps
}

// clockStep is the resolution of /proc/uptime, which the fake runtime reads.
const clockStep = 10 * time.Millisecond

// TestRestartOnFailure: on-failure:2 restarts a failing container twice
// with a growing back-off, state.json saying restarting (without a pid) in
// between and counting the restarts; then it stays exited.
func TestRestartOnFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "echo run\nexit 1\n")
	s := e.startShim("--restart", "on-failure:2")
	s.mustStart()
	obs := observeUntilExit(s)
	s.waitExit0()
	st := e.state()
	if st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 1 || st.RestartCount != 2 || st.ShimPid == nil || st.FinishedAt == nil {
		t.Errorf("final state.json: %s, want exited, exit code 1, restart_count 2", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != 3 {
		t.Errorf("%d runs, want 3", n)
	}
	if n := len(e.verbCalls("delete")); n != 3 {
		t.Errorf("%d deletes, want 3 (one a run)", n)
	}
	// Between the runs: restarting, no pid, the last run's exit code, the
	// restarts so far.
	restarting := map[int]bool{}
	for _, o := range obs {
		switch o.status {
		case ctrstate.StatusRestarting:
			if o.hasPid || o.exitCode != 1 || !o.hasShimPid || !o.hasFinished {
				t.Errorf("restarting state %+v: want no pid, exit code 1, shim_pid and finished_at", o)
			}
			restarting[o.restartCount] = true
		case ctrstate.StatusRunning:
			if !o.hasPid {
				t.Errorf("running state without a pid: %+v", o)
			}
		case ctrstate.StatusExited:
		default:
			t.Errorf("state %+v", o)
		}
	}
	if !restarting[0] || !restarting[1] || len(restarting) != 2 {
		t.Errorf("restarting seen with restart counts %v, want 0 and 1; observations %+v", restarting, obs)
	}
	// Back-off 100ms, then 200ms (loosely: at least that, not absurdly more).
	gaps := e.restartGaps()
	if len(gaps) != 2 {
		t.Fatalf("restart gaps %v, want 2", gaps)
	}
	for i, min := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		if gaps[i] < min-clockStep || gaps[i] > min+3*time.Second {
			t.Errorf("run %d started %v after run %d ended, want about %v", i+2, gaps[i], i+1, min)
		}
	}
	e.requireNoTempFiles()
	s.requireNoLeftovers()
	if got := len(streamLogs(e.readLog(), "stdout")); got != 3 {
		t.Errorf("%d log entries, want one a run", got)
	}
}

// TestRestartOnFailureSuccess: on-failure does not restart a container
// that exited 0.
func TestRestartOnFailureSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "exit 0\n")
	s := e.startShim("--restart", "on-failure")
	s.mustStart()
	s.waitExit0()
	if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 0 || st.RestartCount != 0 {
		t.Errorf("state.json: %s", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// TestRestartAlwaysStopping: always restarts a container that exited 0,
// but not once the engine wrote the stopping marker.
func TestRestartAlwaysStopping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, waitFor+`n=$(cat count 2>/dev/null || echo 0)
n=$((n+1))
echo $n >count
waitfor release.$n
exit 0
`)
	s := e.startShim("--restart", "always")
	s.mustStart()
	e.touch("release.1")
	st := e.waitState("running again with restart_count 1", func(st state) bool {
		return st.Status == ctrstate.StatusRunning && st.RestartCount == 1
	})
	if st.Pid == nil {
		t.Fatalf("running without a pid: %s", e.rawState())
	}
	if err := os.WriteFile(e.path(ctrstate.StoppingFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.touch("release.2")
	s.waitExit0()
	// Exit code 0; or 137 if the marker came while the shim still checked
	// for it after the restart (it then kills the container: the engine's
	// signal may have come before the container was there to get it).
	if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || (*st.ExitCode != 0 && *st.ExitCode != 137) || st.RestartCount != 1 {
		t.Errorf("state.json: %s, want exited, exit code 0, restart_count 1", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	s.requireNoLeftovers()
}

// TestRestartBackoffAndStop: the back-off doubles (100ms, 200ms, 400ms,
// 800ms…); the stopping marker written while the shim waits to restart
// ends the wait at once: the container is recorded exited, not started
// again.
func TestRestartBackoffAndStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "exit 2\n")
	s := e.startShim("--restart", "unless-stopped")
	s.mustStart()
	obs := observeUntil(s, func(o observation) bool {
		return o.status == ctrstate.StatusRestarting && o.restartCount == 4
	})
	if last := obs[len(obs)-1]; last.status != ctrstate.StatusRestarting || last.restartCount != 4 {
		t.Fatalf("never restarting after 5 runs: %+v", obs)
	}
	// The back-off is 1.6s now.
	creates := len(e.verbCalls("run"))
	if err := os.WriteFile(e.path(ctrstate.StoppingFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	marked := time.Now()
	s.waitExit0()
	if d := time.Since(marked); d > time.Second {
		t.Errorf("the shim took %v to stop after the marker, in a back-off of 1.6s", d)
	}
	st := e.state()
	if st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 2 || st.RestartCount != 4 {
		t.Errorf("state.json: %s, want exited, exit code 2, restart_count 4", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != creates || n != 5 {
		t.Errorf("%d runs, %d when the marker was written; want 5", n, creates)
	}
	gaps := e.restartGaps()
	if len(gaps) != 4 {
		t.Fatalf("restart gaps %v, want 4", gaps)
	}
	// Loosely: each at least its delay, the last far longer than the first.
	for i, min := range []time.Duration{100, 200, 400, 800} {
		if gaps[i] < min*time.Millisecond-clockStep {
			t.Errorf("back-off %d: %v, want at least %v", i+1, gaps[i], min*time.Millisecond)
		}
	}
	// The fourth waits 700ms longer than the first; a loaded machine adds
	// hundreds of ms of its own to any gap (starting the runtime), so only
	// a clear part of that difference is asked for: a constant back-off
	// still fails.
	if gaps[3]-gaps[0] < 200*time.Millisecond {
		t.Errorf("back-offs %v do not grow", gaps)
	}
	s.requireNoLeftovers()
}

// TestRestartPolicyFile: a restart policy the engine writes while the
// container runs (update --restart) is the shim's from the next exit on:
// started with none, the container is restarted once the file says
// on-failure:1, and no more after that one restart.
func TestRestartPolicyFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, waitFor+`n=$(cat count 2>/dev/null || echo 0)
n=$((n+1))
echo $n >count
waitfor release.$n
exit 3
`)
	s := e.startShim()
	s.mustStart()
	if err := os.WriteFile(e.path(ctrstate.RestartFile), []byte("on-failure:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.touch("release.1")
	e.waitState("running again with restart_count 1", func(st state) bool {
		return st.Status == ctrstate.StatusRunning && st.RestartCount == 1
	})
	e.touch("release.2")
	s.waitExit0()
	if st := e.state(); st.Status != ctrstate.StatusExited || st.ExitCode == nil || *st.ExitCode != 3 || st.RestartCount != 1 {
		t.Errorf("state.json: %s, want exited, exit code 3, restart_count 1", e.rawState())
	}
	if n := len(e.verbCalls("run")); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	s.requireNoLeftovers()
}
