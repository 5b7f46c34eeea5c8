package build

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/engine"
)

// runOutput streams a RUN container's output to the build's events until
// it exits, and returns its final state and its last lines. It waits on
// the exit itself (Engine.Wait: a pidfd, not a poll), then reads what the
// log holds past the lines already streamed: a followed log alone notices
// the exit only at its next poll, up to 100 ms late, on every RUN.
func (r *run) runOutput(ctx context.Context, v int, id engine.ContainerID) (engine.State, []string, error) {
	var tail []string
	seen := 0
	line := func(l engine.LogLine) error {
		seen++
		r.emit(Event{Vertex: v, Status: StepOutput, Line: l.Text})
		tail = append(tail, l.Text)
		if len(tail) > tailLines {
			tail = tail[1:]
		}
		return nil
	}
	fctx, stop := context.WithCancel(ctx)
	followed := make(chan error, 1)
	go func() { followed <- r.b.eng.Logs(fctx, id, engine.LogOptions{Follow: true, Tail: -1}, line) }()
	state, err := r.b.eng.Wait(ctx, id)
	stop()
	ferr := <-followed // line is not called after this
	if err != nil {
		return engine.State{}, nil, err
	}
	if ferr != nil && !errors.Is(ferr, context.Canceled) {
		return engine.State{}, nil, ferr
	}
	// The container is not running: its log is complete.
	n, streamed := 0, seen
	err = r.b.eng.Logs(ctx, id, engine.LogOptions{Tail: -1}, func(l engine.LogLine) error {
		if n++; n <= streamed {
			return nil
		}
		return line(l)
	})
	if err != nil {
		return engine.State{}, nil, err
	}
	return state, tail, nil
}
