package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// The server gives memory back once after each burst of requests, when
// none has begun or ended for the idle time, and not before.
func TestIdleReleaser(t *testing.T) {
	const after = 200 * time.Millisecond
	var mu sync.Mutex
	var releases []time.Time
	ir := newIdleReleaser(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), after, func() {
		mu.Lock()
		defer mu.Unlock()
		releases = append(releases, time.Now())
	})
	burst := func() time.Time {
		for range 5 {
			ir.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/_ping", nil))
		}
		return time.Now()
	}
	waitReleases := func(n int) []time.Time {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := append([]time.Time(nil), releases...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d releases in 10s, want %d", len(got), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	end := burst()
	got := waitReleases(1)
	if d := got[0].Sub(end); d < after {
		t.Errorf("released %s after the last request, want at least %s", d, after)
	}
	end = burst()
	got = waitReleases(2)
	if len(got) != 2 || got[1].Sub(end) < after {
		t.Errorf("releases %v after a second burst ending at %v: want one more, %s after it", got, end, after)
	}
}
