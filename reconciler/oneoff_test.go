package reconciler

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/spec"
)

// oneOff is a one-off container of client called p-client-run-1, with an
// anonymous volume of its own at /cache.
func oneOff(t *testing.T, p *spec.Project) *OneOff {
	t.Helper()
	cfg, err := OneOffConfig(p, service(p, "client"), "p-client-run-1", false, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cmd = []string{"echo", "hi"}
	cfg.Mounts = append(cfg.Mounts, engine.Mount{Type: "volume", Target: "/cache"})
	return &OneOff{Service: "client", Config: cfg}
}

// convergePlan runs Converge on the fake and returns the plan's text.
func convergePlan(t *testing.T, f *reconcilertest.Fake, p *spec.Project, opt Options) string {
	t.Helper()
	name := "p"
	if p != nil {
		name = p.Name
	}
	plan, err := Converge(t.Context(), deps(f), name, p, opt, ApplyOptions{Parallel: 2})
	if err != nil {
		t.Fatalf("converge: %v", err)
	}
	return plan.String()
}

func TestOneOffPlans(t *testing.T) {
	healthy := engine.State{Status: engine.StatusRunning, Health: &engine.Health{Status: engine.HealthHealthy}}
	tests := []struct {
		name   string
		before bool // web is up first
		noDeps bool
		change func(p *spec.Project)
	}{
		{name: "with its dependency"},
		{name: "dependency already running", before: true},
		{name: "no deps", noDeps: true},
		{name: "waits for a healthy dependency", change: func(p *spec.Project) {
			service(p, "client").DependsOn[0].Condition = ConditionHealthy
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.OnStart("p-web-1", healthy)
			if tc.before {
				convergePlan(t, f, project(), Options{Mode: ModeUp, Services: []string{"web"}})
			}
			p := project()
			if tc.change != nil {
				tc.change(p)
			}
			golden(t, convergePlan(t, f, p, Options{Mode: ModeRun, NoDeps: tc.noDeps, OneOff: oneOff(t, p)}))
			c := byName(t, f, "p-client-run-1")
			if c == nil || c.State.Status != engine.StatusRunning {
				t.Fatalf("one-off not running: %+v", c)
			}
			if c.Config.Labels[spec.LabelOneOff] != spec.LabelTrue || c.Config.Labels[spec.LabelContainerNumber] != "" {
				t.Errorf("one-off labels: %v", c.Config.Labels)
			}
			// The service's own container is the plan's business only as a
			// dependency: client-1 is never made.
			if byName(t, f, "p-client-1") != nil {
				t.Error("run made the service's own container")
			}
			// A second up sees the one-off as no orphan and changes
			// nothing of it.
			if next := convergePlan(t, f, p, Options{Mode: ModeUp, Services: []string{"web"}}); strings.Contains(next, "run-1") {
				t.Errorf("up touched the one-off:\n%s", next)
			}
		})
	}
}

func TestOneOffRemoval(t *testing.T) {
	f := newFake()
	p := project()
	// web shares an anonymous volume with nothing; the one-off's own goes
	// with it, the project's named volume stays.
	convergePlan(t, f, p, Options{Mode: ModeRun, OneOff: oneOff(t, p)})
	vol := oneOffVolumeName("p-client-run-1", "/cache")
	if volume(t, f, vol) == nil {
		t.Fatalf("no anonymous volume %s: %v", vol, volumeNames(t, f))
	}
	golden(t, convergePlan(t, f, p, Options{Mode: ModeRemove, Containers: []string{"p-client-run-1"}, Force: true, RemoveVolumes: true}))
	if byName(t, f, "p-client-run-1") != nil || volume(t, f, vol) != nil {
		t.Fatal("one-off or its volume left")
	}
	if byName(t, f, "p-web-1") == nil || volume(t, f, "p_site") == nil {
		t.Fatal("run --rm removed what is not the one-off's")
	}
}

func TestOneOffNoSuchService(t *testing.T) {
	f := newFake()
	p := project()
	o := oneOff(t, p)
	o.Service = "nope"
	_, err := Converge(t.Context(), deps(f), "p", p, Options{Mode: ModeRun, OneOff: o}, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "no such service: nope") || len(f.Calls()) != 0 {
		t.Fatalf("err = %v, calls = %v", err, f.Calls())
	}
}

func TestDownRemoveImages(t *testing.T) {
	tests := []struct {
		name  string
		rmi   string
		other bool // another project's container uses busybox
	}{
		{name: "all", rmi: "all"},
		{name: "all, image in use elsewhere", rmi: "all", other: true},
		{name: "local", rmi: "local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			p := project()
			// A service with no image of its own: its image is the one a
			// build makes, named p-builder.
			p.Services = append(p.Services, spec.Service{Name: "builder", Image: "p-builder", Build: &spec.Build{Context: "/src/p"},
				Scale: 1, Networks: []spec.ServiceNetwork{{Name: "default"}}})
			f.SetImage("p-builder", true)
			convergePlan(t, f, p, Options{Mode: ModeUp})
			if tc.other {
				if _, err := f.Runtime().Create(t.Context(), engine.ContainerConfig{Name: "q-web-1", Image: "busybox", Labels: map[string]string{spec.LabelProject: "q"}}); err != nil {
					t.Fatal(err)
				}
			}
			golden(t, convergePlan(t, f, p, Options{Mode: ModeDown, RemoveImages: tc.rmi}))
			wantBusybox := tc.rmi == "local" || tc.other
			if present(t, f, "busybox") != wantBusybox || present(t, f, "p-builder") {
				t.Errorf("images left: busybox %v, p-builder %v", present(t, f, "busybox"), present(t, f, "p-builder"))
			}
		})
	}
}

