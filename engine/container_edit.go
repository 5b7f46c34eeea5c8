package engine

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// lockRecord is lockContainer for a container that is not being removed:
// errdefs.ErrNotFound when it is (its record is gone).
func (e *Engine) lockRecord(ctx context.Context, ref string) (dir string, rec *record, unlock func(), err error) {
	dir, rec, unlock, err = e.lockContainer(ctx, ref)
	if err != nil {
		return "", nil, nil, err
	}
	if rec == nil {
		unlock()
		return "", nil, nil, fmt.Errorf("container %q: being removed: %w", ref, errdefs.ErrNotFound)
	}
	return dir, rec, unlock, nil
}
