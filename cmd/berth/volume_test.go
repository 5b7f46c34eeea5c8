package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
)

// berthIn runs the CLI in-process on the state root given.
func berthIn(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errb}
	cmd := newRootCommand(g)
	cmd.SetArgs(append([]string{"--root", root, "--run-dir", filepath.Join(root, "run")}, args...))
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestVolumeCommands(t *testing.T) {
	root := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := berthIn(t, root, args...)
		if err != nil {
			t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	mustRun("volume", "create", "--label", "team=a", "used")
	mustRun("volume", "create", "--label", "team=b", "named")
	anon := strings.TrimSpace(mustRun("volume", "create"))
	if len(anon) != 64 {
		t.Fatalf("volume create without a name gave %q", anon)
	}
	if _, err := berthIn(t, root, "volume", "create", "../escape"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("create ../escape: %v, want invalid argument", err)
	}
	if _, err := berthIn(t, root, "volume", "create", "-o", "type=tmpfs", "-o", "bogus=1", "bad"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("create with a bogus option: %v", err)
	}

	out := mustRun("volume", "ls", "--format", "json", "--filter", "label=team=a")
	var v struct{ Name, Labels string } // docker's: labels as "k=v,…"
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Name != "used" || v.Labels != "team=a" {
		t.Fatalf("ls --filter label=team=a: %q (%v)", out, err)
	}
	if out := mustRun("volume", "ls", "-q", "--filter", "label=team"); out != "named\nused\n" {
		t.Fatalf("ls -q --filter label=team: %q", out)
	}
	out = mustRun("volume", "inspect", "used")
	var got []volume.Volume
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Labels["team"] != "a" || got[0].Scope != "local" {
		t.Fatalf("inspect: %q (%v)", out, err)
	}

	// A container (never started) that mounts "used".
	g := &globalOptions{root: root, runDir: filepath.Join(root, "run"), runtime: "true", logLevel: "error", stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	a, err := g.open()
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	if _, err := a.images.Import(t.Context(), &tar, "busybox:latest", image.ImportOptions{Created: testimage.MTime}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.engine.Create(t.Context(), engine.ContainerConfig{Name: "holder", Image: "busybox", Cmd: []string{"true"},
		Mounts: []engine.Mount{{Type: "volume", Source: "used", Target: "/data"}}}); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("volume", "ls", "-q", "--filter", "dangling=false"); out != "used\n" {
		t.Fatalf("ls --filter dangling=false: %q", out)
	}
	for _, args := range [][]string{{"volume", "rm", "used"}, {"volume", "rm", "-f", "used"}} {
		if _, err := berthIn(t, root, args...); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "in use by container holder") {
			t.Fatalf("%s: %v, want in use by container holder", strings.Join(args, " "), err)
		}
	}
	if _, err := berthIn(t, root, "volume", "rm", "ghost"); !errdefs.IsNotFound(err) {
		t.Fatalf("rm of a missing volume: %v", err)
	}
	mustRun("volume", "rm", "-f", "ghost")

	// prune: anonymous unused ones only; with -a every unused one.
	if out := mustRun("volume", "prune", "-f"); !strings.Contains(out, anon) || strings.Contains(out, "named") {
		t.Fatalf("prune: %q", out)
	}
	if out := mustRun("volume", "prune", "-a", "-f"); !strings.Contains(out, "named") || strings.Contains(out, "used") {
		t.Fatalf("prune -a: %q", out)
	}
	if out := mustRun("volume", "ls", "-q"); out != "used\n" {
		t.Fatalf("left after prune: %q", out)
	}
}