func TestDownRemoveImagesBadValue(t *testing.T) {
	f := newFake()
	_, err := Converge(t.Context(), deps(f), "p", project(), Options{Mode: ModeDown, RemoveImages: "some"}, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), `--rmi "some"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestConvergeHoldsTheProjectLock(t *testing.T) {
	f := newFake()
	var events []string
	d := deps(f)
	d.LockProject = func(_ context.Context, name string) (func(), error) {
		events = append(events, "lock "+name)
		return func() { events = append(events, "unlock") }, nil
	}
	_, err := Converge(t.Context(), d, "p", project(), Options{Mode: ModeUp}, ApplyOptions{
		OnPlan: func(*Plan) { events = append(events, "plan") },
		Sink:   sinkFunc(func(Event) { events = append(events, "event") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if events[0] != "lock p" || events[1] != "plan" || events[len(events)-1] != "unlock" || !slices.Contains(events, "event") {
		t.Fatalf("order: %v", events)
	}
}

type sinkFunc func(Event)

func (s sinkFunc) Event(e Event) { s(e) }

// byName is the fake's container called name, nil if there is none.
func byName(t *testing.T, f *reconcilertest.Fake, name string) *engine.Container {
	t.Helper()
	for _, c := range containers(t, f) {
		if c.Config.Name == name {
			return c
		}
	}
	return nil
}

func TestOneOffRemovesOrphans(t *testing.T) {
	f := newFake()
	f.OnStart("p-web-1", engine.State{Status: engine.StatusRunning})
	withOld := project()
	old := *service(withOld, "web")
	old.Name = "old"
	withOld.Services = append(withOld.Services, old)
	convergePlan(t, f, withOld, Options{Mode: ModeUp, Services: []string{"old"}})
	p := project()
	plan := convergePlan(t, f, p, Options{Mode: ModeRun, NoDeps: true, RemoveOrphans: true, OneOff: oneOff(t, p)})
	if !strings.Contains(plan, "p-old-1") || byName(t, f, "p-old-1") != nil {
		t.Errorf("run --remove-orphans left the orphan:\n%s", plan)
	}
}

// present reports whether the fake's image store holds ref.
func present(t *testing.T, f *reconcilertest.Fake, ref string) bool {
	t.Helper()
	_, err := f.Images().Resolve(t.Context(), ref)
	if err != nil && !errdefs.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}
