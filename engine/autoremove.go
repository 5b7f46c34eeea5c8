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
// errors of the removals it tried are joined. The CLI calls it from the
// container commands, so that what a shim could not finish is finished
// lazily.
func (e *Engine) SweepAutoRemove(ctx context.Context) ([]ContainerID, error) {
	all, err := e.allRecords()
	if err != nil {
		return nil, err
	}
	var removed []ContainerID
	var errs []error
	for _, ent := range all {
		if !ent.rec.Config.AutoRemove {
			continue
		}
		if o := ent.rec.Config.AutoRemoveOwner; o != nil && ctrstate.Alive(o.Pid, o.Start) {
			continue // its owner removes it
		}
		st, err := e.observeDir(ent.dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !runOver(st) {
			continue
		}
		err = e.Remove(ctx, ent.rec.ID, false)
		switch {
		case err == nil:
			removed = append(removed, ent.rec.ID)
		case errdefs.IsNotFound(err), errdefs.IsConflict(err):
			// Removed meanwhile (by its shim's removal), or started again.
		default:
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// runOver tells whether a container with this state has run and ended:
// exited or dead. A created container never ran.
func runOver(st State) bool {
	return st.Status == StatusExited || st.Status == StatusDead
}
