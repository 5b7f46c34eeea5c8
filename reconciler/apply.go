package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/build"
	"github.com/berth-dev/berth/engine/image"
)

// Status is the state of one resource in a progress event, in Docker
// Compose's words.
type Status string

// The statuses events report.
const (
	StatusCreating   Status = "Creating"
	StatusCreated    Status = "Created"
	StatusRecreating Status = "Recreate"
	StatusRecreated  Status = "Recreated"
	StatusStarting   Status = "Starting"
	StatusStarted    Status = "Started"
	StatusStopping   Status = "Stopping"
	StatusStopped    Status = "Stopped"
	StatusRemoving   Status = "Removing"
	StatusRemoved    Status = "Removed"
	StatusRunning    Status = "Running"
	StatusError      Status = "Error"
	StatusSkipped    Status = "Skipped"
	StatusWaiting    Status = "Waiting"
	StatusHealthy    Status = "Healthy"
	StatusExited     Status = "Exited"
	StatusPulling    Status = "Pulling"
	StatusPulled     Status = "Pulled"
	StatusBuilding   Status = "Building"
	StatusBuilt      Status = "Built"
)

// Event is one progress report of Apply.
type Event struct {
	Target string // "container/p-web-1"
	Status Status
	Err    error
	// Build is a step of an image's build (Status StatusBuilding), as the
	// builder reports it.
	Build *build.Event
}

// EventSink receives progress events. Apply calls it from several goroutines
// at once; implementations must be safe for concurrent use.
type EventSink interface {
	Event(Event)
}

// errDependencyFailed marks a step not run because a step it waits for failed.
var errDependencyFailed = errors.New("not run: a step it depends on failed")

