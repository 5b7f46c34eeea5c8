package swarm

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/deploy"
	"github.com/berth-dev/berth/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

func load(t *testing.T, dir string) *spec.Project {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: abs, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func translate(t *testing.T, p *spec.Project, opt Options) (Translation, error) {
	t.Helper()
	contents, err := Contents(p)
	if err != nil {
		t.Fatal(err)
	}
	return Translate(p, contents, opt)
}

// TestTranslateGolden compares the Swarm objects of a realistic project
// with testdata/realistic/objects.golden.json.
func TestTranslateGolden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		opt          Options
	}{
		{name: "no VIP", golden: "objects.golden.json", opt: Options{APIVersion: "1.41"}},
		{name: "VIP", golden: "objects-vip.golden.json", opt: Options{VIP: true, APIVersion: "1.41"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := translate(t, load(t, "testdata/realistic"), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(struct {
				Objects []deploy.Object
				Notes   []string
			}{tr.Objects, tr.Notes}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata/realistic", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("objects differ from %s (go test -update to rewrite):\n%s", path, got)
			}
		})
	}
}

// TestTranslateIsStable: the same file gives specs without changes, so a
// second deploy plans nothing.
func TestTranslateIsStable(t *testing.T) {
	a, err := translate(t, load(t, "testdata/realistic"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := translate(t, load(t, "testdata/realistic"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := deploy.Compute(a.Objects, b.Objects, deploy.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) != 0 {
		t.Errorf("plan of an unchanged project:\n%s", plan)
	}
}

func TestTranslateRefuses(t *testing.T) {
	p := load(t, "testdata/refused")
	_, err := translate(t, p, Options{APIVersion: "1.41"})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("error class: %v", err)
	}
	want := []string{
		`compose.yaml: services.built.build: berth deploy does not build images: set image: to one the nodes can pull`,
		`compose.yaml: services.root.privileged: Swarm services cannot run privileged`,
		`compose.yaml: services.root.devices: Swarm services cannot map host devices`,
		`compose.yaml: services.hostnet.network_mode: "host": Swarm services attach to the project's overlay networks only`,
		`compose.yaml: services.hostnet.pid: Swarm services have no such setting`,
		`compose.yaml: services.pinned.ports[0].host_ip: 127.0.0.1: Swarm publishes a port on every address of a node`,
		`compose.yaml: services.pinned.healthcheck.start_interval: needs Engine API 1.44; the cluster speaks 1.41`,
		`compose.yaml: services.hooked.umask: Swarm services have no such setting`,
		`compose.yaml: services.hooked.pre_start: Swarm services have no such setting`,
		`compose.yaml: services.hooked.post_start: Swarm runs no lifecycle hooks: nothing would run it after a task starts`,
		`compose.yaml: services.hooked.pre_stop: Swarm runs no lifecycle hooks: nothing would run it before a task stops`,
		`compose.yaml: services.hooked.networks.default.use_service_name_alias: a Swarm service always answers to its name`,
		`compose.yaml: services.hooked.volumes[0].bind.recursive: not deployed by berth`,
	}
	lines := strings.Split(err.Error(), "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || l == w
		}
		if !found {
			t.Errorf("missing refusal %q in:\n%s", w, err)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("got %d refusals, want %d:\n%s", len(lines), len(want), err)
	}
}
