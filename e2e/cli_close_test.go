//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigLockImageDigests: config --lock-image-digests writes an
// override pinning the service's image to berth's copy's digest, and up
// with it runs that very image.
func TestConfigLockImageDigests(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"600\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(h.mustBerth("image", "inspect", "-f", "{{.Id}}", "busybox:latest"))
	lock := filepath.Join(dir, "compose.lock.yaml")
	h.mustBerth("-f", file, "config", "--lock-image-digests", "-o", lock)
	b, err := os.ReadFile(lock)
	_, d, _ := strings.Cut(strings.TrimSpace(string(b)), "@")
	if want := "services:\n  app:\n    image: docker.io/library/busybox:latest@" + d + "\n"; err != nil || !strings.HasPrefix(d, "sha256:") || len(d) != 71 || string(b) != want {
		t.Fatalf("lock file (%v):\n%s\nwant one pinning busybox:latest", err, b)
	}
	t.Cleanup(func() { h.berth("-f", file, "-f", lock, "down", "-v") })
	h.mustBerth("-f", file, "-f", lock, "up", "-d")
	ps := h.ps(file, "-a")
	if len(ps) != 1 {
		t.Fatalf("containers: %+v", ps)
	}
	if got := h.inspectOne(ps[0].Name, "{{.Config.Image}} {{.Image}}"); got != "busybox:latest@"+d+" "+id {
		t.Errorf("the pinned container runs %q, want busybox@%s (%s)", got, d, id)
	}
}
