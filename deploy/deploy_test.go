package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
