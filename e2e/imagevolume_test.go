//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestImageVolumes: an image mounted read-only, whole (its layers as one
// tree) and by subpath.
func TestImageVolumes(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	h.mustBerth("-f", filepath.Join(filepath.Dir(file), "content.yaml"), "build")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "up", "-d")
	for cmd, want := range map[string]string{
		"cat /content/site/top.txt":                  "top",
		"cat /content/site/sub/hello.txt":            "hello",
		"test -x /content/bin/busybox && echo lower": "lower", // from the image's first layer
		"cat /sub/hello.txt":                         "hello",
		"test -e /sub/top.txt || echo only-the-sub":  "only-the-sub",
		"touch /content/x 2>/dev/null || echo ro":    "ro",
		"touch /sub/x 2>/dev/null || echo ro":        "ro",
	} {
		r := h.berth("-f", file, "exec", "-T", "app", "sh", "-c", cmd)
		if r.code != 0 || strings.TrimSpace(r.stdout) != want {
			t.Errorf("%s: exit %d, %q (%s), want %q", cmd, r.code, r.stdout, r.stderr, want)
		}
	}
	// Unchanged, a second up leaves the container alone.
	before := h.ps(file)
	h.mustBerth("-f", file, "up", "-d")
	if after := h.ps(file); len(after) != 1 || after[0].ID != before[0].ID {
		t.Errorf("second up replaced the container: %+v", after)
	}
}
