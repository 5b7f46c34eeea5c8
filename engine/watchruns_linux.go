package engine

import (
	"context"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/eventlog"
)

// WatchRuns, for a long-running process (berth serve), waits on every
// container run that starts from now on and every one running already,
// and reads each container once its run has no process left: a run whose
// shim was killed (SIGKILL) without recording the end is settled at once
// and its die recorded (see settleLost), without waiting for someone to
// read the container. Each run is waited on through pidfds in Go's poller
// (no thread each). It returns when ctx ends, or if the journal cannot be
// followed.
func (e *Engine) WatchRuns(ctx context.Context) error {
	var mu sync.Mutex
	// watched holds the containers a goroutine waits on; true when a
	// start came while it waited, so that it looks once more when its run
	// ends (a start right after a stop would otherwise go unwatched).
	watched := map[ContainerID]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	watch := func(id ContainerID) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := watched[id]; ok {
			watched[id] = true
			return
		}
		watched[id] = false
		wg.Go(func() {
			for {
				if err := e.awaitRunEnd(ctx, id); err != nil && ctx.Err() == nil {
					e.log.DebugContext(ctx, "waiting on a container's run", "container", id, "err", err)
				}
				mu.Lock()
				again := watched[id] && ctx.Err() == nil
				if !again {
					delete(watched, id)
				} else {
					watched[id] = false
				}
				mu.Unlock()
				if !again {
					return
				}
			}
		})
	}
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- e.events.Follow(ctx, eventlog.FollowOptions{Ready: ready}, func(ev eventlog.Event) error {
			if (ev.Type == "" || ev.Type == "container") && ev.Action == "start" {
				watch(ContainerID(ev.ID))
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-errc:
		return err
	}
	// Started before the journal was followed: listed after, so none is
	// missed (one seen twice is waited on once).
	ctrs, err := e.List(ctx, nil)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		if c.State.Status == StatusRunning || c.State.Status == StatusPaused || c.State.Status == StatusRestarting {
			watch(c.ID)
		}
	}
	err = <-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// awaitRunEnd waits until the shim and then the init of container id's
// current run are gone, then reads the container, which settles a run
// its shim did not record the end of. It returns at once for a container
// that does not run.
func (e *Engine) awaitRunEnd(ctx context.Context, id ContainerID) error {
	dir, _, err := e.lookup(string(id))
	if err != nil {
		return err
	}
	sf, err := readState(dir)
	if err != nil {
		return err
	}
	if sf.Status != StatusRunning && sf.Status != StatusRestarting {
		return nil
	}
	// The shim first: it outlives the runs it supervises (and restarts).
	for _, p := range []struct {
		pid   int
		start uint64
	}{{sf.ShimPid, sf.ShimStart}, {sf.Pid, sf.InitStart}} {
		if p.pid == 0 {
			continue
		}
		if err := e.awaitGone(ctx, p.pid, p.start); err != nil {
			return err
		}
	}
	_, err = e.Get(ctx, string(id))
	return err
}

// awaitGone waits until process pid, started at start (clock ticks after
// boot), has exited; at once if it is gone or the PID is another's now.
func (e *Engine) awaitGone(ctx context.Context, pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return err
	}
	// Opened, the descriptor names this process for good: if it is the
	// one meant (its start time), waiting on it waits on that one.
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	if !e.alive(pid, start) {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.Close() })
	defer stop()
	// A pidfd polls readable once its process has exited.
	polled := false
	err = rc.Read(func(uintptr) bool {
		if polled {
			return true
		}
		polled = true
		return false
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}
