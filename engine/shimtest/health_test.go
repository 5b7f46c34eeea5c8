package shimtest

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// waitHealth polls health.json until ok says so, checking each reading with
// check (if set).
func (e *env) waitHealth(what string, check func(health), ok func(health) bool) health {
	e.t.Helper()
	deadline := time.Now().Add(exitTimeout)
	var last []byte
	for time.Now().Before(deadline) {
		h, raw, err := readHealth(e)
		if err == nil {
			if check != nil {
				check(h)
			}
			if ok(h) {
				return h
			}
		} else if raw != nil {
			e.t.Fatalf("%v", err)
		}
		last = raw
		time.Sleep(pollEvery)
	}
	e.t.Fatalf("health.json never %s; last %s", what, last)
	return health{}
}

// checkHealthEntries checks each result's times and exit code.
func checkHealthEntries(t *testing.T, h health, lo, hi time.Time) {
	t.Helper()
	for i, r := range h.Log {
		start := parseTime(t, "health start", r.Start)
		end := parseTime(t, "health end", r.End)
		requireTimeBetween(t, "health start", start, lo, hi)
		if end.Before(start) {
			t.Errorf("health result %d ends before it starts: %+v", i, r)
		}
		if r.ExitCode == nil {
			t.Errorf("health result %d without exit_code", i)
		}
	}
}

// requireNoProbeAfterExit checks that no healthcheck ran after the
// container's runtime state was deleted.
func (e *env) requireNoProbeAfterExit() {
	e.t.Helper()
	deleted := false
	for _, c := range e.calls() {
		switch v, _ := callVerb(c); v {
		case "delete":
			deleted = true
		case "exec":
			if deleted {
				e.t.Errorf("healthcheck after the container exited: %q", c)
			}
		}
	}
}

const runUntilReleased = waitFor + "waitfor release\n"

// TestHealthHealthy: a passing check makes the container healthy; each
// result is recorded (start, end, exit code, output), the last five kept;
// the check runs through the runtime's exec; it stops with the container.
func TestHealthHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, runUntilReleased)
	before := time.Now()
	s := e.startShim("--health-test", "CMD-SHELL", "--health-test", "echo ok; exit 0", "--health-interval", "100ms")
	s.mustStart()
	h := e.waitHealth("healthy", nil, func(h health) bool { return h.Status == "healthy" })
	if *h.FailingStreak != 0 || len(h.Log) == 0 {
		t.Errorf("healthy: %+v", h)
	}
	checkHealthEntries(t, h, before, time.Now())
	if r := h.Log[len(h.Log)-1]; *r.ExitCode != 0 || r.Output != "ok\n" {
		t.Errorf("result %+v, want exit code 0, output \"ok\\n\"", r)
	}
	execs := e.verbCalls("exec")
	want := ctrstate.RuntimeArgs(e.runtimeRoot(), "exec", "--pid-file", e.path("health.pid"), e.id, "/bin/sh", "-c", "echo ok; exit 0")
	if len(execs) == 0 || !sameArgs(execs[0], want) {
		t.Fatalf("runtime exec %q, want %q", execs, want)
	}
	// Only the last five results are kept.
	eventually(t, exitTimeout, "seven checks", func() bool { return len(e.verbCalls("exec")) >= 7 })
	h = e.waitHealth("holding 5 results", nil, func(h health) bool { return len(h.Log) >= 5 })
	if len(h.Log) != 5 {
		t.Errorf("%d results kept, want 5", len(h.Log))
	}
	e.touch("release")
	s.waitExit0()
	e.requireNoProbeAfterExit()
	s.requireNoLeftovers()
	e.requireNoTempFiles()
}

// TestHealthUnhealthy: a failing check counts a failing streak and makes
// the container unhealthy after --health-retries failures.
func TestHealthUnhealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, runUntilReleased)
	s := e.startShim("--health-test", "CMD-SHELL", "--health-test", "echo bad >&2; exit 1",
		"--health-interval", "100ms", "--health-retries", "2")
	s.mustStart()
	sawStreak1 := false
	check := func(h health) {
		switch {
		case h.Status == "starting" && *h.FailingStreak == 1:
			sawStreak1 = true
		case h.Status == "unhealthy" && *h.FailingStreak >= 2:
		case h.Status == "starting" && *h.FailingStreak == 0 && len(h.Log) == 0:
		default:
			t.Errorf("health.json status %q with failing_streak %d and %d results", h.Status, *h.FailingStreak, len(h.Log))
		}
	}
	h := e.waitHealth("unhealthy", check, func(h health) bool { return h.Status == "unhealthy" })
	if !sawStreak1 {
		t.Error("never saw status starting with failing_streak 1 (one failure short of retries)")
	}
	r := h.Log[len(h.Log)-1]
	if *r.ExitCode != 1 || r.Output != "bad\n" {
		t.Errorf("result %+v, want exit code 1, output \"bad\\n\" (stderr kept)", r)
	}
	// The streak goes on counting.
	e.waitHealth("failing_streak 4", check, func(h health) bool { return *h.FailingStreak >= 4 })
	e.touch("release")
	s.waitExit0()
	e.requireNoProbeAfterExit()
	s.requireNoLeftovers()
}

