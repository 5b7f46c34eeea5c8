//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestComposeExecInTerminal: `exec -it` and `run -it`, as users type them
// for docker compose, give the command a terminal, what is typed and its
// exit code.
func TestComposeExecInTerminal(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	h.eventually("shell to take an exec", 10*time.Second, func() bool {
		return h.berth("-f", file, "exec", "-T", "shell", "true").code == 0
	})

	out, code := h.ctrInTerminal(t, "#", "test -t 0 && echo is-a-tty; echo typed-$((20+1)); exit 7\n", "-p", h.project, "-f", file, "exec", "-it", "shell", "sh")
	if code != 7 || !strings.Contains(out, "is-a-tty") || !strings.Contains(out, "typed-21") {
		t.Errorf("exec -it shell sh: exit %d, output %q; want 7, is-a-tty and typed-21", code, out)
	}
	out, code = h.ctrInTerminal(t, "#", "echo run-typed-$((40+2)); exit 5\n", "-p", h.project, "-f", file, "run", "--rm", "-it", "shell", "sh")
	if code != 5 || !strings.Contains(out, "run-typed-42") {
		t.Errorf("run --rm -it shell sh: exit %d, output %q; want 5 and run-typed-42", code, out)
	}
	// Without a terminal -it still works: docker compose decides by the caller's.
	if r := h.berth("-f", file, "exec", "-it", "shell", "echo", "no-terminal"); r.code != 0 || strings.TrimSpace(r.stdout) != "no-terminal" {
		t.Errorf("exec -it without a terminal: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestComposeExecDetachAndIndex: exec runs in the lowest-numbered replica
// unless --index names another, and exec -d returns while its command runs.
func TestComposeExecDetachAndIndex(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")

	h.mustBerth("-f", file, "exec", "-T", "--index", "2", "app", "touch", "/tmp/two")
	if r := h.berth("-f", file, "exec", "-T", "app", "test", "-f", "/tmp/two"); r.code == 0 {
		t.Error("exec without --index ran in replica 2, want the lowest-numbered")
	}
	if r := h.berth("-f", file, "exec", "-T", "--index", "2", "app", "test", "-f", "/tmp/two"); r.code != 0 {
		t.Errorf("exec --index 2 does not see replica 2's file: exit %d %s", r.code, r.stderr)
	}
	if r := h.berth("-f", file, "exec", "--index", "3", "app", "true"); r.code == 0 || !strings.Contains(r.stderr, "index 3") {
		t.Errorf("exec --index 3 of 2 replicas: exit %d, %q", r.code, r.stderr)
	}

	start := time.Now()
	r := h.berth("-f", file, "exec", "-d", "app", "sh", "-c", "sleep 2; touch /tmp/detached")
	if r.code != 0 || time.Since(start) > 2*time.Second || r.stdout != "" {
		t.Fatalf("exec -d: exit %d after %s, stdout %q, stderr %q", r.code, time.Since(start), r.stdout, r.stderr)
	}
	h.eventually("the detached command to finish", 15*time.Second, func() bool {
		return h.berth("-f", file, "exec", "-T", "app", "test", "-f", "/tmp/detached").code == 0
	})
}

// TestContainerListFilters: container ls -f name=… -f status=exited lists
// the stopped containers of that name without -a, and only them.
func TestContainerListFilters(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "flt-up", "flt-done", "other-done") })
	h.mustBerth("container", "run", "-d", "--name", "flt-up", "busybox", "sleep", "60")
	for _, name := range []string{"flt-done", "other-done"} {
		if r := h.berth("container", "run", "--name", name, "busybox", "sh", "-c", "exit 3"); r.code != 3 {
			t.Fatalf("run %s: exit %d %s", name, r.code, r.stderr)
		}
	}
	if got := h.ctrNames("-f", "name=flt", "-f", "status=exited"); !slices.Equal(got, []string{"flt-done"}) {
		t.Errorf("ls -f name=flt -f status=exited: %v, want [flt-done]", got)
	}
	if got := h.ctrNames("--filter", "name=flt"); !slices.Equal(got, []string{"flt-up"}) {
		t.Errorf("ls --filter name=flt: %v, want the running one only", got)
	}
	got := h.ctrNames("-a", "-f", "exited=3")
	slices.Sort(got)
	if !slices.Equal(got, []string{"flt-done", "other-done"}) {
		t.Errorf("ls -a -f exited=3: %v", got)
	}
	if got := h.ctrNames("-f", "ancestor=busybox"); !slices.Equal(got, []string{"flt-up"}) {
		t.Errorf("ls -f ancestor=busybox: %v, want the running busybox:latest one", got)
	}
	if got := h.ctrNames("-f", "ancestor=busybox:1.36"); len(got) != 0 {
		t.Errorf("ls -f ancestor=busybox:1.36: %v, want none", got)
	}
	if r := h.berth("container", "ls", "-f", "colour=red"); r.code == 0 || !strings.Contains(r.stderr, `"colour=red"`) {
		t.Errorf("ls -f colour=red: exit %d, %q", r.code, r.stderr)
	}
	h.mustBerth("container", "rm", "-f", "flt-up", "flt-done", "other-done")
}
