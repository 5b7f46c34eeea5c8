package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/spec"
)

// ApplyOptions say how Converge applies its plan.
type ApplyOptions struct {
	// Parallel bounds the steps run at once; 0: no bound.
	Parallel int
	// Sink receives Apply's progress events; nil: none.
	Sink EventSink
	// DryRun computes the plan and applies nothing.
	DryRun bool
	// OnPlan, when set, sees the plan once it is computed, before anything
	// is applied (warnings, --dry-run output). It runs under the project
	// lock.
	OnPlan func(*Plan)
}

// Converge is every lifecycle of a project: up, create, down (with --rmi),
// start, stop, restart, rm, and run's one-off container and its removal.
// It takes the project's lock (Deps.LockProject), observes the project
// once, computes the plan for opt and applies it, and releases the lock;
// the lock is not held while a caller later attaches to or follows what the
// plan started. desired may be nil when the project is known by name only
// (down, stop, rm). It returns the plan it computed, also on a failed
// apply.
func Converge(ctx context.Context, d Deps, name string, desired *spec.Project, opt Options, ao ApplyOptions) (*Plan, error) {
	if d.LockProject != nil {
		unlock, err := d.LockProject(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("lock project %q: %w", name, err)
		}
		defer unlock()
	}
	sink := ao.Sink
	if sink == nil {
		sink = discardSink{}
	}
	observed, err := observe(ctx, d, name, desired, opt)
	if err != nil {
		return nil, err
	}
	// up and run: the images first, then the rest planned against the
	// images as they are now, so that a container whose image a pull or
	// a build has just changed is recreated. The project is read again
	// only when images were pulled or built. A dry run plans both at once.
	if (opt.Mode == ModeUp || opt.Mode == ModeRun) && !ao.DryRun {
		images := opt
		images.ImagesOnly = true
		plan, err := Compute(desired, observed, images)
		if err != nil {
			return nil, err
		}
		if !plan.Empty() {
			if err := Apply(ctx, d, plan, ao.Parallel, sink); err != nil {
				return plan, err
			}
			if observed, err = observe(ctx, d, name, desired, opt); err != nil {
				return nil, err
			}
		}
		opt.SkipImages = true
	}
	plan, err := Compute(desired, observed, opt)
	if err != nil {
		return nil, err
	}
	if ao.OnPlan != nil {
		ao.OnPlan(plan)
	}
	if ao.DryRun {
		return plan, nil
	}
	if opt.Mode != ModeUp && opt.Mode != ModeRun {
		return plan, Apply(ctx, d, plan, ao.Parallel, sink)
	}
	// An up or run whose step failed (not an interrupted one, nor a wait
	// that failed) takes back what it made.
	created := &createdSink{EventSink: sink}
	err = Apply(ctx, d, plan, ao.Parallel, created)
	if err != nil && ctx.Err() == nil && created.shouldRollback() {
		err = errors.Join(err, rollback(ctx, d, name, created))
	}
	return plan, err
}

// observe reads the project's state, and for down --rmi which other
// containers use its images.
func observe(ctx context.Context, d Deps, name string, desired *spec.Project, opt Options) (*State, error) {
	observed, err := Observe(ctx, d, name, desired)
	if err != nil {
		return nil, err
	}
	if opt.RemoveImages != "" {
		if err := observeImageUsers(ctx, d, observed); err != nil {
			return nil, err
		}
	}
	return observed, nil
}

type discardSink struct{}

func (discardSink) Event(Event) {}
