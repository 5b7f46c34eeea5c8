package reconciler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/spec"
)

// rollbackTimeout bounds the undoing of a failed up, which runs even when
// the up's own context is done.
const rollbackTimeout = time.Minute

// createdSink passes events on and notes the targets an Apply created:
// "container/NAME", "network/NAME", "volume/NAME", in the order made; and
// whether a step that makes something failed.
type createdSink struct {
	EventSink

	mu         sync.Mutex // guards the fields below
	created    []string
	makeFailed bool
}

func (s *createdSink) Event(e Event) {
	s.mu.Lock()
	switch {
	case e.Status == StatusCreated:
		s.created = append(s.created, e.Target)
	case e.Status == StatusError && !strings.HasPrefix(e.Target, "service/"):
		s.makeFailed = true
	}
	s.mu.Unlock()
	s.EventSink.Event(e)
}

// shouldRollback tells whether a step that makes or starts something
// failed. A wait that failed (a service unhealthy, a dependency that
// exited non-zero) keeps what it waited on, for its logs.
func (s *createdSink) shouldRollback() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.makeFailed
}

// rollback removes what a failed up or run created, so that it leaves
// nothing behind that was not there before: containers first (they hold
// networks and volumes), then networks and volumes that carry the
// project's label. A container recreated in place of an old one is not
// new and stays. What cannot be removed is reported with the failure.
func rollback(ctx context.Context, d Deps, project string, s *createdSink) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	s.mu.Lock()
	created := s.created
	s.mu.Unlock()
	var errs []error
	undo := func(target string, remove func() error) {
		s.EventSink.Event(Event{Target: target, Status: StatusRemoving})
		if err := remove(); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
			return
		}
		s.EventSink.Event(Event{Target: target, Status: StatusRemoved})
	}
	ctrs, err := d.Runtime.List(ctx, map[string]string{spec.LabelProject: project})
	if err != nil {
		return err
	}
	for _, t := range created {
		name, ok := strings.CutPrefix(t, "container/")
		if !ok {
			continue
		}
		for _, c := range ctrs {
			if c.Config.Name == name {
				undo(t, func() error { return d.Runtime.Remove(ctx, c.ID, true) })
			}
		}
	}
	for _, t := range created {
		kind, name, _ := strings.Cut(t, "/")
		switch kind {
		case "network":
			if n, err := d.Networks.Get(ctx, name); err == nil && n.Labels[spec.LabelProject] == project {
				undo(t, func() error { return d.Networks.Remove(ctx, name) })
			}
		case "volume":
			if v, err := d.Volumes.Get(ctx, name); err == nil && v.Labels[spec.LabelProject] == project {
				undo(t, func() error { return d.Volumes.Remove(ctx, name) })
			}
		}
	}
	return errors.Join(errs...)
}
