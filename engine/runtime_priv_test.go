package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/testutil"
)

// runToExit runs cfg to its end and returns its state and log text.
func runUntilExit(t *testing.T, e *Engine, cfg ContainerConfig) (State, string) {
	t.Helper()
	id := mustCreate(t, e, cfg)
	t.Cleanup(func() { _ = e.Remove(context.WithoutCancel(t.Context()), id, true) }) // t.Context is done by now
	if err := e.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	st := waitExited(t, e, id)
	var b strings.Builder
	for _, l := range readLogs(t, e, id, LogOptions{Tail: -1}) {
		b.WriteString(l.Text + "\n")
	}
	return st, b.String()
}

func TestPrivSecuritySettings(t *testing.T) {
	e := newPrivEngine(t)
	t.Run("read_only root refuses writes", func(t *testing.T) {
		cfg := busybox("ro", "sh", "-c", "touch /x && echo wrote; touch /tmp/y 2>/dev/null; exit 0")
		cfg.ReadOnly = true
		st, logs := runUntilExit(t, e, cfg)
		if st.ExitCode != 0 || strings.Contains(logs, "wrote") || !strings.Contains(logs, "Read-only file system") {
			t.Errorf("state %+v, logs %q", st, logs)
		}
	})
	t.Run("cap_drop ALL denies chown", func(t *testing.T) {
		cfg := busybox("nocaps", "sh", "-c", "touch /f && chown 1:1 /f")
		cfg.CapDrop = []string{"ALL"}
		st, logs := runUntilExit(t, e, cfg)
		if st.ExitCode == 0 || !strings.Contains(logs, "Operation not permitted") {
			t.Errorf("state %+v, logs %q", st, logs)
		}
		st, _ = runUntilExit(t, e, busybox("caps", "sh", "-c", "touch /f && chown 1:1 /f"))
		if st.ExitCode != 0 {
			t.Errorf("chown with the default capabilities: %+v", st)
		}
	})
	t.Run("ulimit clamped to the host's hard limit", func(t *testing.T) {
		cfg := busybox("ulimit", "sh", "-c", "ulimit -Hn; ulimit -Sn; ulimit -Hu")
		cfg.Ulimits = map[string]Ulimit{"nofile": {Soft: 1 << 24, Hard: 1 << 24}, "nproc": {Soft: 300, Hard: 400}}
		st, logs := runUntilExit(t, e, cfg)
		var host unixRlimit
		host.get(t)
		want := host.nofileHard + "\n" + host.nofileHard + "\n400\n"
		if st.ExitCode != 0 || logs != want {
			t.Errorf("state %+v, logs %q, want %q", st, logs, want)
		}
	})
	t.Run("sysctls, domainname, shm_size, oom_score_adj, no-new-privileges", func(t *testing.T) {
		cfg := busybox("misc", "sh", "-c", "cat /proc/sys/net/core/somaxconn; hostname -d 2>/dev/null || cat /proc/sys/kernel/domainname; df -k /dev/shm | tail -1; cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status")
		cfg.Sysctls = map[string]string{"net.core.somaxconn": "777"}
		cfg.Domainname = "example.org"
		cfg.ShmSize = 8 << 20
		cfg.OomScoreAdj = 321
		cfg.SecurityOpt = []string{"no-new-privileges"}
		st, logs := runUntilExit(t, e, cfg)
		for _, w := range []string{"777\n", "example.org\n", " 8192 ", "321\n", "NoNewPrivs:\t1"} {
			if !strings.Contains(logs, w) {
				t.Errorf("logs lack %q: %q", w, logs)
			}
		}
		if st.ExitCode != 0 {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("memory and pids limits reach the cgroup", func(t *testing.T) {
		cfg := busybox("limits", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max")
		cfg.Resources = Resources{MemLimit: 64 << 20, PidsLimit: 33, CPUs: 0.5}
		st, logs := runUntilExit(t, e, cfg)
		if st.ExitCode != 0 || !strings.Contains(logs, "67108864\n") || !strings.Contains(logs, "33\n") {
			t.Errorf("state %+v, logs %q", st, logs)
		}
	})
	t.Run("tty", func(t *testing.T) {
		cfg := busybox("tty", "sh", "-c", "tty; test -t 1 && echo is-a-tty")
		cfg.Tty = true
		st, logs := runUntilExit(t, e, cfg)
		if st.ExitCode != 0 || !strings.Contains(logs, "/dev/pts/0") || !strings.Contains(logs, "is-a-tty") {
			t.Errorf("state %+v, logs %q", st, logs)
		}
	})
}

func TestPrivRestartPolicies(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	t.Run("on-failure:2 restarts twice then stays exited", func(t *testing.T) {
		cfg := busybox("onfail", "sh", "-c", "echo run; exit 3")
		cfg.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 2}
		began := time.Now()
		st, logs := runUntilExit(t, e, cfg)
		if st.Status != StatusExited || st.ExitCode != 3 || st.RestartCount != 2 || strings.Count(logs, "run\n") != 3 {
			t.Errorf("state %+v, logs %q", st, logs)
		}
		// Back-off: 100ms, then 200ms.
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Errorf("three runs in %s: no back-off", d)
		}
	})
	t.Run("on-failure does not restart a success", func(t *testing.T) {
		cfg := busybox("onfail-ok", "true")
		cfg.Restart = RestartPolicy{Name: "on-failure"}
		if st, _ := runUntilExit(t, e, cfg); st.ExitCode != 0 || st.RestartCount != 0 {
			t.Errorf("state %+v", st)
		}
	})
	t.Run("always restarts, and Stop stops it for good", func(t *testing.T) {
		cfg := busybox("always", "sh", "-c", "echo run; sleep 0.2")
		cfg.Restart = RestartPolicy{Name: "always"}
		id := mustCreate(t, e, cfg)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		waitState(t, e, id, "restarted twice", func(st State) bool { return st.RestartCount >= 2 })
		if err := e.Stop(ctx, id, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		c, _ := e.Get(ctx, string(id))
		n := c.State.RestartCount
		time.Sleep(time.Second)
		if c, _ = e.Get(ctx, string(id)); c.State.Status != StatusExited || c.State.RestartCount != n {
			t.Errorf("after Stop: %+v", c.State)
		}
		if pids := testutil.ProcessesMentioning(string(id)); len(pids) > 0 {
			t.Errorf("processes left after Stop: %v", pids)
		}
		if err := e.Remove(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	})
	t.Run("Stop wins over a pending restart", func(t *testing.T) {
		cfg := busybox("crashloop", "false")
		cfg.Restart = RestartPolicy{Name: "unless-stopped"}
		id := mustCreate(t, e, cfg)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		// Several runs: the back-off (800ms after the fourth) is long by now.
		waitState(t, e, id, "waiting to restart after the fourth run", func(st State) bool {
			return st.Status == StatusRestarting && st.RestartCount >= 3
		})
		if err := e.Stop(ctx, id, time.Second); err != nil {
			t.Fatal(err)
		}
		c, _ := e.Get(ctx, string(id))
		if c.State.Status != StatusExited || c.State.ExitCode != 1 || c.State.RestartCount < 2 {
			t.Errorf("after Stop: %+v", c.State)
		}
		if err := e.Remove(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	})
}

// waitState polls the container's state until cond holds, at most 30s,
// and returns that state.
func waitState(t *testing.T, e *Engine, id ContainerID, what string, cond func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := e.Get(t.Context(), string(id))
		if err != nil {
			t.Fatal(err)
		}
		if cond(c.State) {
			return c.State
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s; state %+v", what, c.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type unixRlimit struct{ nofileHard string }

func (r *unixRlimit) get(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	r.nofileHard = strconv.FormatUint(rl.Max, 10)
}

func waitHealth(t *testing.T, e *Engine, id ContainerID, want string) *Health {
	t.Helper()
	return waitState(t, e, id, "health "+want, func(st State) bool { return st.Health != nil && st.Health.Status == want }).Health
}

func TestPrivHealthcheck(t *testing.T) {
	e := newPrivEngine(t)
	ctx := t.Context()
	t.Run("a passing check turns healthy", func(t *testing.T) {
		cfg := busybox("healthy", "sleep", "100")
		cfg.Healthcheck = &Healthcheck{Test: []string{"CMD-SHELL", "echo ok; test -d /proc"}, Interval: 200 * time.Millisecond, Retries: 2}
		id := mustCreate(t, e, cfg)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		c, _ := e.Get(ctx, string(id))
		if c.State.Health == nil || c.State.Health.Status == HealthUnhealthy {
			t.Errorf("health right after start: %+v", c.State.Health)
		}
		h := waitHealth(t, e, id, HealthHealthy)
		if len(h.Log) == 0 || h.Log[0].ExitCode != 0 || h.Log[0].Output != "ok\n" {
			t.Errorf("health %+v", h)
		}
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	})
	t.Run("an always failing check turns unhealthy and keeps 5 results", func(t *testing.T) {
		cfg := busybox("unhealthy", "sleep", "100")
		cfg.Healthcheck = &Healthcheck{Test: []string{"CMD", "false"}, Interval: 100 * time.Millisecond, Retries: 2}
		id := mustCreate(t, e, cfg)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		waitHealth(t, e, id, HealthUnhealthy)
		waitState(t, e, id, "five probes kept of a failing streak of six", func(st State) bool {
			return st.Health != nil && len(st.Health.Log) == 5 && st.Health.FailingStreak > 5
		})
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	})
	t.Run("a check that hangs times out", func(t *testing.T) {
		cfg := busybox("slowcheck", "sleep", "100")
		cfg.Healthcheck = &Healthcheck{Test: []string{"CMD", "sleep", "50"}, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond, Retries: 1}
		id := mustCreate(t, e, cfg)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		h := waitHealth(t, e, id, HealthUnhealthy)
		if !strings.Contains(h.Log[0].Output, "timeout") {
			t.Errorf("health %+v", h)
		}
		if err := e.Remove(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, e, id)
	})
}

func TestPrivLogRotation(t *testing.T) {
	e := newPrivEngine(t)
	// Ten lines at a time: a follower keeps up with the rotations. (The
	// shim writes what one read gives at once, so a burst larger than all
	// the files together rotates away before any reader can see it, as
	// with Docker's json-file.)
	cfg := busybox("rotate", "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); [ $((i % 10)) = 0 ] && sleep 0.01; done; sleep 0.3; echo after-restart-check; exit 1")
	cfg.Logging = LogConfig{MaxSize: 4096, MaxFile: 3}
	cfg.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 1}
	id := mustCreate(t, e, cfg)
	t.Cleanup(func() { _ = e.Remove(context.WithoutCancel(t.Context()), id, true) }) // t.Context is done by now
	// Follow from the start, across rotations and the restart.
	var followed []LogLine
	done := make(chan error, 1)
	if err := e.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- e.Logs(t.Context(), id, LogOptions{Tail: -1, Follow: true}, func(l LogLine) error { followed = append(followed, l); return nil })
	}()
	st := waitExited(t, e, id)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st.RestartCount != 1 {
		t.Errorf("state %+v", st)
	}
	p := e.containerDir(id) + "/container.log"
	for _, f := range []string{p, p + ".1", p + ".2"} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() > 4096 {
			t.Errorf("%s: %v, %v", f, fi, err)
		}
	}
	if _, err := os.Stat(p + ".3"); !os.IsNotExist(err) {
		t.Errorf("a fourth file: %v", err)
	}
	lines := readLogs(t, e, id, LogOptions{Tail: -1})
	if n := len(lines); n == 0 || lines[n-1].Text != "after-restart-check" {
		t.Errorf("last line %+v", lines[len(lines)-1])
	}
	if tail := readLogs(t, e, id, LogOptions{Tail: 2}); len(tail) != 2 || tail[1].Text != "after-restart-check" || tail[0].Text != "line-399" {
		t.Errorf("tail %+v", tail)
	}
	// The follower saw the end of the second run (its beginning may have
	// been rotated away before it looked: the files hold about 150 lines).
	if n := len(followed); n < 100 || followed[n-1].Text != "after-restart-check" {
		t.Errorf("followed %d lines, ending %+v", n, followed[max(n-1, 0)])
	}
}

// shimRSSBudget is the most resident memory a shim may hold: podman's
// conmon, the peer the issue names, holds 1.9–2.1 MiB on these machines
// (hack/bench-shim.sh measures both in one run); berth's shim must stay
// under it, with room to spare.
const shimRSSBudget = 1536 // KiB

// TestPrivShimRSS checks the memory of a shim whose container runs and is
// probed by a healthcheck, against shimRSSBudget, and reports it.
func TestPrivShimRSS(t *testing.T) {
	e := newPrivEngine(t)
	cfg := busybox("rss", "sleep", "100")
	cfg.Healthcheck = &Healthcheck{Test: []string{"CMD", "true"}, Interval: 100 * time.Millisecond}
	id := mustCreate(t, e, cfg)
	t.Cleanup(func() { _ = e.Remove(context.WithoutCancel(t.Context()), id, true) }) // t.Context is done by now
	if err := e.Start(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, e, id, HealthHealthy)
	time.Sleep(500 * time.Millisecond)
	sf, err := readState(e.containerDir(id))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", sf.ShimPid))
	var figures []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS:", "RssAnon:", "RssFile:"} {
			if strings.HasPrefix(line, k) {
				figures = append(figures, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", sf.ShimPid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Pss:") {
			figures = append(figures, strings.Join(strings.Fields(line), " "))
		}
	}
	t.Logf("shim %s: %s", shimBinary(t), strings.Join(figures, ", "))
	m, err := readProcMem(sf.ShimPid)
	if err != nil {
		t.Fatal(err)
	}
	if m.rss > shimRSSBudget {
		t.Errorf("shim VmRSS %d KiB, over the budget of %d KiB", m.rss, shimRSSBudget)
	}
}

func TestPrivPrivileged(t *testing.T) {
	e := newPrivEngine(t)
	cfg := busybox("priv", "sh", "-c", "ls /dev/loop-control /dev/null >/dev/null && cat /proc/self/status | grep CapEff && mount -t tmpfs none /tmp && echo mounted")
	cfg.Privileged = true
	st, logs := runUntilExit(t, e, cfg)
	if st.ExitCode != 0 || !strings.Contains(logs, "mounted") || strings.Contains(logs, "CapEff:\t00000000a80425fb") {
		t.Errorf("state %+v, logs %q", st, logs)
	}
}