// TestHealthTimeout: a check that outlives --health-timeout is killed and
// recorded with exit code -1.
func TestHealthTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, runUntilReleased)
	probe := "echo $$ >>probes; exec sleep 30"
	s := e.startShim("--health-test", "CMD", "--health-test", "/bin/sh", "--health-test", "-c", "--health-test", probe,
		"--health-interval", "100ms", "--health-timeout", "200ms")
	s.mustStart()
	h := e.waitHealth("a result", nil, func(h health) bool { return len(h.Log) > 0 })
	r := h.Log[0]
	if *r.ExitCode != -1 || !strings.HasPrefix(r.Output, "Health check exceeded timeout") {
		t.Errorf("result %+v, want exit code -1 and \"Health check exceeded timeout (200ms)\"", r)
	}
	if r.Output != "Health check exceeded timeout (200ms)" {
		t.Logf("note: timeout output %q differs from the Go shim's \"Health check exceeded timeout (200ms)\"", r.Output)
	}
	if d := parseTime(t, "end", r.End).Sub(parseTime(t, "start", r.Start)); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("the timed-out check took %v, want about 200ms", d)
	}
	if h.Status != "starting" || *h.FailingStreak != 1 {
		t.Errorf("after one timeout: status %q, failing_streak %d; want starting, 1", h.Status, *h.FailingStreak)
	}
	execs := e.verbCalls("exec")
	want := ctrstate.RuntimeArgs(e.runtimeRoot(), "exec", "--pid-file", e.path("health.pid"), e.id, "/bin/sh", "-c", probe)
	if len(execs) == 0 || !sameArgs(execs[0], want) {
		t.Fatalf("runtime exec %q, want %q", execs, want)
	}
	// The first check (its process is the pid file's) was killed.
	b, _ := os.ReadFile(e.bundle + "/probes")
	first, _, _ := strings.Cut(string(b), "\n")
	pid := atoi(t, first)
	eventually(t, 5*time.Second, "the timed-out check to be killed", func() bool { return !alive(pid) })
	e.touch("release")
	s.waitExit0()
	e.requireNoProbeAfterExit()
	// (A check still running when the container exits is left to the
	// runtime, which ends it with the container: not checked here.)
}

// TestHealthStarting: health.json says starting, with no results, from
// the moment the container is reported running; the shim does not wait for
// the next check to exit with its container.
func TestHealthStarting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, runUntilReleased)
	s := e.startShim("--health-test", "CMD-SHELL", "--health-test", "exit 0", "--health-interval", "1h")
	s.mustStart()
	h, raw, err := readHealth(e)
	if err != nil {
		t.Fatalf("health.json at readiness: %v", err)
	}
	if h.Status != "starting" || *h.FailingStreak != 0 || len(h.Log) != 0 {
		t.Errorf("health.json at readiness: %s, want status starting, no results", raw)
	}
	e.touch("release")
	released := time.Now()
	s.waitExit0()
	if d := time.Since(released); d > 5*time.Second {
		t.Errorf("the shim exited %v after its container", d)
	}
	if n := len(e.verbCalls("exec")); n != 0 {
		t.Errorf("%d checks with a 1h interval", n)
	}
}

// TestHealthStartPeriod: during --health-start-period checks run every
// --health-start-interval and their failures do not count.
func TestHealthStartPeriod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, runUntilReleased)
	s := e.startShim("--health-test", "CMD-SHELL", "--health-test", "exit 3", "--health-interval", "1h",
		"--health-start-period", "1h", "--health-start-interval", "100ms", "--health-retries", "1")
	s.mustStart()
	h := e.waitHealth("3 results", func(h health) {
		if h.Status != "starting" || *h.FailingStreak != 0 {
			t.Errorf("in the start period: status %q, failing_streak %d; want starting, 0", h.Status, *h.FailingStreak)
		}
	}, func(h health) bool { return len(h.Log) >= 3 })
	if *h.Log[0].ExitCode != 3 {
		t.Errorf("result %+v, want exit code 3", h.Log[0])
	}
	e.touch("release")
	s.waitExit0()
}
