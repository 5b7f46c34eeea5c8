package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/netmgr"
)

// DefaultNetwork is Docker's default bridge: the network a container joins
// when its creator names it (`berth container run` without --network does).
// The engine makes it on demand, when a container naming it is created or
// started, and removes it with the last container naming it, so that it
// exists exactly while some container record names it. Its bridge gets
// netmgr's usual name (berth…).
const DefaultNetwork = "bridge"

// defaultNetLockFile, under the containers directory, serialises the
// default network's creation and removal with the records that name it:
// Create holds it from making sure the network exists until its record is
// in place; Remove holds it from after the record is gone until the
// network is removed if unused. Lock order: container lock, then this
// lock, then the name lock (and netmgr's locks inside all).
const defaultNetLockFile = "defaultnet.lock"

// networkStore is the part of the network manager the default network's
// lifecycle needs: *netmgr.Manager, or a fake in tests.
type networkStore interface {
	Get(ctx context.Context, name string) (*netmgr.Network, error)
	Create(ctx context.Context, cfg netmgr.NetworkConfig) (*netmgr.Network, error)
	Remove(ctx context.Context, name string) error
}

// usesDefaultNetwork tells whether the container joins the default network.
func usesDefaultNetwork(c ContainerConfig) bool {
	return slices.ContainsFunc(c.Networks, func(nc EndpointConfig) bool { return nc.Network == DefaultNetwork })
}

func (e *Engine) lockDefaultNetwork(ctx context.Context) (func(), error) {
	return flock.Lock(ctx, filepath.Join(e.containersDir(), defaultNetLockFile))
}

// holdDefaultNetwork takes the default network's lock and makes sure the
// network exists; Create calls it before it writes a record naming the
// network. The function returned must be called once the record is in
// place, or with failed once Create gave up: then a network nobody names
// is removed again. Both with the lock held, which it then releases.
func (e *Engine) holdDefaultNetwork(ctx context.Context) (done func(failed bool) error, err error) {
	if e.defNets == nil {
		return nil, fmt.Errorf("network %q: the engine has no network manager: %w", DefaultNetwork, errdefs.ErrFailedPrecondition)
	}
	unlock, err := e.lockDefaultNetwork(ctx)
	if err != nil {
		return nil, err
	}
	if err := ensureNetwork(ctx, e.defNets, DefaultNetwork); err != nil {
		unlock()
		return nil, err
	}
	return func(failed bool) error {
		defer unlock()
		if !failed {
			return nil
		}
		return e.removeDefaultNetworkIfUnused(context.WithoutCancel(ctx))
	}, nil
}

// ensureDefaultNetwork makes sure the default network exists before a
// container naming it starts (it was removed by hand, say).
func (e *Engine) ensureDefaultNetwork(ctx context.Context) error {
	done, err := e.holdDefaultNetwork(ctx)
	if err != nil {
		return err
	}
	return done(false)
}

// releaseDefaultNetwork removes the default network if no container record
// names it any more; Remove calls it once a record naming it is gone.
func (e *Engine) releaseDefaultNetwork(ctx context.Context) error {
	if e.defNets == nil {
		return nil
	}
	unlock, err := e.lockDefaultNetwork(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return e.removeDefaultNetworkIfUnused(ctx)
}

// removeDefaultNetworkIfUnused removes the default network unless a record
// names it. The default network's lock is held.
func (e *Engine) removeDefaultNetworkIfUnused(ctx context.Context) error {
	all, err := e.allRecords()
	if err != nil {
		return fmt.Errorf("network %q: %w", DefaultNetwork, err)
	}
	users := make([]ContainerConfig, 0, len(all))
	for _, ent := range all {
		users = append(users, ent.rec.Config)
	}
	return removeIfUnused(ctx, e.defNets, DefaultNetwork, users)
}

// ensureNetwork creates the network name unless it exists.
func ensureNetwork(ctx context.Context, nets networkStore, name string) error {
	_, err := nets.Get(ctx, name)
	if err == nil {
		return nil
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("network %q: %w", name, err)
	}
	if _, err := nets.Create(ctx, netmgr.NetworkConfig{Name: name}); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("network %q: %w", name, err)
	}
	return nil
}

// removeIfUnused removes the network name unless one of the containers
// joins it. A network already gone is no error.
func removeIfUnused(ctx context.Context, nets networkStore, name string, containers []ContainerConfig) error {
	for _, c := range containers {
		if slices.ContainsFunc(c.Networks, func(nc EndpointConfig) bool { return nc.Network == name }) {
			return nil
		}
	}
	if err := nets.Remove(ctx, name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("network %q: no container uses it but: %w", name, err)
	}
	return nil
}
