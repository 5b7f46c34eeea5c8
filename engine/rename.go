package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// Rename gives container ref the name name, as `docker rename`: a running
// container's peers resolve it by its new name from then on.
// errdefs.ErrNotFound for an unknown container; ErrInvalidArgument for a
// name Docker would refuse; ErrConflict when another container has it.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid container name %q: want [a-zA-Z0-9][a-zA-Z0-9_.-]*: %w", name, errdefs.ErrInvalidArgument)
	}
	unlockNames, err := e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer unlockNames()
	dir, rec, unlock, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	if rec.Config.Name == name {
		return fmt.Errorf("renaming container %q: it already has that name: %w", name, errdefs.ErrInvalidArgument)
	}
	all, err := e.allRecords()
	if err != nil {
		return err
	}
	for _, ent := range all {
		if ent.rec.Config.Name == name {
			return fmt.Errorf("container name %q is already in use by container %s: %w", name, ent.rec.ID, errdefs.ErrConflict)
		}
	}
	old := rec.Config.Name
	rec.Config.Name = name
	if err := atomicfile.WriteJSON(filepath.Join(dir, ctrstate.RecordFile), rec, 0o600); err != nil {
		return err
	}
	e.containerEvent(ctx, "rename", rec, "oldName", "/"+old)
	if st, err := e.observeDir(ctx, dir); err == nil && active(st.Status) && len(rec.Config.Networks) > 0 {
		if err := e.renameEndpoints(ctx, dir, rec); err != nil {
			return fmt.Errorf("container %q: renamed, but its networks' resolvers still answer for %q: %w", name, old, err)
		}
		if err := e.syncHosts(ctx); err != nil {
			e.log.WarnContext(ctx, "updating the hosts files of peers failed", "container", name, "err", err)
		}
	}
	return nil
}

// renameEndpoints gives the endpoints of rec's running container the
// names of its new name on every network it is on.
func (e *Engine) renameEndpoints(ctx context.Context, dir string, rec *record) error {
	if e.nets == nil {
		return nil
	}
	eps, err := readEndpoints(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, ep := range eps {
		i := slices.IndexFunc(rec.Config.Networks, func(nc EndpointConfig) bool { return nc.Network == ep.Network })
		if i < 0 {
			continue
		}
		opt := e.connectOptions(rec, rec.Config.Networks[i], ep.IfName, false)
		if err := e.nets.SetNames(ctx, ep.Network, string(rec.ID), opt.Names); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
