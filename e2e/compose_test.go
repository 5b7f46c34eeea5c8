//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testdata(t *testing.T) string {
	return filepath.Join(repoRoot, "e2e", "testdata", t.Name(), "compose.yaml")
}

func TestExitCodeFrom(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	r := h.berth("-f", file, "up", "--exit-code-from", "tests")
	if r.code != 3 {
		t.Fatalf("up --exit-code-from tests: exit %d, want 3\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "running tests") || !strings.Contains(r.stdout, "db ready") {
		t.Errorf("attached output lacks the services' logs:\n%s", r.stdout)
	}
	for _, row := range h.ps(file, "-a") {
		if row.State == "running" {
			t.Errorf("container %s still running after the project was aborted", row.Name)
		}
	}
	h.mustBerth("-f", file, "down", "-v")
}

func TestRunRemovesItself(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	r := h.berth("-f", file, "run", "--rm", "tool", "sh", "-c", "echo from run > /scratch/f; cat /scratch/f; exit 5")
	if r.code != 5 {
		t.Fatalf("run: exit %d, want 5\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "from run") {
		t.Errorf("run's output %q lacks the command's", r.stdout)
	}
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("run --rm left containers: %+v", rows)
	}
	if out := h.mustBerth("volume", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("run --rm left volumes:\n%s", out)
	}
	h.mustBerth("-f", file, "down", "-v")
}

func TestCompletedDependencyOrder(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
	h.eventually("app prints the marker migrate wrote before app started", 10*time.Second, func() bool {
		return strings.Contains(h.mustBerth("-f", file, "logs", "app"), "migrated")
	})
	for _, row := range h.ps(file, "-a") {
		if row.Service == "migrate" && (row.State != "exited" || row.ExitCode != 0) {
			t.Errorf("migrate is %s (exit %d), want exited 0", row.State, row.ExitCode)
		}
	}
}

func TestDownRemovesImages(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	if r := h.berth("-f", file, "down", "--rmi", "all"); r.code != 0 {
		t.Fatalf("down --rmi all: exit %d\n%s", r.code, r.stderr)
	}
	if r := h.berth("image", "inspect", "busybox:latest"); r.code == 0 {
		t.Errorf("down --rmi all kept busybox:latest")
	}
	if r := h.berth("-f", file, "down", "--rmi", "some"); r.code == 0 || !strings.Contains(r.stderr, `--rmi "some"`) {
		t.Errorf("down --rmi some: exit %d, %q", r.code, r.stderr)
	}
}
