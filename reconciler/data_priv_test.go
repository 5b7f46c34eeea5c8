package reconciler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// realDeps is the real engine, network manager and volume store on a fresh
// root, with busybox imported.
func realDeps(t *testing.T) (Deps, *volmgr.Store, *engine.Engine) {
	t.Helper()
	testutil.RequirePrivileged(t)
	shim := shimBinary(t)
	root := t.TempDir()
	runDir := filepath.Join(root, "run")
	images := busyboxImages(t, root, "busybox:latest", "db:latest VOLUME /db")
	nets, err := netmgr.New(netmgr.Options{Root: root, RunDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Root: root, RunDir: runDir, Shim: shim}, images, nets)
	if err != nil {
		t.Fatal(err)
	}
	vols, err := volmgr.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctrs, _ := eng.List(t.Context(), nil)
		for _, c := range ctrs {
			_ = eng.Remove(t.Context(), c.ID, true)
		}
	})
	return Deps{Runtime: eng, Networks: nets, Volumes: eng.Volumes(), Images: eng.Images()}, vols, eng
}

func convergeReal(t *testing.T, d Deps, p *spec.Project, opt Options) *Plan {
	t.Helper()
	st, err := Observe(t.Context(), d, p.Name, p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(p, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(t.Context(), d, plan, 4, &recordingSink{}); err != nil {
		t.Fatalf("apply:\n%s\n%v", plan, err)
	}
	return plan
}

// eventually waits for the file at p to hold want lines.
func eventuallyLines(t *testing.T, p string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(p)
		if n := strings.Count(string(b), "\n"); n == want {
			return
		} else if n > want || time.Now().After(deadline) {
			t.Fatalf("%s holds %d lines (%q), want %d", p, n, b, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPrivDataSurvivesRecreateAndDownV is the volumes scenario with the
// real engine: data written to a named and an anonymous volume survives a
// recreate with a changed configuration, down and up; down -v then
// removes exactly the project's volumes.
func TestPrivDataSurvivesRecreateAndDownV(t *testing.T) {
	d, vols, eng := realDeps(t)
	ctx := t.Context()
	if _, err := vols.Create(ctx, "ext", nil); err != nil { // external
		t.Fatal(err)
	}
	if _, err := vols.Create(ctx, "q_data", map[string]string{spec.LabelProject: "q"}); err != nil { // another project's
		t.Fatal(err)
	}
	p := &spec.Project{
		Name: "p", WorkingDir: t.TempDir(),
		Services: []spec.Service{{
			Name: "db", Image: "db", Scale: 1, StopSignal: "SIGKILL",
			Command: []string{"sh", "-c", "echo row >> /db/rows; exec sleep 1000"},
		}, {
			Name: "web", Image: "busybox", Scale: 1, StopSignal: "SIGKILL",
			Command: []string{"sh", "-c", "echo run >> /data/log; echo run >> /cache/log; exec sleep 1000"},
			Mounts: []spec.Mount{
				{Type: "volume", Source: "data", Target: "/data"},
				{Type: "volume", Target: "/cache"},
				{Type: "volume", Source: "ext", Target: "/ext", ReadOnly: true},
			},
		}},
		Volumes: []spec.Volume{{Key: "data", Name: "p_data"}, {Key: "ext", Name: "ext", External: true}},
	}
	dataLog := filepath.Join(vols.Path("p_data"), "log")
	dbRows := filepath.Join(vols.Path(engine.ImageVolumeName("p-db-1", "/db")), "rows")
	convergeReal(t, d, p, Options{})
	eventuallyLines(t, dataLog, 1)
	eventuallyLines(t, dbRows, 1)
	anon := anonymousOf(t, d)
	anonLog := filepath.Join(vols.Path(anon), "log")
	eventuallyLines(t, anonLog, 1)

	// A changed configuration: a new container on the same volumes.
	p.Services[0].Environment = []string{"CHANGED=1"}
	p.Services[1].Environment = []string{"CHANGED=1"}
	plan := convergeReal(t, d, p, Options{})
	if !strings.Contains(plan.String(), "recreate") {
		t.Fatalf("plan:\n%s\nwant a recreate", plan)
	}
	eventuallyLines(t, dataLog, 2)
	if got := anonymousOf(t, d); got != anon {
		t.Fatalf("recreated container mounts anonymous volume %s, want %s", got, anon)
	}
	eventuallyLines(t, anonLog, 2)
	eventuallyLines(t, dbRows, 2) // the image's VOLUME too

	// down keeps the data; up finds it.
	convergeReal(t, d, p, Options{Mode: ModeDown})
	eventuallyLines(t, dataLog, 2)
	convergeReal(t, d, p, Options{})
	eventuallyLines(t, dataLog, 3)

	// down -v never removes a volume another container still mounts.
	other, err := eng.Create(ctx, engine.ContainerConfig{Name: "other", Image: "busybox", Cmd: []string{"true"},
		Mounts: []engine.Mount{{Type: "volume", Source: "p_data", Target: "/d"}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Observe(ctx, d, p.Name, p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = Compute(p, st, Options{Mode: ModeDown, RemoveVolumes: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, d, plan, 4, &recordingSink{}); err == nil || !strings.Contains(err.Error(), `volume "p_data" is in use by container other`) {
		t.Fatalf("down -v with p_data in use: %v", err)
	}
	eventuallyLines(t, dataLog, 3)
	if err := eng.Remove(ctx, other.ID, true); err != nil {
		t.Fatal(err)
	}

	// down -v removes the project's volumes, named and anonymous, only.
	convergeReal(t, d, p, Options{Mode: ModeDown, RemoveVolumes: true})
	left, err := vols.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range left {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"ext", "q_data"}) {
		t.Fatalf("volumes after down -v: %v, want [ext q_data]", names)
	}
	ents, _ := os.ReadDir(filepath.Dir(vols.Path("x")))
	for _, e := range ents {
		if e.Name() != "ext" && e.Name() != "q_data" && e.Name() != "lock" {
			t.Errorf("left in the volumes directory: %s", e.Name())
		}
	}
}

// anonymousOf returns the anonymous volume p-web-1 mounts at /cache.
func anonymousOf(t *testing.T, d Deps) string {
	t.Helper()
	ctrs, err := d.Runtime.List(t.Context(), map[string]string{spec.LabelProject: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs {
		for _, m := range c.Config.Mounts {
			if m.Target == "/cache" {
				return m.Source
			}
		}
	}
	t.Fatal(fmt.Sprint("no container mounts /cache: ", len(ctrs)))
	return ""
}
