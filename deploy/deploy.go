package deploy

import (
	"context"
	"errors"
	"slices"
	"time"
)

// maxReplans bounds how often Run plans again after a racing change.
const maxReplans = 5

// Options steer Run.
type Options struct {
	PlanOptions
	DryRun      bool          // compute and return the plan, change nothing
	Wait        bool          // after applying, wait for the services to converge
	WaitTimeout time.Duration // 0: until ctx ends

	waitInterval time.Duration // between status polls; 0: WaitOptions' default
}

// Run deploys: it observes the project on t, computes the plan that makes
// t hold desired, and unless DryRun applies it and (with Wait) waits until
// every deployed service runs. It returns the plan, also on failure.
//
// When another client changed an object between the observation and an
// action on it (two deploys racing), Run observes and plans again, up to
// maxReplans times, so the last deploy's file is what the cluster holds.
func Run(ctx context.Context, t Target, project string, desired []Object, opt Options, report func(Event)) (Plan, error) {
	wopt := WaitOptions{Timeout: opt.WaitTimeout, Interval: opt.waitInterval}
	report = serialize(report) // waits and applies run at once
	var waitFor func(context.Context, []string) error
	if opt.Wait && !opt.Down {
		waitFor = func(ctx context.Context, services []string) error { return Wait(ctx, t, services, wopt, report) }
	}
	var plan Plan
	for attempt := 0; ; attempt++ {
		observed, err := t.Observe(ctx, project)
		if err != nil {
			return plan, err
		}
		plan, err = Compute(desired, observed, opt.PlanOptions)
		if err != nil || opt.DryRun {
			return plan, err
		}
		err = apply(ctx, t, plan, report, waitFor)
		if err == nil {
			break
		}
		if !errors.Is(err, errStale) || attempt == maxReplans {
			return plan, err
		}
		report(Event{Target: "project " + project, Status: "changed by another client, planning again"})
	}
	if waitFor == nil {
		return plan, nil
	}
	var services []string
	for _, o := range desired {
		if o.Kind == KindService && (len(opt.Services) == 0 || slices.Contains(opt.Services, o.Service)) {
			services = append(services, o.Name)
		}
	}
	slices.Sort(services)
	return plan, waitFor(ctx, services)
}
