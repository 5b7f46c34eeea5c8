package reconciler

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// project is a small project: web serves from a volume, client depends on web.
func project() *spec.Project {
	return &spec.Project{
		Name:         "p",
		WorkingDir:   "/src/p",
		ComposeFiles: []string{"/src/p/compose.yaml"},
		Services: []spec.Service{
			{
				Name: "client", Image: "busybox", Command: []string{"wget", "http://web/"}, Scale: 1,
				Networks:  []spec.ServiceNetwork{{Name: "default"}},
				DependsOn: []spec.Dependency{{Service: "web", Condition: "service_started", Required: true}},
			},
			{
				Name: "web", Image: "busybox", Command: []string{"httpd", "-f"}, Scale: 1,
				Networks: []spec.ServiceNetwork{{Name: "default"}},
				Mounts:   []spec.Mount{{Type: "volume", Source: "site", Target: "/www"}},
			},
		},
		Networks: []spec.Network{{Key: "default", Name: "p_default"}},
		Volumes:  []spec.Volume{{Key: "site", Name: "p_site"}},
	}
}

func service(p *spec.Project, name string) *spec.Service {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	panic("no service " + name)
}

// converge observes the fake, plans and applies, and returns the plan.
func converge(t *testing.T, f *reconcilertest.Fake, p *spec.Project, opt Options) (*Plan, error) {
	t.Helper()
	name := "p"
	if p != nil {
		name = p.Name
	}
	st, err := Observe(t.Context(), deps(f), name, p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(p, st, opt)
	if err != nil {
		return nil, err
	}
	return plan, Apply(t.Context(), deps(f), plan, 4, &recordingSink{})
}

func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".plan")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reconciler -update)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestPlans(t *testing.T) {
	up := Options{Mode: ModeUp}
	tests := []struct {
		name string
		// before brings the fake to a state; then change edits the project
		// and opt is the plan under test.
		before bool
		change func(p *spec.Project)
		opt    Options
	}{
		{name: "create", opt: up},
		{name: "noop", before: true, opt: up},
		{name: "changed env", before: true, opt: up, change: func(p *spec.Project) {
			service(p, "client").Environment = []string{"DEBUG=1"}
		}},
		{name: "scale up", before: true, opt: up, change: func(p *spec.Project) { service(p, "web").Scale = 3 }},
		{name: "scale to zero", before: true, opt: up, change: func(p *spec.Project) { service(p, "web").Scale = 0 }},
		{name: "depends_on edit does not recreate", before: true, opt: up, change: func(p *spec.Project) {
			service(p, "client").DependsOn = nil
		}},
		{name: "orphan warned", before: true, opt: up, change: func(p *spec.Project) {
			p.Services = p.Services[1:]
		}},
		{name: "orphan removed", before: true, opt: Options{Mode: ModeUp, RemoveOrphans: true}, change: func(p *spec.Project) {
			p.Services = p.Services[1:]
		}},
		{name: "disabled profile is no orphan", before: true, opt: up, change: func(p *spec.Project) {
			p.Services = p.Services[1:]
			p.DisabledServices = []string{"client"}
		}},
		{name: "force recreate cascades order", before: true, opt: Options{Mode: ModeUp, ForceRecreate: true}},
		{name: "one service with its dependency", opt: Options{Mode: ModeUp, Services: []string{"client"}}},
		{name: "one service no deps", opt: Options{Mode: ModeUp, Services: []string{"client"}, NoDeps: true}},
		{name: "dependency recreated restarts a restart-true dependent", before: true, opt: up, change: func(p *spec.Project) {
			service(p, "web").Environment = []string{"V=2"}
			service(p, "client").DependsOn[0].Restart = true
		}},
		{name: "always recreate deps", before: true, opt: Options{Mode: ModeUp, AlwaysRecreateDeps: true}, change: func(p *spec.Project) {
			service(p, "client").Environment = []string{"DEBUG=1"}
		}},
		{name: "start wait", before: true, opt: Options{Mode: ModeStart, Wait: true}},
		{name: "down", before: true, opt: Options{Mode: ModeDown}},
		{name: "down volumes", before: true, opt: Options{Mode: ModeDown, RemoveVolumes: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.before {
				if _, err := converge(t, f, project(), Options{Mode: ModeUp}); err != nil {
					t.Fatal(err)
				}
			}
			p := project()
			if tc.change != nil {
				tc.change(p)
			}
			st, err := Observe(t.Context(), deps(f), p.Name, p)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compute(p, st, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Compute(p, st, tc.opt)
			if plan.String() != again.String() {
				t.Fatal("Compute is not deterministic")
			}
			golden(t, plan.String())
			if err := Apply(t.Context(), deps(f), plan, 2, &recordingSink{}); err != nil {
				t.Fatalf("apply: %v", err)
			}
			// After applying, the same inputs plan nothing.
			if tc.opt.Mode == ModeUp {
				st, _ = Observe(t.Context(), deps(f), p.Name, p)
				next, err := Compute(p, st, Options{Mode: ModeUp, Services: tc.opt.Services, NoDeps: tc.opt.NoDeps})
				if err != nil {
					t.Fatal(err)
				}
				if !next.Empty() {
					t.Errorf("not converged; next plan:\n%s", next)
				}
			}
		})
	}
}

func TestFailingStepSkipsDependents(t *testing.T) {
	f := newFake()
	f.FailOn("start", "p-web-1")
	sink := &recordingSink{}
	st, err := Observe(t.Context(), deps(f), "p", project())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(project(), st, Options{Mode: ModeUp})
	if err != nil {
		t.Fatal(err)
	}
	err = Apply(t.Context(), deps(f), plan, 0, sink)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("apply: err = %v, want the injected failure", err)
	}
	golden(t, sink.String()+"\n")
	for _, c := range f.Calls() {
		if strings.Contains(c, "p-client-1") {
			t.Errorf("client was touched although web failed to start: %s", c)
		}
	}
}

