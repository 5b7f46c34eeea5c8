package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
)

// ConnectNetwork adds network nc.Network to container id, as docker
// network connect: a running container gets an interface on it at once
// (the next free ethN, with nc's address and aliases), its resolv.conf and
// every peer's /etc/hosts follow, and its default route when nc's
// GwPriority is above every other network's; a stopped one joins it at its
// next start. errdefs.ErrConflict if the container is already on the network or
// uses another's network namespace, the host's or none; errdefs.ErrNotFound
// for an unknown container or network.
func (e *Engine) ConnectNetwork(ctx context.Context, id ContainerID, nc EndpointConfig) (retErr error) {
	if e.nets == nil {
		return fmt.Errorf("networks: the engine has no network manager: %w", errdefs.ErrFailedPrecondition)
	}
	if _, err := e.nets.Get(ctx, nc.Network); err != nil {
		return err
	}
	dir, rec, unlock, err := e.lockLiveContainer(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	name := rec.Config.Name
	if rec.Config.NetworkMode != "" && rec.Config.NetworkMode != "bridge" {
		return fmt.Errorf("container %q: network mode %q: it cannot join networks: %w", name, rec.Config.NetworkMode, errdefs.ErrConflict)
	}
	if slices.ContainsFunc(rec.Config.Networks, func(c EndpointConfig) bool { return c.Network == nc.Network }) {
		return fmt.Errorf("container %q: already on network %q: %w", name, nc.Network, errdefs.ErrConflict)
	}
	_, st, err := e.readObserved(ctx, dir)
	if err != nil {
		return err
	}
	eps, err := readEndpoints(dir)
	if err != nil {
		return err
	}
	joined := active(st.Status) && len(eps) > 0
	var netID string
	if joined {
		ifname := freeIfName(eps)
		netsAfter := append(slices.Clone(rec.Config.Networks), nc)
		opt := e.connectOptions(rec, nc, ifname, false)
		gw := gatewayNetwork(netsAfter)
		opt.NoDefaultRoute = nc.Network != gw
		// A network of a higher gateway priority than the one routing
		// now takes the default route over (docker's --gw-priority).
		opt.TakeDefaultRoute = nc.Network == gw && gatewayNetwork(rec.Config.Networks) != ""
		ep, err := e.nets.ConnectWith(ctx, nc.Network, string(rec.ID), opt)
		if err != nil {
			return fmt.Errorf("container %q: %w", name, err)
		}
		defer func() {
			if retErr != nil {
				retErr = errors.Join(retErr, e.nets.Disconnect(context.WithoutCancel(ctx), nc.Network, string(rec.ID)))
			}
		}()
		netID = ep.NetworkID
		eps = append(eps, endpointRecordOf(nc, ifname, ep))
		if err := e.rewriteEndpoints(ctx, dir, rec, eps); err != nil {
			return err
		}
	} else if active(st.Status) {
		return fmt.Errorf("container %q: it runs without a network sandbox of its own: %w", name, errdefs.ErrConflict)
	}
	rec.Config.Networks = append(rec.Config.Networks, nc)
	if err := e.writeRecord(dir, rec); err != nil {
		return err
	}
	if joined {
		// As Docker: a container not running joins at its start.
		e.networkEvent(ctx, "connect", nc.Network, netID, rec.ID)
	}
	return nil
}

// DisconnectNetwork takes network off container id, as docker network
// disconnect: a running container loses its interface there at once.
// errdefs.ErrNotFound for an unknown container, or one not on the network.
func (e *Engine) DisconnectNetwork(ctx context.Context, id ContainerID, network string) error {
	dir, rec, unlock, err := e.lockLiveContainer(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	i := slices.IndexFunc(rec.Config.Networks, func(c EndpointConfig) bool { return c.Network == network })
	if i < 0 {
		return fmt.Errorf("container %q is not connected to network %q: %w", rec.Config.Name, network, errdefs.ErrNotFound)
	}
	eps, err := readEndpoints(dir)
	if err != nil {
		return err
	}
	j := slices.IndexFunc(eps, func(ep endpointRecord) bool { return ep.Network == network })
	var netID string
	if j >= 0 {
		netID = eps[j].NetworkID
	}
	if j >= 0 && e.nets != nil {
		if err := e.nets.Disconnect(ctx, network, string(rec.ID)); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("container %q: %w", rec.Config.Name, err)
		}
		if err := e.rewriteEndpoints(ctx, dir, rec, slices.Delete(eps, j, j+1)); err != nil {
			return err
		}
	}
	rec.Config.Networks = slices.Delete(rec.Config.Networks, i, i+1)
	if err := e.writeRecord(dir, rec); err != nil {
		return err
	}
	if j >= 0 {
		// As Docker: a container not running has left at its end.
		e.networkEvent(ctx, "disconnect", network, netID, rec.ID)
	}
	return nil
}

// rewriteEndpoints records a running container's endpoints after a connect
// or disconnect, and brings its resolv.conf and every hosts file up to
// date.
func (e *Engine) rewriteEndpoints(ctx context.Context, dir string, rec *record, eps []endpointRecord) error {
	f := endpointsFile{Version: endpointsVersion, Endpoints: eps}
	if err := atomicfile.WriteJSON(filepath.Join(dir, ctrstate.EndpointsFile), f, 0o644); err != nil {
		return err
	}
	host, _ := os.ReadFile(e.hostResolvConf) // none: no search domains
	if err := writeInPlace(filepath.Join(dir, "resolv.conf"), resolvConfFor(host, rec.Config, eps)); err != nil {
		return fmt.Errorf("container %q: resolv.conf: %w", rec.Config.Name, err)
	}
	return e.syncHosts(ctx)
}

// lockLiveContainer is lockContainer for a container that is not being
// removed: errdefs.ErrNotFound for one that is.
func (e *Engine) lockLiveContainer(ctx context.Context, id ContainerID) (dir string, rec *record, unlock func(), err error) {
	dir, rec, unlock, err = e.lockContainer(ctx, string(id))
	if err == nil && rec == nil {
		unlock()
		err = fmt.Errorf("container %q: being removed: %w", id, errdefs.ErrNotFound)
	}
	return dir, rec, unlock, err
}

// writeRecord replaces the container's record. The container lock is held.
func (e *Engine) writeRecord(dir string, rec *record) error {
	rec.Version = recordVersion
	return atomicfile.WriteJSON(filepath.Join(dir, ctrstate.RecordFile), rec, 0o600)
}

// freeIfName is the first ethN that none of eps uses.
func freeIfName(eps []endpointRecord) string {
	for i := 0; ; i++ {
		name := "eth" + strconv.Itoa(i)
		if !slices.ContainsFunc(eps, func(ep endpointRecord) bool { return ep.IfName == name }) {
			return name
		}
	}
}
