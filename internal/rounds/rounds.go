// Package rounds serves the requests of concurrent callers together, in
// rounds: work whose cost is mostly a lock to take and state to read (the
// network records of a sandbox's release, every container's name at a
// Create) is done once for every request queued, rather than once each.
package rounds

import (
	"context"
	"sync"
	"sync/atomic"
)

// Queue is a queue of requests of type T, served in rounds. The zero
// Queue is ready for use; it must not be copied once used. Safe for
// concurrent use by several goroutines of one process.
type Queue[T any] struct {
	mu      sync.Mutex // guards the fields below
	queue   []*entry[T]
	running bool // a caller is serving rounds
}

type entry[T any] struct {
	req  T
	done chan struct{} // closed once the round that held req is over
}

// Do queues req and returns once a round that held it is over. The first
// caller with no round running serves the rounds on its own thread: each
// calls serve with every request queued when the round began, in the order
// they came, until none is left. A caller's request is served either by
// its own round or by another caller's; serve writes each request's
// result into the request itself (T is usually a pointer).
func (q *Queue[T]) Do(req T, serve func(batch []T)) {
	e := &entry[T]{req: req, done: make(chan struct{})}
	q.mu.Lock()
	q.queue = append(q.queue, e)
	lead := !q.running
	q.running = true
	q.mu.Unlock()
	if lead {
		for {
			q.mu.Lock()
			batch := q.queue
			q.queue = nil
			if len(batch) == 0 {
				q.running = false
				q.mu.Unlock()
				break
			}
			q.mu.Unlock()
			reqs := make([]T, len(batch))
			for i, b := range batch {
				reqs[i] = b.req
			}
			serve(reqs)
			for _, b := range batch {
				close(b.done)
			}
		}
	}
	<-e.done
}

// Context returns a context for a round that serves callers with the
// contexts ctxs (at least one): it is done once every one of them is, with
// the cause of one of them, so that one caller giving up fails no other's
// request. It carries the values of ctxs[0]. cancel releases it.
func Context(ctxs ...context.Context) (ctx context.Context, cancel func()) {
	ctx, cancelCause := context.WithCancelCause(context.WithoutCancel(ctxs[0]))
	var left atomic.Int64
	left.Store(int64(len(ctxs)))
	end := func(c context.Context) {
		if left.Add(-1) == 0 {
			cancelCause(context.Cause(c))
		}
	}
	var stops []func() bool
	for _, c := range ctxs {
		if c.Err() != nil {
			end(c) // at once: a caller that gave up before counts now
			continue
		}
		stops = append(stops, context.AfterFunc(c, func() { end(c) }))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancelCause(nil)
	}
}
