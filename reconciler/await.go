package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// awaitService polls the service's containers until all meet a.Condition,
// or one never can, or ctx is done.
func awaitService(ctx context.Context, d Deps, a AwaitService) error {
	labels := map[string]string{spec.LabelProject: a.Project, spec.LabelService: a.Service, spec.LabelOneOff: spec.LabelFalse}
	delay := 10 * time.Millisecond
	for {
		ctrs, err := d.Runtime.List(ctx, labels)
		if err != nil {
			return err
		}
		done := true
		for _, c := range ctrs {
			ok, err := meets(c, a.Condition)
			if err != nil {
				return fmt.Errorf("service %q: %w", a.Service, err)
			}
			done = done && ok
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %q: waiting for %s: %w", a.Service, a.Condition, context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// meets reports whether c meets condition now; an error means it never will.
func meets(c *engine.Container, condition string) (bool, error) {
	st := c.State
	name := c.Config.Name
	exited := st.Status == engine.StatusExited || st.Status == engine.StatusDead
	switch condition {
	case ConditionCompleted:
		if !exited {
			return false, nil
		}
		if st.ExitCode != 0 {
			return false, fmt.Errorf("container %s didn't complete successfully: exit %d: %w", name, st.ExitCode, errdefs.ErrFailedPrecondition)
		}
		return true, nil
	case ConditionHealthy:
		if st.Health == nil {
			return false, fmt.Errorf("container %s has no healthcheck configured: %w", name, errdefs.ErrFailedPrecondition)
		}
		fallthrough
	case ConditionReady:
		if exited {
			return false, fmt.Errorf("container %s exited (%d): %w", name, st.ExitCode, errdefs.ErrFailedPrecondition)
		}
		if st.Health != nil && st.Health.Status == engine.HealthUnhealthy {
			return false, fmt.Errorf("container %s is unhealthy: %w", name, errdefs.ErrFailedPrecondition)
		}
		running := st.Status == engine.StatusRunning
		return running && (st.Health == nil || st.Health.Status == engine.HealthHealthy), nil
	case ConditionStarted:
		return st.Status == engine.StatusRunning || exited, nil
	}
	return false, fmt.Errorf("unknown condition %q: %w", condition, errdefs.ErrInvalidArgument)
}
