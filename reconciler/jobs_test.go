package reconciler

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/spec"
)

// loadJobProject loads a project with a service db and a job migrate that
// depends on it and alone uses the network back and the volume data.
func loadJobProject(t *testing.T) *spec.Project {
	t.Helper()
	dir := t.TempDir()
	file := `name: p
services:
  db:
    image: busybox
jobs:
  migrate:
    image: busybox
    command: [echo, migrated]
    environment: {LEVEL: high}
    depends_on: [db]
    networks: [back]
    volumes: [data:/data]
    triggers: {manual: true}
networks:
  back: {}
volumes:
  data: {}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func networkNames(t *testing.T, f *reconcilertest.Fake) []string {
	t.Helper()
	ns, err := f.Networks().List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

// TestJobLifecycle: up leaves a job alone, run runs it as a one-off of a
// service with what it uses and what it depends on, down removes it.
func TestJobLifecycle(t *testing.T) {
	f := newFake()
	p := loadJobProject(t)

	convergePlan(t, f, p, Options{Mode: ModeUp})
	var got []string
	for _, c := range containers(t, f) {
		got = append(got, c.Config.Name)
	}
	if want := []string{"p-db-1"}; !slices.Equal(got, want) {
		t.Fatalf("after up: containers %v, want %v", got, want)
	}
	if got, want := networkNames(t, f), []string{"p_default"}; !slices.Equal(got, want) {
		t.Errorf("after up: networks %v, want %v (back is the job's only)", got, want)
	}

	rp, err := p.WithJob("migrate")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := OneOffConfig(rp, service(rp, "migrate"), "p-migrate-run-1", false, false)
	if err != nil {
		t.Fatal(err)
	}
	convergePlan(t, f, rp, Options{Mode: ModeRun, OneOff: &OneOff{Service: "migrate", Config: cfg}})
	c := byName(t, f, "p-migrate-run-1")
	if c == nil || c.State.Status != engine.StatusRunning {
		t.Fatalf("job not running: %+v", c)
	}
	if c.Config.Labels[spec.LabelService] != "migrate" || c.Config.Labels[spec.LabelOneOff] != spec.LabelTrue {
		t.Errorf("job labels %v", c.Config.Labels)
	}
	if !slices.Contains(c.Config.Env, "LEVEL=high") || !slices.Equal(c.Config.Cmd, []string{"echo", "migrated"}) {
		t.Errorf("job env %v, cmd %v", c.Config.Env, c.Config.Cmd)
	}
	if len(c.Config.Networks) != 1 || c.Config.Networks[0].Network != "p_back" {
		t.Errorf("job networks %+v, want p_back", c.Config.Networks)
	}
	if !slices.ContainsFunc(c.Config.Mounts, func(m engine.Mount) bool { return m.Source == "p_data" && m.Target == "/data" }) {
		t.Errorf("job mounts %+v, want p_data at /data", c.Config.Mounts)
	}
	if got, want := networkNames(t, f), []string{"p_back", "p_default"}; !slices.Equal(got, want) {
		t.Errorf("after run: networks %v, want %v", got, want)
	}

	// A second up neither touches nor calls the job's container an orphan.
	plan := convergePlan(t, f, p, Options{Mode: ModeUp})
	if byName(t, f, "p-migrate-run-1") == nil {
		t.Errorf("up removed the job's container:\n%s", plan)
	}

	plan = convergePlan(t, f, p, Options{Mode: ModeDown, RemoveVolumes: true})
	if !regexp.MustCompile(`(?m)^1\. stop and remove container p-migrate-run-1 .*\n2\. stop and remove container p-db-1 .*\[after 1\]`).MatchString(plan) {
		t.Errorf("down does not remove the job's container before db's, which it depends on:\n%s", plan)
	}
	if cs := containers(t, f); len(cs) != 0 {
		t.Errorf("after down: %d containers left", len(cs))
	}
	if ns := networkNames(t, f); len(ns) != 0 {
		t.Errorf("after down: networks %v left", ns)
	}
}