// Apply executes the plan: each step once every step in its After list has
// succeeded, at most parallel steps at a time (0: no limit). It makes no
// decisions: a failed step fails its dependents, the other steps go on, and
// the errors are returned joined.
func Apply(ctx context.Context, d Deps, plan *Plan, parallel int, sink EventSink) error {
	for _, u := range plan.Unchanged {
		sink.Event(Event{Target: u, Status: StatusRunning})
	}
	if len(plan.Steps) == 0 {
		return nil
	}
	done := make(map[int]chan struct{}, len(plan.Steps))
	for _, s := range plan.Steps {
		done[s.ID] = make(chan struct{})
	}
	var (
		mu     sync.Mutex // guards failed and errs
		failed = map[int]bool{}
		errs   []error
	)
	var sem chan struct{}
	if parallel > 0 {
		sem = make(chan struct{}, parallel)
	}
	// Every step gets its own goroutine, which first waits for its
	// dependencies without holding a slot, so the limit bounds only the work.
	// The goroutines report through errs, so a WaitGroup is enough; each one
	// ends when its step ends or ctx is done.
	var wg sync.WaitGroup
	for _, s := range plan.Steps {
		wg.Go(func() {
			defer close(done[s.ID])
			for _, a := range s.After {
				select {
				case <-done[a]:
				case <-ctx.Done():
					return
				}
			}
			mu.Lock()
			depFailed := false
			for _, a := range s.After {
				depFailed = depFailed || failed[a]
			}
			mu.Unlock()
			var err error
			switch {
			case ctx.Err() != nil:
				err = context.Cause(ctx)
			case depFailed:
				err = errDependencyFailed
				sink.Event(Event{Target: s.Action.Target(), Status: StatusSkipped, Err: err})
			default:
				if sem != nil {
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						err = context.Cause(ctx)
					}
				}
				if err == nil {
					err = run(ctx, d, s.Action, sink)
					if sem != nil {
						<-sem
					}
				}
			}
			if err != nil {
				mu.Lock()
				failed[s.ID] = true
				if !errors.Is(err, errDependencyFailed) {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && len(errs) == 0 {
		return context.Cause(ctx)
	}
	return errors.Join(errs...)
}

// run carries out one action and reports its progress.
func run(ctx context.Context, d Deps, a Action, sink EventSink) (retErr error) {
	target := a.Target()
	emit := func(st Status) { sink.Event(Event{Target: target, Status: st}) }
	defer func() {
		if retErr != nil {
			sink.Event(Event{Target: target, Status: StatusError, Err: retErr})
		}
	}()
	switch a := a.(type) {
	case PullImage:
		emit(StatusPulling)
		if _, err := d.Images.Pull(ctx, a.Ref, image.PullOptions{}); err != nil {
			return err
		}
		emit(StatusPulled)
	case BuildImage:
		if d.Builder == nil {
			return fmt.Errorf("%s: no builder: %w", target, errdefs.ErrNotImplemented)
		}
		emit(StatusBuilding)
		opt := a.Options
		opt.Events = func(e build.Event) { sink.Event(Event{Target: target, Status: StatusBuilding, Build: &e}) }
		if _, err := d.Builder.Build(ctx, opt); err != nil {
			return fmt.Errorf("service %s: build: %w", strings.Join(a.Services, ", "), err)
		}
		emit(StatusBuilt)
	case CreateNetwork:
		emit(StatusCreating)
		if _, err := d.Networks.Create(ctx, a.Config); err != nil && !errdefs.IsAlreadyExists(err) {
			return err
		}
		emit(StatusCreated)
	case CreateVolume:
		emit(StatusCreating)
		if err := createVolume(ctx, d.Volumes, a); err != nil {
			return err
		}
		emit(StatusCreated)
	case CreateContainer:
		emit(StatusCreating)
		if err := checkHostPaths(a.Service, a.Config); err != nil {
			return err
		}
		c, err := d.Runtime.Create(ctx, a.Config)
		if err != nil {
			return err
		}
		emit(StatusCreated)
		if a.Start {
			emit(StatusStarting)
			if err := start(ctx, d, c.ID, a.Hooks); err != nil {
				return err
			}
			emit(StatusStarted)
		}
	case RecreateContainer:
		emit(StatusRecreating)
		if err := checkHostPaths(a.Service, a.Config); err != nil {
			return err // before the old container goes
		}
		if err := stopAndRemove(ctx, d, a.OldID, a.Timeout, a.Hooks); err != nil {
			return err
		}
		c, err := d.Runtime.Create(ctx, a.Config)
		if err != nil {
			return err
		}
		emit(StatusRecreated)
		if a.Start {
			emit(StatusStarting)
			if err := start(ctx, d, c.ID, a.Hooks); err != nil {
				return err
			}
			emit(StatusStarted)
		}
	case StartContainer:
		emit(StatusStarting)
		if err := start(ctx, d, a.ID, a.Hooks); err != nil {
			return err
		}
		emit(StatusStarted)
	case RestartContainer:
		emit(StatusStopping)
		if err := stop(ctx, d, a.ID, a.Timeout, a.Hooks); err != nil {
			return err
		}
		emit(StatusStarting)
		if err := start(ctx, d, a.ID, a.Hooks); err != nil {
			return err
		}
		emit(StatusStarted)
	case StopContainer:
		emit(StatusStopping)
		if err := stop(ctx, d, a.ID, a.Timeout, a.Hooks); err != nil {
			return err
		}
		emit(StatusStopped)
	case RemoveContainer:
		emit(StatusStopping)
		if err := stopAndRemove(ctx, d, a.ID, a.Timeout, a.Hooks); err != nil {
			return err
		}
		emit(StatusRemoved)
	case RunPreStart:
		emit(StatusStarting)
		if err := runPreStart(ctx, d, a); err != nil {
			return err
		}
		emit(StatusExited)
	case AwaitService:
		emit(StatusWaiting)
		if err := awaitService(ctx, d, a); err != nil {
			return err
		}
		switch a.Condition {
		case ConditionCompleted:
			emit(StatusExited)
		case ConditionHealthy:
			emit(StatusHealthy)
		default:
			emit(StatusRunning)
		}
	case RemoveNetwork:
		emit(StatusRemoving)
		if err := d.Networks.Remove(ctx, a.Name); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		emit(StatusRemoved)
	case RemoveVolume:
		emit(StatusRemoving)
		if err := d.Volumes.Remove(ctx, a.Name); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		emit(StatusRemoved)
	case RemoveImage:
		emit(StatusRemoving)
		if err := d.Images.Remove(ctx, a.Ref); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		emit(StatusRemoved)
	default:
		return fmt.Errorf("%s: unknown action %T: %w", target, a, errdefs.ErrNotImplemented)
	}
	return nil
}

// stopAndRemove stops a container within timeout, after its pre_stop
// hooks, and removes it; a container already gone counts as removed.
func stopAndRemove(ctx context.Context, d Deps, id engine.ContainerID, timeout time.Duration, h Hooks) error {
	if err := stop(ctx, d, id, timeout, h); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	if err := d.Runtime.Remove(ctx, id, true); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	return nil
}

// start starts a container and then runs its post_start hooks, in turn. A
// hook that fails fails the start, with Docker Compose's message; the
// container keeps running, as there.
func start(ctx context.Context, d Deps, id engine.ContainerID, h Hooks) error {
	if err := d.Runtime.Start(ctx, id); err != nil {
		return err
	}
	for _, x := range h.PostStart {
		if err := runHook(ctx, d, id, h.Service, x); err != nil {
			return err
		}
	}
	return nil
}

// stop runs a container's pre_stop hooks, in turn, then stops it. Hooks
// need a running container: one that is not (created, exited, gone) is
// stopped, a no-op, without them. A hook that fails keeps the container
// running and fails the stop, as in Docker Compose.
func stop(ctx context.Context, d Deps, id engine.ContainerID, timeout time.Duration, h Hooks) error {
	for _, x := range h.PreStop {
		err := runHook(ctx, d, id, h.Service, x)
		if errdefs.IsFailedPrecondition(err) || errdefs.IsNotFound(err) {
			break
		}
		if err != nil {
			return err
		}
	}
	return d.Runtime.Stop(ctx, id, timeout)
}

// runHook runs one lifecycle hook in container id; its output is
// discarded, a non-zero exit is an error worded as Docker Compose words it.
func runHook(ctx context.Context, d Deps, id engine.ContainerID, service string, x engine.ExecConfig) error {
	code, err := d.Runtime.Exec(ctx, id, x, engine.ExecIO{})
	if err != nil {
		return fmt.Errorf("service %s: hook %s: %w", service, strings.Join(x.Cmd, " "), err)
	}
	if code != 0 {
		return fmt.Errorf("%s hook exited with status %d", service, code)
	}
	return nil
}
