package engine

import (
	"context"
	"errors"

	"github.com/containerd/errdefs"
)

// SweepAutoRemove removes the AutoRemove containers whose run is over but
// which are still there: their shim never started the removal (it was
// killed) or the removal failed. A container created and never started
// stays, as does one that runs again. It returns the IDs it removed; the
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
