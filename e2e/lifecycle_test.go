//go:build e2e

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLifecycleHooks: post_start after up and start, pre_stop before stop
// and down, each once, in the container, as the hook's user.
func TestLifecycleHooks(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	b, err := os.ReadFile(testdata(t))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	logOf := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "hooks", "log"))
		return string(b)
	}
	post, pre := "post_start 0 /tmp hi\n", "pre_stop 0\n"
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "-d"}, post},
		{[]string{"up", "-d"}, post}, // unchanged: no start, no hook
		{[]string{"stop"}, post + pre},
		{[]string{"start"}, post + pre + post},
		{[]string{"restart"}, post + pre + post + pre + post},
		{[]string{"down"}, post + pre + post + pre + post + pre},
	} {
		h.mustBerth(append([]string{"-f", file}, step.args...)...)
		if got := logOf(); got != step.want {
			t.Fatalf("after %s the hooks' log is\n%s\nwant\n%s", strings.Join(step.args, " "), got, step.want)
		}
	}
}

// TestPostStartFailureFailsUp: a failing post_start fails up with Docker
// Compose's message, and what depends on the service is not started.
func TestPostStartFailureFailsUp(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	r := h.berth("-f", file, "up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, "app hook exited with status 3") {
		t.Fatalf("up: exit %d, stderr:\n%s\nwant a failure naming the hook's status", r.code, r.stderr)
	}
	for _, c := range h.ps(file, "-a") {
		if c.Service == "after" {
			t.Errorf("after was created (%s) though app's post_start failed", c.State)
		}
	}
}

// TestFailedUpLeavesNothing: an up that fails on a port already taken
// leaves no container, network or volume it made.
func TestFailedUpLeavesNothing(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BUSY_PORT", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	r := h.berth("-f", file, "up", "-d")
	l.Close()
	if r.code == 0 || !strings.Contains(r.stderr, "already in use") {
		t.Fatalf("up: exit %d, stderr:\n%s\nwant the port conflict", r.code, r.stderr)
	}
	if ps := h.ps(file, "-a"); len(ps) != 0 {
		t.Errorf("containers left: %+v", ps)
	}
	if out := h.mustBerth("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, h.project) {
		t.Errorf("networks left: %s", out)
	}
	if out := h.mustBerth("volume", "ls", "--format", "{{.Name}}"); strings.TrimSpace(out) != "" {
		t.Errorf("volumes left: %s", out)
	}
	// With the port free, the same up runs.
	h.mustBerth("-f", file, "up", "-d")
	if ps := h.ps(file); len(ps) != 2 {
		t.Errorf("after the second up: %+v", ps)
	}
}