func TestDownRemovesDependentsFirst(t *testing.T) {
	f := newFake()
	if _, err := converge(t, f, project(), Options{Mode: ModeUp}); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	if _, err := converge(t, f, project(), Options{Mode: ModeDown, RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	order := strings.Join(f.Calls(), "\n")
	if strings.Index(order, "remove p-client-1") > strings.Index(order, "stop p-web-1") {
		t.Errorf("web stopped before its dependent client was removed:\n%s", order)
	}
	if c, n, v := counts(t, f); c+n+v != 0 {
		t.Errorf("down -v left %d containers, %d networks, %d volumes", c, n, v)
	}
}

func TestDownWithoutFileUsesLabels(t *testing.T) {
	f := newFake()
	if _, err := converge(t, f, project(), Options{Mode: ModeUp}); err != nil {
		t.Fatal(err)
	}
	if _, err := converge(t, f, nil, Options{Mode: ModeDown, RemoveOrphans: true, RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if c, n, v := counts(t, f); c+n+v != 0 {
		t.Errorf("down by name left %d containers, %d networks, %d volumes", c, n, v)
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *spec.Project)
		opt    Options
		is     error
		want   string
	}{
		{name: "missing external network", change: func(p *spec.Project) { p.Networks[0].External = true },
			is: errdefs.ErrNotFound, want: "network p_default declared as external, but could not be found"},
		{name: "unknown service", opt: Options{Services: []string{"nope"}}, is: errdefs.ErrNotFound, want: "no such service: nope"},
		{name: "dependency cycle", change: func(p *spec.Project) {
			service(p, "web").DependsOn = []spec.Dependency{{Service: "client"}}
		}, is: errdefs.ErrInvalidArgument, want: "dependency cycle between services client, web"},
		{name: "undeclared volume", change: func(p *spec.Project) { p.Volumes = nil },
			is: errdefs.ErrInvalidArgument, want: `volume "site" is not declared`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := project()
			if tc.change != nil {
				tc.change(p)
			}
			st, err := Observe(t.Context(), deps(newFake()), p.Name, p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compute(p, st, tc.opt)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
}

// TestStopStartRemove: stop goes dependents first and keeps containers, start
// brings them back dependencies first, rm removes only stopped ones.
func TestStopStartRemove(t *testing.T) {
	f := newFake()
	if _, err := converge(t, f, project(), Options{Mode: ModeUp}); err != nil {
		t.Fatal(err)
	}
	var plans []string
	for _, opt := range []Options{{Mode: ModeStop}, {Mode: ModeStop}, {Mode: ModeStart}, {Mode: ModeRemove}, {Mode: ModeStop, Services: []string{"client"}}, {Mode: ModeRemove}} {
		plan, err := converge(t, f, project(), opt)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, plan.String())
	}
	golden(t, strings.Join(plans, "--\n"))
	if ctrs := containers(t, f); len(ctrs) != 1 || ctrs[0].Config.Name != "p-web-1" {
		t.Fatalf("%d containers left, want web only", len(ctrs))
	}
}

func TestDependencyConditions(t *testing.T) {
	healthy := engine.State{Status: engine.StatusRunning, Health: &engine.Health{Status: engine.HealthHealthy}}
	unhealthy := engine.State{Status: engine.StatusRunning, Health: &engine.Health{Status: engine.HealthUnhealthy}}
	tests := []struct {
		name      string
		condition string
		web       engine.State
		wantErr   string // empty: client starts
	}{
		{"healthy dependency", ConditionHealthy, healthy, ""},
		{"unhealthy dependency", ConditionHealthy, unhealthy, "container p-web-1 is unhealthy"},
		{"no healthcheck", ConditionHealthy, engine.State{Status: engine.StatusRunning}, "has no healthcheck configured"},
		{"completed", ConditionCompleted, engine.State{Status: engine.StatusExited}, ""},
		{"failed to complete", ConditionCompleted, engine.State{Status: engine.StatusExited, ExitCode: 2}, "didn't complete successfully: exit 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.OnStart("p-web-1", tc.web)
			p := project()
			service(p, "client").DependsOn[0].Condition = tc.condition
			plan, err := converge(t, f, p, Options{Mode: ModeUp})
			if plan == nil {
				t.Fatal(err)
			}
			if tc.name == "healthy dependency" {
				golden(t, plan.String())
			}
			started := slices.Contains(f.Calls(), "start p-client-1")
			if tc.wantErr == "" {
				if err != nil || !started {
					t.Fatalf("err = %v, client started = %v; want no error and client started", err, started)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || started {
				t.Fatalf("err = %v, client started = %v; want %q and client not started", err, started, tc.wantErr)
			}
		})
	}
}

func TestUpWaitFailsOnUnhealthy(t *testing.T) {
	f := newFake()
	f.OnStart("p-web-1", engine.State{Status: engine.StatusRunning, Health: &engine.Health{Status: engine.HealthUnhealthy}})
	plan, err := converge(t, f, project(), Options{Mode: ModeUp, Wait: true})
	if err == nil || !strings.Contains(err.Error(), "is unhealthy") {
		t.Fatalf("up --wait: err = %v, want unhealthy", err)
	}
	golden(t, plan.String())
}

func TestPullPolicies(t *testing.T) {
	tests := []struct {
		name    string
		present bool
		policy  string // the services'
		flag    string // up --pull
		wantErr string
	}{
		{name: "missing image pulled", present: false},
		{name: "present image not pulled", present: true},
		{name: "always pulls", present: true, policy: "always"},
		{name: "flag overrides policy", present: true, policy: "never", flag: "always"},
		{name: "never and absent", present: false, policy: "never", wantErr: `image "busybox" is not present and pull_policy is never`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.SetImage("busybox", tc.present)
			p := project()
			for i := range p.Services {
				p.Services[i].PullPolicy = tc.policy
			}
			plan, err := converge(t, f, p, Options{Mode: ModeUp, Pull: tc.flag})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, plan.String())
		})
	}
}

// TestAnonymousVolumesAcrossRecreate: a recreated container keeps its
// anonymous volume; with RenewAnonVolumes (up -V) it gets a new one.
func TestAnonymousVolumesAcrossRecreate(t *testing.T) {
	withAnon := func() *spec.Project {
		p := project()
		w := service(p, "web")
		w.Mounts = append(w.Mounts, spec.Mount{Type: "volume", Target: "/cache"})
		return p
	}
	for _, renew := range []bool{false, true} {
		t.Run(fmt.Sprintf("renew=%v", renew), func(t *testing.T) {
			f := newFake()
			if _, err := converge(t, f, withAnon(), Options{Mode: ModeUp}); err != nil {
				t.Fatal(err)
			}
			vols := len(volumeNames(t, f))
			p := withAnon()
			service(p, "web").Environment = []string{"V=2"}
			plan, err := converge(t, f, p, Options{Mode: ModeUp, RenewAnonVolumes: renew})
			if err != nil {
				t.Fatal(err)
			}
			created := strings.Count(plan.String(), "create volume")
			if want := map[bool]int{false: 0, true: 1}[renew]; created != want {
				t.Fatalf("plan creates %d volumes, want %d:\n%s", created, want, plan)
			}
			after := len(volumeNames(t, f))
			if renew && after != vols+1 || !renew && after != vols {
				t.Fatalf("%d volumes after, %d before", after, vols)
			}
		})
	}
}
