package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// recorder is a Target that keeps what was asked of it in order. A service
// becomes ready on the second Status call after it was created, unless it
// is in failing.
type recorder struct {
	calls   []string
	objects []Object
	polls   map[string]int
	failing map[string]string
}

func (r *recorder) Observe(context.Context, string) ([]Object, error) { return r.objects, nil }

func (r *recorder) Create(_ context.Context, o Object) error {
	r.calls = append(r.calls, "create "+o.Name)
	return nil
}

func (r *recorder) Update(_ context.Context, _, o Object) error {
	r.calls = append(r.calls, "update "+o.Name)
	return nil
}

func (r *recorder) Remove(_ context.Context, o Object) error {
	r.calls = append(r.calls, "remove "+o.Name)
	return nil
}

func (r *recorder) Status(_ context.Context, services []string) ([]ServiceStatus, error) {
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

// TestRunWaitsForDependencies: with Wait, a service is created only once
// the services it depends on that this deploy created run; a dependency
// the deploy did not touch is not waited for; without Wait nothing is.
func TestRunWaitsForDependencies(t *testing.T) {
	db, cache := svc("db", "postgres"), svc("cache", "redis")
	web := svc("web", "nginx", "db", "cache")
	for _, tc := range []struct {
		name     string
		wait     bool
		observed []Object
		want     []string
	}{
		{
			name: "both dependencies new: web waits for both",
			wait: true,
			want: []string{"create p_cache", "create p_db", "status p_cache,p_db", "status p_cache,p_db", "create p_web", "status p_cache,p_db,p_web"},
		},
		{
			name:     "cache already deployed as it is: web waits for db only",
			wait:     true,
			observed: []Object{observed(cache, cache.Spec)},
			want:     []string{"create p_db", "status p_db", "status p_db", "create p_web", "status p_cache,p_db,p_web"},
		},
		{
			name: "no wait (-d): straight through",
			want: []string{"create p_cache", "create p_db", "create p_web"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{objects: tc.observed, polls: map[string]int{}}
			_, err := Run(t.Context(), r, "p", []Object{web, db, cache}, Options{Wait: tc.wait, waitInterval: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The final wait polls until all are ready; compare up to its first poll.
			got := r.calls
			if i := slices.Index(got, tc.want[len(tc.want)-1]); i >= 0 {
				got = got[:i+1]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(r.calls, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestRunStopsWhenADependencyFails: a dependency whose rollout fails stops
// the deploy before its dependents, naming both.
func TestRunStopsWhenADependencyFails(t *testing.T) {
	r := &recorder{polls: map[string]int{}, failing: map[string]string{"p_db": "task x on node n1: rejected: No such image: postgres"}}
	_, err := Run(t.Context(), r, "p", []Object{svc("web", "nginx", "db"), svc("db", "postgres")}, Options{Wait: true, waitInterval: 1}, nil)
	want := "create service p_web: waiting for its dependencies: service p_db: task x on node n1: rejected: No such image: postgres"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if slices.Contains(r.calls, "create p_web") {
		t.Errorf("web was created though its dependency failed: %v", r.calls)
	}
}
