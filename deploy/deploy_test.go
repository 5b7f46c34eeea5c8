package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// recorder is a Target that keeps what was asked of it. A service becomes
// ready on the second Status call after it was created, unless it is in
// failing. At each Create it notes which services were ready then.
type recorder struct {
	mu      sync.Mutex
	calls   []string
	objects []Object
	polls   map[string]int
	failing map[string]string
	readyAt map[string][]string // created service → services ready when it was created
}

func (r *recorder) Observe(context.Context, string) ([]Object, error) { return r.objects, nil }

func (r *recorder) Create(_ context.Context, o Object) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "create "+o.Name)
	var ready []string
	for s, n := range r.polls {
		if n >= 2 {
			ready = append(ready, s)
		}
	}
	slices.Sort(ready)
	r.readyAt[o.Name] = ready
	return nil
}

func (r *recorder) Update(_ context.Context, _, o Object) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "update "+o.Name)
	return nil
}

func (r *recorder) Remove(_ context.Context, o Object) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "remove "+o.Name)
	return nil
}

func (r *recorder) Status(_ context.Context, services []string) ([]ServiceStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "status "+strings.Join(services, ","))
	var out []ServiceStatus
	for _, s := range services {
		r.polls[s]++
		st := ServiceStatus{Name: s, Desired: 1, Failed: r.failing[s]}
		if r.polls[s] >= 2 {
			st.Running = 1
		}
		out = append(out, st)
	}
	return out, nil
}

func newRecorder(observed ...Object) *recorder {
	return &recorder{objects: observed, polls: map[string]int{}, readyAt: map[string][]string{}}
}

// TestRunWaitsForDependencies: with Wait, a service is created only once
// the services it depends on that this deploy created run; a dependency
// the deploy did not touch is not waited for; without Wait nothing is, and
// services are created at once.
func TestRunWaitsForDependencies(t *testing.T) {
	db, cache := svc("db", "postgres"), svc("cache", "redis")
	web := svc("web", "nginx", "db", "cache")
	for _, tc := range []struct {
		name       string
		wait       bool
		observed   []Object
		readyAtWeb []string
	}{
		{name: "both dependencies new: web waits for both", wait: true, readyAtWeb: []string{"p_cache", "p_db"}},
		{name: "cache already deployed as it is: web waits for db only", wait: true, observed: []Object{observed(cache, cache.Spec)}, readyAtWeb: []string{"p_db"}},
		{name: "no wait (-d): straight through"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(tc.observed...)
			_, err := Run(t.Context(), r, "p", []Object{web, db, cache}, Options{Wait: tc.wait, waitInterval: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.readyAt["p_web"]; !slices.Equal(got, tc.readyAtWeb) {
				t.Errorf("when web was created, ready were %v, want %v\ncalls:\n  %s", got, tc.readyAtWeb, strings.Join(r.calls, "\n  "))
			}
			if !tc.wait && slices.ContainsFunc(r.calls, func(c string) bool { return strings.HasPrefix(c, "status") }) {
				t.Errorf("without wait the deploy polled: %v", r.calls)
			}
			if len(tc.observed) > 0 && slices.Contains(r.calls, "create p_cache") {
				t.Errorf("the unchanged cache was created again: %v", r.calls)
			}
		})
	}
}

// TestRunStopsWhenADependencyFails: a dependency whose rollout fails stops
// the deploy before its dependents, naming both.
func TestRunStopsWhenADependencyFails(t *testing.T) {
	r := newRecorder()
	r.failing = map[string]string{"p_db": "task x on node n1: rejected: No such image: postgres"}
	_, err := Run(t.Context(), r, "p", []Object{svc("web", "nginx", "db"), svc("db", "postgres")}, Options{Wait: true, waitInterval: 1}, nil)
	want := "create service p_web: waiting for its dependencies: service p_db: task x on node n1: rejected: No such image: postgres"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if slices.Contains(r.calls, "create p_web") {
		t.Errorf("web was created though its dependency failed: %v", r.calls)
	}
}

// barrier is a recorder whose Create returns only once n creates are in
// flight together, or fails after a deadline.
type barrier struct {
	*recorder
	n       int
	arrived chan struct{}
}

func (b *barrier) Create(ctx context.Context, o Object) error {
	b.arrived <- struct{}{}
	deadline := time.After(10 * time.Second)
	for {
		if len(b.arrived) >= b.n {
			return b.recorder.Create(ctx, o)
		}
		select {
		case <-deadline:
			return fmt.Errorf("create %s: only %d of %d creates at once", o.Name, len(b.arrived), b.n)
		case <-time.After(time.Millisecond):
		}
	}
}

// TestApplyCreatesIndependentServicesAtOnce: services that do not depend
// on each other are created concurrently.
func TestApplyCreatesIndependentServicesAtOnce(t *testing.T) {
	b := &barrier{recorder: newRecorder(), n: 3, arrived: make(chan struct{}, 3)}
	_, err := Run(t.Context(), b, "p", []Object{svc("a", "x"), svc("b", "x"), svc("c", "x")}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// racer is a recorder on which another client got there first: its first
// update, at the version first observed, fails as stale; the service then
// shows the racer's spec at a newer version.
type racer struct {
	*recorder
	raced bool
}

func (r *racer) Update(ctx context.Context, current, o Object) error {
	r.mu.Lock()
	if !r.raced {
		r.raced = true
		r.objects = []Object{observed(current, svcSpec{Image: "racer"})}
		r.objects[0].Version = current.Version + 1
		r.calls = append(r.calls, fmt.Sprintf("stale update %s@%d", o.Name, current.Version))
		r.mu.Unlock()
		return fmt.Errorf("rpc error: update out of sequence: %w", errdefs.ErrConflict)
	}
	r.calls = append(r.calls, fmt.Sprintf("update %s@%d", o.Name, current.Version))
	r.mu.Unlock()
	return nil
}

// TestRunPlansAgainAfterARace: an update that finds the service changed
// since it was observed makes Run observe and plan again, and update at
// the new version; other failures are not retried.
func TestRunPlansAgainAfterARace(t *testing.T) {
	web := svc("web", "nginx")
	r := &racer{recorder: newRecorder(observed(web, svcSpec{Image: "old"}))}
	var events []string
	_, err := Run(t.Context(), r, "p", []Object{web}, Options{}, func(e Event) { events = append(events, e.Target+": "+e.Status) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stale update p_web@7", "update p_web@8"}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls %v, want %v", r.calls, want)
	}
	if !slices.Contains(events, "project p: changed by another client, planning again") {
		t.Errorf("no re-plan event in %v", events)
	}

	r = &racer{recorder: newRecorder(observed(web, svcSpec{Image: "old"}))}
	r.raced = true
	r.failing = map[string]string{}
	bad := &failingUpdate{r.recorder}
	if _, err := Run(t.Context(), bad, "p", []Object{web}, Options{}, nil); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("err = %v, want the update's own error", err)
	}
	if n := len(bad.calls); n != 1 {
		t.Errorf("a failure that is no race was tried %d times: %v", n, bad.calls)
	}
}

type failingUpdate struct{ *recorder }

func (f *failingUpdate) Update(_ context.Context, _, o Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "update "+o.Name)
	return errors.New("no space left on device")
}
