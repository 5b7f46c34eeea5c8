package reconciler

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
	"github.com/berth-dev/berth/volmgr"
)

// The fake and the real implementations are the reconciler's dependencies;
// reconcilertest's interfaces, which its suites check, are the reconciler's
// own, method for method (each assignable to the other).
var (
	_ Runtime  = (*reconcilertest.FakeRuntime)(nil)
	_ Networks = (*reconcilertest.FakeNetworks)(nil)
	_ Volumes  = (*reconcilertest.FakeVolumes)(nil)
	_ Images   = (*reconcilertest.FakeImages)(nil)

	_ Runtime  = (*engine.Engine)(nil)
	_ Networks = (*netmgr.Manager)(nil)
	_ Volumes  = (*engine.VolumeStore)(nil)
	_ Images   = (*engine.ImageStore)(nil)

	_ Runtime                 = reconcilertest.Runtime(nil)
	_ reconcilertest.Runtime  = Runtime(nil)
	_ Networks                = reconcilertest.Networks(nil)
	_ reconcilertest.Networks = Networks(nil)
	_ Volumes                 = reconcilertest.Volumes(nil)
	_ reconcilertest.Volumes  = Volumes(nil)
	_ Images                  = reconcilertest.Images(nil)
	_ reconcilertest.Images   = Images(nil)
)

func newFake() *reconcilertest.Fake { return reconcilertest.NewFake() }

// deps are the fake's four faces as the reconciler's dependencies.
func deps(f *reconcilertest.Fake) Deps {
	return Deps{Runtime: f.Runtime(), Networks: f.Networks(), Volumes: f.Volumes(), Images: f.Images(), Builder: f.Builder()}
}

// containers are the fake's containers, sorted by name.
func containers(t *testing.T, f *reconcilertest.Fake) []*engine.Container {
	t.Helper()
	all, err := f.Runtime().List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// volume is the fake's volume name, nil if there is none.
func volume(t *testing.T, f *reconcilertest.Fake, name string) *volmgr.Volume {
	t.Helper()
	v, err := f.Volumes().Get(t.Context(), name)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// volumeNames are the names of the fake's volumes, sorted.
func volumeNames(t *testing.T, f *reconcilertest.Fake) []string {
	t.Helper()
	all, err := f.Volumes().List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range all {
		out = append(out, v.Name)
	}
	return out
}

// counts are how many containers, networks and volumes the fake holds.
func counts(t *testing.T, f *reconcilertest.Fake) (ctrs, nets, vols int) {
	t.Helper()
	all, err := f.Networks().List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(containers(t, f)), len(all), len(volumeNames(t, f))
}

// recordingSink collects events.
type recordingSink struct {
	mu     sync.Mutex // guards events
	events []string
}

func (s *recordingSink) Event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := e.Target + " " + string(e.Status)
	if e.Err != nil {
		line += ": " + e.Err.Error()
	}
	s.events = append(s.events, line)
}

func (s *recordingSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := slices.Clone(s.events)
	slices.Sort(ev)
	return strings.Join(ev, "\n")
}
