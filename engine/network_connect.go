package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// editNetworks changes the networks of container ref, which must not be
// running (berth attaches a container's networks as it starts), with edit,
// and writes its record. errdefs.ErrNotFound for an unknown container;
// ErrFailedPrecondition when it runs; ErrConflict when it has a network
// mode of its own (host, none, container:…).
func (e *Engine) editNetworks(ctx context.Context, ref string, edit func(*record) error) error {
	dir, rec, unlock, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := e.observeDir(dir)
	if err != nil {
		return err
	}
	if active(st.Status) || st.Status == StatusPaused {
		return fmt.Errorf("container %q is %s: berth attaches networks as a container starts; stop it first: %w", rec.Config.Name, st.Status, errdefs.ErrFailedPrecondition)
	}
	if rec.Config.NetworkMode != "" {
		return fmt.Errorf("container %q: network mode %q: it has no networks of its own: %w", rec.Config.Name, rec.Config.NetworkMode, errdefs.ErrConflict)
	}
	if err := edit(rec); err != nil {
		return err
	}
	return atomicfile.WriteJSON(filepath.Join(dir, ctrstate.RecordFile), rec, 0o600)
}

// ConnectNetwork attaches container ref to the network ep names from its
// next start, as `docker network connect` of a created or stopped
// container. errdefs.ErrNotFound for an unknown network; ErrConflict when
// the container is attached to it already; the errors of editNetworks.
func (e *Engine) ConnectNetwork(ctx context.Context, ref string, ep EndpointConfig) error {
	if ep.Network != DefaultNetwork {
		if e.nets == nil {
			return fmt.Errorf("network %q: the engine has no network manager: %w", ep.Network, errdefs.ErrFailedPrecondition)
		}
		if _, err := e.nets.Get(ctx, ep.Network); err != nil {
			return err
		}
	}
	return e.editNetworks(ctx, ref, func(rec *record) error {
		if slices.ContainsFunc(rec.Config.Networks, func(nc EndpointConfig) bool { return nc.Network == ep.Network }) {
			return fmt.Errorf("container %q is already attached to network %q: %w", rec.Config.Name, ep.Network, errdefs.ErrConflict)
		}
		rec.Config.Networks = append(rec.Config.Networks, ep)
		return nil
	})
}

// DisconnectNetwork detaches container ref from network from its next
// start. ErrNotFound when it is not attached to it; the errors of
// editNetworks.
func (e *Engine) DisconnectNetwork(ctx context.Context, ref, network string) error {
	return e.editNetworks(ctx, ref, func(rec *record) error {
		i := slices.IndexFunc(rec.Config.Networks, func(nc EndpointConfig) bool { return nc.Network == network })
		if i < 0 {
			return fmt.Errorf("container %q is not attached to network %q: %w", rec.Config.Name, network, errdefs.ErrNotFound)
		}
		rec.Config.Networks = slices.Delete(rec.Config.Networks, i, i+1)
		return nil
	})
}
