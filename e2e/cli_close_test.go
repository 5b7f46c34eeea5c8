//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"runtime"
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

// TestImageLsTree: image ls --tree lists the image with its platform
// below it, marked in use while a container runs it.
func TestImageLsTree(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("container", "rm", "-f", "tree-user") })
	h.mustBerth("container", "run", "-d", "--name", "tree-user", "--init", "busybox:latest", "sleep", "600")
	id := strings.TrimSpace(h.mustBerth("image", "inspect", "-f", "{{.Id}}", "busybox:latest"))
	lines := strings.Split(h.mustBerth("image", "ls", "--tree"), "\n")
	if len(lines) < 6 || !strings.HasPrefix(lines[0], "WARNING: This is an experimental feature") || !strings.HasPrefix(lines[3], "IMAGE ") {
		t.Fatalf("image ls --tree:\n%s", strings.Join(lines, "\n"))
	}
	top, platform := strings.Fields(lines[4]), strings.Fields(lines[5])
	if len(top) != 5 || top[0] != "busybox:latest" || top[1] != strings.TrimPrefix(id, "sha256:")[:12] || top[4] != "U" {
		t.Errorf("image line %q, want busybox:latest, its ID and the in-use chip", lines[4])
	}
	if len(platform) != 6 || platform[0] != "└─" || platform[1] != "linux/"+runtime.GOARCH || platform[5] != "U" {
		t.Errorf("platform line %q, want └─ linux/%s … U", lines[5], runtime.GOARCH)
	}
}

// TestNetworkInspectVerbose: network inspect -v prints a local network's
// document as without it, as Docker does (it adds a Swarm network's
// services only).
func TestNetworkInspectVerbose(t *testing.T) {
	h := newHarness(t)
	t.Cleanup(func() { h.berth("network", "rm", "verbose-net") })
	h.mustBerth("network", "create", "verbose-net")
	plain := h.mustBerth("network", "inspect", "verbose-net")
	if v := h.mustBerth("network", "inspect", "--verbose", "verbose-net"); v != plain || !strings.Contains(v, `"Name": "verbose-net"`) {
		t.Errorf("inspect --verbose:\n%s\nwithout:\n%s", v, plain)
	}
}
