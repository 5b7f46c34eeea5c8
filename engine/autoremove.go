package engine

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
)

// ProcRef names a process for good: its PID and its start time (clock
// ticks after boot, /proc/<pid>/stat field 22), since a PID alone may be
// reused.
type ProcRef struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self is the ProcRef of this process.
func Self() (*ProcRef, error) {
	pid := os.Getpid()
	start, _, err := ctrstate.ProcStart(pid)
	if err != nil {
		return nil, fmt.Errorf("this process's start time: %w", err)
	}
	return &ProcRef{Pid: pid, Start: start}, nil
}

// SweepAutoRemove removes the AutoRemove containers whose run is over but
// which are still there: their shim never started the removal (it was
// killed), the removal failed, or the process that owned the removal
// (AutoRemoveOwner) is gone. A container created and never started stays,
// as does one that runs again. It returns the IDs it removed; the
// errors of the removals it tried are joined. List and Create finish such
// removals themselves (as a daemon would have done them), so no caller
// sees these containers or trips over their names.
func (e *Engine) SweepAutoRemove(ctx context.Context) ([]ContainerID, error) {
	all, err := e.allRecords()
	if err != nil {
		return nil, err
	}
	var removed []ContainerID
	var errs []error
	for _, ent := range all {
		gone, err := e.finishAutoRemove(ctx, ent.dir, ent.rec.ID, ent.rec.Config.AutoRemove, ent.rec.Config.AutoRemoveOwner)
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			removed = append(removed, ent.rec.ID)
		}
	}
	return removed, errors.Join(errs...)
}

// finishAutoRemove removes container id, of directory dir, when it is an
// AutoRemove container (autoRemove, its record's owner of the removal)
// whose run is over and whose removal nobody else will do, and reports
// whether it is gone.
func (e *Engine) finishAutoRemove(ctx context.Context, dir string, id ContainerID, autoRemove bool, owner *ProcRef) (bool, error) {
	if !autoRemove {
		return false, nil
	}
	if owner != nil && ctrstate.Alive(owner.Pid, owner.Start) {
		return false, nil // its owner removes it
	}
	st, err := e.observeDir(ctx, dir)
	if err != nil {
		return false, err
	}
	if !runOver(st) {
		return false, nil
	}
	err = e.Remove(ctx, id, false)
	switch {
	case err == nil, errdefs.IsNotFound(err):
		return true, nil // removed now, or meanwhile by its shim
	case errdefs.IsConflict(err):
		return false, nil // started again
	}
	return false, err
}

// finishAutoRemoveNamed finishes the removal of the AutoRemove container
// called name, if its run is over, so that its name can be used again, and
// reports whether it is gone. A failure is only logged: the name stays
// taken.
func (e *Engine) finishAutoRemoveNamed(ctx context.Context, name string) bool {
	dir, rec, err := e.lookup(name)
	if err != nil || rec == nil || rec.Config.Name != name {
		return false
	}
	gone, err := e.finishAutoRemove(ctx, dir, rec.ID, rec.Config.AutoRemove, rec.Config.AutoRemoveOwner)
	if err != nil {
		e.log.WarnContext(ctx, "removing an exited auto-remove container", "container", name, "err", err)
	}
	return gone
}

// runOver tells whether a container with this state has run and ended:
// exited or dead. A created container never ran.
func runOver(st State) bool {
	return st.Status == StatusExited || st.Status == StatusDead
}
