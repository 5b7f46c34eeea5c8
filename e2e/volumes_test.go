//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func (h *harness) projectVolumes() []string {
	h.t.Helper()
	out := h.mustBerth("volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+h.project)
	return strings.Fields(out)
}

func (h *harness) linesIn(p string) int {
	b, _ := os.ReadFile(p)
	return strings.Count(string(b), "\n")
}

func TestVolumeDataSurvivesRecreateAndDownV(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Setenv("BERTH_E2E_TOKEN", "s3cret")
	t.Setenv("MARK", "a")
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	named := h.project + "_data"
	data := filepath.Join(h.root, "volumes", named, "_data")

	h.mustBerth("-f", file, "up", "-d")
	h.eventually("app wrote to its volumes", 10*time.Second, func() bool { return h.linesIn(filepath.Join(data, "log")) == 1 })
	vols := h.projectVolumes()
	if len(vols) != 2 || !slices.Contains(vols, named) {
		t.Fatalf("project volumes %v, want %s and one anonymous", vols, named)
	}
	anon := vols[0]
	if anon == named {
		anon = vols[1]
	}
	if b, _ := os.ReadFile(filepath.Join(data, "secret")); string(b) != "s3cret" {
		t.Errorf("secret read in the container: %q", b)
	}

	t.Setenv("MARK", "b")
	h.mustBerth("-f", file, "up", "-d")
	h.eventually("the recreated app wrote to the same volumes", 10*time.Second, func() bool {
		return h.linesIn(filepath.Join(data, "log")) == 2 &&
			h.linesIn(filepath.Join(h.root, "volumes", anon, "_data", "log")) == 2
	})
	if vols := h.projectVolumes(); len(vols) != 2 {
		t.Fatalf("after the recreate: volumes %v, want the same two", vols)
	}

	h.mustBerth("-f", file, "down")
	if vols := h.projectVolumes(); len(vols) != 2 {
		t.Fatalf("down removed volumes: left %v", vols)
	}
	h.mustBerth("-f", file, "up", "-d")
	h.eventually("up after down finds the named volume's data", 10*time.Second, func() bool { return h.linesIn(filepath.Join(data, "log")) == 3 })

	h.mustBerth("-f", file, "down", "-v")
	if vols := h.projectVolumes(); len(vols) != 0 {
		t.Fatalf("down -v left volumes %v", vols)
	}
}

func TestVolumeBadInput(t *testing.T) {
	h := newHarness(t)
	file := testdata(t)
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	for _, tc := range []struct{ service, want string }{
		{"secret", `secret "token": environment variable BERTH_E2E_UNSET is not set`},
		{"strict", `service "strict": volumes[0]: bind source ` + filepath.Join(filepath.Dir(file), "does-not-exist") + ` does not exist`},
	} {
		r := h.berth("-f", file, "up", "-d", tc.service)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("up %s: exit %d, stderr %q; want an error containing %q", tc.service, r.code, r.stderr, tc.want)
		}
	}
	if rows := h.ps(file, "-a"); len(rows) != 0 {
		t.Errorf("bad input left containers: %+v", rows)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(file), "does-not-exist")); !os.IsNotExist(err) {
		t.Error("the missing bind source was made")
	}
}
