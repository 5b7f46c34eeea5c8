//go:build e2e

package e2e

import (
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/berth-dev/berth/internal/testimage"
)

// serveRegistry starts an in-process registry on 127.0.0.1 holding the
// busybox image as REPO:latest and returns the image's reference.
func serveRegistry(t *testing.T, repo string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	ref := l.Addr().String() + "/" + repo + ":latest"
	pushBusybox(t, ref)
	return ref
}

// pushBusybox writes the busybox image to the plain-HTTP registry in ref.
func pushBusybox(t *testing.T, ref string) {
	t.Helper()
	if err := testimage.PushRootfs(ref, busyboxTar); err != nil {
		t.Fatal(err)
	}
}

// TestUpPullsMissingImage: up pulls an image it does not have from a
// registry (on 127.0.0.1, plain HTTP), and an unknown tag fails in one line
// naming the reference.
func TestUpPullsMissingImage(t *testing.T) {
	h := newHarness(t)
	ref := serveRegistry(t, "tools/bb")
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	write := func(image string) {
		compose := "services:\n  app:\n    image: " + image + "\n    init: true\n    command: [\"sleep\", \"3600\"]\n"
		if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ref)
	t.Cleanup(func() { h.berthIn(dir, "-p", h.project, "down", "-v") })
	r := h.berth("-f", file, "up", "-d")
	if r.code != 0 {
		t.Fatalf("up with an image to pull: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Pulled") {
		t.Errorf("up did not report the pull:\n%s", r.stderr)
	}
	if rows := h.ps(file); len(rows) != 1 || rows[0].State != "running" {
		t.Fatalf("ps after up: %+v", rows)
	}
	h.mustBerth("-f", file, "down", "-v")

	missing := strings.Replace(ref, ":latest", ":nope", 1)
	write(missing)
	r = h.berth("-f", file, "up", "-d")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != 1 || !strings.Contains(last, missing) || !strings.Contains(last, "manifest unknown") {
		t.Fatalf("up with an unknown tag: exit %d, last line %q; want 1 and a line naming %s", r.code, last, missing)
	}
	if rows := h.psByName("-a"); len(rows) != 0 {
		t.Errorf("a failed pull left containers: %+v", rows)
	}
	if out := h.mustBerth("network", "ls"); strings.Contains(out, h.project) {
		t.Errorf("a failed pull left a network:\n%s", out)
	}
	h.mustBerth("-f", file, "down", "-v")
}
