package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
)

// Event is one step of a deploy as it happens, for the CLI to render.
type Event struct {
	Target string // "service shop_web"
	Status string // "creating", "created", "updating", "updated", "removing", "removed", "running 2/2", …
	Err    error  // set when the step failed
}

// errStale marks a create or update that found the cluster changed since
// it was observed (another deploy got there first): Run plans again.
var errStale = errors.New("changed on the cluster since observed")

// maxParallel bounds the requests a deploy has in flight at once.
const maxParallel = 8

// Apply carries the plan out in its order, reporting each step to report
// (which may be nil; it is called from one goroutine at a time). Networks,
// configs and secrets come first, one at a time; then the services are
// created or updated at once, each after the services it depends on
// (Object.After) that the plan changes; removals come last. It stops at the
// first failure and returns it naming the action; what was done before
// stays done, and the next deploy converges the rest.
func Apply(ctx context.Context, t Target, p Plan, report func(Event)) error {
	return apply(ctx, t, p, serialize(report), nil)
}

// serialize makes report safe to call from several goroutines, one call at
// a time; nil becomes a no-op.
func serialize(report func(Event)) func(Event) {
	if report == nil {
		return func(Event) {}
	}
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		report(e)
	}
}

// apply is Apply with emit already serialized; when waitFor is set, a
// service whose dependencies were changed by the plan is applied only once
// waitFor says those run (healthy, where they have a healthcheck).
func apply(ctx context.Context, t Target, p Plan, emit func(Event), waitFor func(ctx context.Context, services []string) error) error {
	acts := p.Actions
	for i := 0; i < len(acts); {
		if !isServiceChange(acts[i]) {
			if err := applyOne(ctx, t, acts[i], emit); err != nil {
				return err
			}
			i++
			continue
		}
		j := i
		for j < len(acts) && isServiceChange(acts[j]) {
			j++
		}
		if err := applyServices(ctx, t, acts[i:j], emit, waitFor); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func isServiceChange(a Action) bool { return a.Object.Kind == KindService && a.Op != OpRemove }

// applyServices creates or updates the services of batch concurrently, each
// once the services of the batch it depends on are done (and, with
// waitFor, run).
func applyServices(ctx context.Context, t Target, batch []Action, emit func(Event), waitFor func(context.Context, []string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(map[string]chan struct{}, len(batch)) // Compose service → closed once applied
	name := make(map[string]string, len(batch))        // Compose service → cluster name
	for _, a := range batch {
		done[a.Object.Service] = make(chan struct{})
		name[a.Object.Service] = a.Object.Name
	}
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for _, a := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var deps []string
			for _, d := range a.Object.After {
				ch, ok := done[d]
				if !ok {
					continue // not changed by this deploy: it already runs as desired
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
				deps = append(deps, name[d])
			}
			if waitFor != nil && len(deps) > 0 {
				slices.Sort(deps)
				if err := waitFor(ctx, deps); err != nil {
					cancel(fmt.Errorf("%s %s: waiting for its dependencies: %w", a.Op, a.Target(), err))
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := applyOne(ctx, t, a, emit)
			<-sem
			if err != nil {
				cancel(err)
				return
			}
			close(done[a.Object.Service])
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// applyOne carries out one action, reporting its start and end.
func applyOne(ctx context.Context, t Target, a Action, emit func(Event)) error {
	verb := map[Op][2]string{OpCreate: {"creating", "created"}, OpUpdate: {"updating", "updated"}, OpRemove: {"removing", "removed"}}[a.Op]
	emit(Event{Target: a.Target(), Status: verb[0]})
	var err error
	switch a.Op {
	case OpCreate:
		err = t.Create(ctx, a.Object)
	case OpUpdate:
		err = t.Update(ctx, *a.Current, a.Object)
	case OpRemove:
		err = t.Remove(ctx, a.Object)
	}
	if err != nil {
		if a.Op != OpRemove && errors.Is(err, errdefs.ErrConflict) {
			err = fmt.Errorf("%w: %w", errStale, err)
		}
		err = fmt.Errorf("%s %s: %w", a.Op, a.Target(), err)
		emit(Event{Target: a.Target(), Status: "failed", Err: err})
		return err
	}
	emit(Event{Target: a.Target(), Status: verb[1]})
	return nil
}

// WaitOptions steer Wait.
type WaitOptions struct {
	Timeout  time.Duration // 0: wait until ctx ends
	Interval time.Duration // between polls; 0: 200ms
}

// Wait polls the services (cluster names) until each runs its desired
// tasks at its current version, and healthy where it has a healthcheck.
// It reports a service's status when it changes. It fails as soon as one
// service's rollout failed, naming the service, node and task error, and
// at the timeout naming the services not ready and how far they came.
func Wait(ctx context.Context, t Target, services []string, opt WaitOptions, report func(Event)) error {
	if report == nil {
		report = func(Event) {}
	}
	if opt.Interval == 0 {
		opt.Interval = 200 * time.Millisecond
	}
	if opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opt.Timeout)
		defer cancel()
	}
	last := map[string]string{}
	var statuses []ServiceStatus
	for {
		var err error
		statuses, err = t.Status(ctx, services)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			ready := 0
			for _, s := range statuses {
				line := describe(s)
				if last[s.Name] != line {
					last[s.Name] = line
					report(Event{Target: string(KindService) + " " + s.Name, Status: line})
				}
				if s.Failed != "" {
					return fmt.Errorf("service %s: %s", s.Name, s.Failed)
				}
				if s.Ready() {
					ready++
				}
			}
			if ready == len(services) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return timeoutError(statuses, opt.Timeout)
		case <-time.After(opt.Interval):
		}
	}
}

func describe(s ServiceStatus) string {
	line := fmt.Sprintf("running %d/%d", s.Running, s.Desired)
	if s.Updating {
		line += ", updating"
	}
	if s.Note != "" && !s.Ready() {
		line += ", " + s.Note
	}
	return line
}

func timeoutError(statuses []ServiceStatus, timeout time.Duration) error {
	var waiting []string
	for _, s := range statuses {
		if !s.Ready() {
			waiting = append(waiting, s.Name+" ("+describe(s)+")")
		}
	}
	return fmt.Errorf("not converged after %s: %s", timeout, strings.Join(waiting, "; "))
}
