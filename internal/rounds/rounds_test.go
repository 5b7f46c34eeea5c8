package rounds

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

type req struct {
	n      int
	served int // rounds that held it, set by serve
}

// TestRequestsQueuedMeanwhileShareARound: while a round runs, the
// requests that come are queued and served together by the next round, on
// the first caller's thread; each request is served once, before its Do
// returns.
func TestRequestsQueuedMeanwhileShareARound(t *testing.T) {
	var q Queue[*req]
	const n = 8
	var rounds [][]int
	firstRunning, releaseFirst := make(chan struct{}), make(chan struct{})
	serve := func(batch []*req) {
		var ns []int
		for _, r := range batch {
			r.served++
			ns = append(ns, r.n)
		}
		rounds = append(rounds, ns) // rounds run one at a time
		if len(rounds) == 1 {
			close(firstRunning)
			<-releaseFirst
		}
	}
	reqs := make([]*req, n)
	for i := range reqs {
		reqs[i] = &req{n: i}
	}
	var wg sync.WaitGroup
	wg.Go(func() { q.Do(reqs[0], serve) })
	<-firstRunning
	for _, r := range reqs[1:] {
		wg.Go(func() {
			q.Do(r, serve)
			if r.served != 1 {
				t.Errorf("request %d: Do returned after %d rounds, want 1", r.n, r.served)
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		q.mu.Lock()
		queued := len(q.queue)
		q.mu.Unlock()
		if queued == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", queued, n-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(releaseFirst)
	wg.Wait()
	if len(rounds) != 2 || !slices.Equal(rounds[0], []int{0}) || len(rounds[1]) != n-1 {
		t.Fatalf("rounds %v, want [[0] [the %d others]]", rounds, n-1)
	}
	slices.Sort(rounds[1])
	for i, got := range rounds[1] {
		if got != i+1 {
			t.Fatalf("second round %v, want 1…%d once each", rounds[1], n-1)
		}
	}
	// With nothing running, a request is served at once, by its caller.
	r := &req{n: n}
	q.Do(r, serve)
	if r.served != 1 || len(rounds) != 3 {
		t.Errorf("a lone request served %d times in %d rounds", r.served, len(rounds))
	}
}

type key struct{}

// TestContextEndsWithTheLastCaller: a round's context is done only once
// every caller's is, with the cause of one of them, and carries the first
// one's values.
func TestContextEndsWithTheLastCaller(t *testing.T) {
	a, cancelA := context.WithCancelCause(context.WithValue(t.Context(), key{}, "a"))
	errA := errors.New("a gave up")
	cancelA(errA)
	b, cancelB := context.WithCancelCause(t.Context())
	ctx, cancel := Context(a, b)
	defer cancel()
	if ctx.Value(key{}) != "a" {
		t.Errorf("value %v, want the first caller's", ctx.Value(key{}))
	}
	select {
	case <-ctx.Done():
		t.Fatalf("done while one of two callers waits: %v", context.Cause(ctx))
	default:
	}
	errB := errors.New("b gave up")
	cancelB(errB)
	<-ctx.Done()
	if cause := context.Cause(ctx); cause != errA && cause != errB {
		t.Errorf("cause %v, want a caller's", cause)
	}
	// Callers that all gave up before: done at once.
	if ctx, cancel := Context(a); ctx.Err() == nil || context.Cause(ctx) != errA {
		t.Errorf("a round of callers that gave up: %v, want done with %v", context.Cause(ctx), errA)
		cancel()
	}
	// cancel releases a context whose callers live on.
	ctx, cancel = Context(t.Context())
	cancel()
	<-ctx.Done()
}
