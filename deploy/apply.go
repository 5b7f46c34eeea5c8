package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one step of a deploy as it happens, for the CLI to render.
type Event struct {
	Target string // "service shop_web"
	Status string // "creating", "created", "updating", "updated", "removing", "removed", "running 2/2", …
	Err    error  // set when the step failed
}

// Apply carries the plan out in its order, one action at a time, reporting
// each to report (which may be nil). It stops at the first failure and
// returns it naming the action; what was done before stays done, and the
// next deploy converges the rest.
func Apply(ctx context.Context, t Target, p Plan, report func(Event)) error {
	return apply(ctx, t, p, report, nil)
}

// apply is Apply; when waitFor is set, a service whose dependencies
// (Object.After) were created or updated earlier in the plan is applied only
// once waitFor says those run (healthy, where they have a healthcheck).
func apply(ctx context.Context, t Target, p Plan, report func(Event), waitFor func(services []string) error) error {
	if report == nil {
		report = func(Event) {}
	}
	changed := map[string]string{} // Compose service → cluster name, of services applied so far
	for _, a := range p.Actions {
		if waitFor != nil && a.Object.Kind == KindService && a.Op != OpRemove {
			var deps []string
			for _, d := range a.Object.After {
				if name, ok := changed[d]; ok {
					deps = append(deps, name)
				}
			}
			if len(deps) > 0 {
				slices.Sort(deps)
				if err := waitFor(deps); err != nil {
					return fmt.Errorf("%s %s: waiting for its dependencies: %w", a.Op, a.Target(), err)
				}
			}
		}
		verb := map[Op][2]string{OpCreate: {"creating", "created"}, OpUpdate: {"updating", "updated"}, OpRemove: {"removing", "removed"}}[a.Op]
		report(Event{Target: a.Target(), Status: verb[0]})
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
			err = fmt.Errorf("%s %s: %w", a.Op, a.Target(), err)
			report(Event{Target: a.Target(), Status: "failed", Err: err})
			return err
		}
		report(Event{Target: a.Target(), Status: verb[1]})
		if a.Object.Kind == KindService && a.Op != OpRemove {
			changed[a.Object.Service] = a.Object.Name
		}
	}
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
