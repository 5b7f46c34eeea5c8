package reconcilertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/volmgr"
)

// Runtime is reconciler.Runtime, method for method; its contract is
// written there.
type Runtime interface {
	Create(ctx context.Context, c engine.ContainerConfig) (*engine.Container, error)
	Start(ctx context.Context, id engine.ContainerID) error
	Stop(ctx context.Context, id engine.ContainerID, timeout time.Duration) error
	Remove(ctx context.Context, id engine.ContainerID, force bool) error
	List(ctx context.Context, labels map[string]string) ([]*engine.Container, error)
	ListBrief(ctx context.Context, labels map[string]string) ([]engine.Brief, error)
	Exec(ctx context.Context, id engine.ContainerID, cfg engine.ExecConfig, stdio engine.ExecIO) (int, error)
}

// Networks is reconciler.Networks, method for method.
type Networks interface {
	Create(ctx context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error)
	Get(ctx context.Context, name string) (*netmgr.Network, error)
	List(ctx context.Context, labels map[string]string) ([]*netmgr.Network, error)
	Remove(ctx context.Context, name string) error
}

// Volumes is reconciler.Volumes, method for method.
type Volumes interface {
	Create(ctx context.Context, name string, labels map[string]string) (*volmgr.Volume, error)
	Get(ctx context.Context, name string) (*volmgr.Volume, error)
	List(ctx context.Context, labels map[string]string) ([]*volmgr.Volume, error)
	Remove(ctx context.Context, name string) error
}

// Images is reconciler.Images, method for method.
type Images interface {
	Resolve(ctx context.Context, ref string) (*image.Image, error)
	Pull(ctx context.Context, ref string, opt image.PullOptions) (*image.Image, error)
	LastPulled(ctx context.Context, ref string) (time.Time, error)
	Remove(ctx context.Context, ref string) error
}

// SuiteImage is the image the suites make containers of. A Runtime under
// test must hold it, with busybox's sh and sleep.
const SuiteImage = "busybox"

// missingID is a container ID no runtime has made.
const missingID = engine.ContainerID("0000000000000000000000000000000000000000000000000000000000000000")

// clause is one clause of a contract, run as a subtest on a fresh
// implementation of type T.
type clause[T any] struct {
	name string
	run  func(t *testing.T, impl T)
}

func runClauses[T any](t *testing.T, newImpl func(t *testing.T) T, clauses []clause[T]) {
	t.Helper()
	for _, c := range clauses {
		t.Run(c.name, func(t *testing.T) { c.run(t, newImpl(t)) })
	}
}

// wantClass fails the test unless err is of the errdefs class class.
func wantClass(t *testing.T, err, class error, call string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("%s: err = %v, want %q (errdefs)", call, err, class)
	}
}

// must fails the test on an error.
func must(t *testing.T, err error, call string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// concurrently runs fn n times at once and returns the errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// oneWins checks that exactly one of errs is nil and the others are of
// class.
func oneWins(t *testing.T, errs []error, class error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, class):
			t.Errorf("a losing Create: err = %v, want %q", err, class)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent Creates of one name succeeded, want 1", won, len(errs))
	}
}

// labelled are the objects of the List clauses, by name: a and b share
// tier=web, only a has the empty-valued key "canary".
var labelled = []struct {
	name   string
	labels map[string]string
}{
	{"conformance-a", map[string]string{"tier": "web", "canary": ""}},
	{"conformance-b", map[string]string{"tier": "web", "team": "x"}},
	{"conformance-c", map[string]string{"tier": "db"}},
}

// listFilters are the List clauses' filters and the names each selects.
var listFilters = []struct {
	filter map[string]string
	want   []string
}{
	{nil, []string{"conformance-a", "conformance-b", "conformance-c"}},
	{map[string]string{}, []string{"conformance-a", "conformance-b", "conformance-c"}},
	{map[string]string{"tier": "web"}, []string{"conformance-a", "conformance-b"}},
	{map[string]string{"tier": "web", "team": "x"}, []string{"conformance-b"}},
	{map[string]string{"tier": "we"}, nil},                       // exact values, no prefix
	{map[string]string{"canary": ""}, []string{"conformance-a"}}, // the key must be there
	{map[string]string{"team": ""}, nil},                         // an empty value matches only an empty value
	{map[string]string{"tier": "web", "nope": "1"}, nil},         // every label
}

// checkList runs the List clause's filters through list, which returns
// names in the order List gave them.
func checkList(t *testing.T, list func(filter map[string]string) ([]string, error)) {
	t.Helper()
	for _, lf := range listFilters {
		got, err := list(lf.filter)
		must(t, err, fmt.Sprintf("List(%v)", lf.filter))
		if !slices.Equal(got, lf.want) {
			t.Errorf("List(%v) = %q, want %q (sorted by name)", lf.filter, got, lf.want)
		}
	}
}
