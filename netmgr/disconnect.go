package netmgr

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// Disconnect detaches sandbox id from one network: its published ports'
// rules go, its host veth is deleted (the interface in the sandbox goes
// with it) and its address is released. The sandbox and its other
// endpoints stay. errdefs.ErrNotFound if the network does not exist or the
// sandbox is not connected to it.
func (m *Manager) Disconnect(ctx context.Context, network, id string) error {
	if err := validateName("network", network); err != nil {
		return err
	}
	if err := validateName("sandbox", id); err != nil {
		return err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	n, err := m.readRecord(network)
	if err != nil {
		return err
	}
	ep, ok := n.Endpoints[id]
	if !ok {
		return fmt.Errorf("network %q: sandbox %q: not connected: %w", network, id, errdefs.ErrNotFound)
	}
	if len(ep.Ports) > 0 {
		if err := m.unpublish(ctx, n, id); err != nil {
			return fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
		}
	}
	if err := deleteLink(ep.HostVeth); err != nil {
		return fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	delete(n.Endpoints, id)
	if err := m.writeRecord(n); err != nil {
		return err
	}
	m.log.Debug("sandbox disconnected", "network", network, "sandbox", id)
	return nil
}

// SetNames replaces the names network's resolver answers with the address
// of sandbox id's endpoint (a container renamed while it runs). The
// resolver follows the record at once. errdefs.ErrNotFound if the network
// does not exist or the sandbox is not connected to it.
func (m *Manager) SetNames(ctx context.Context, network, id string, names []string) error {
	if err := validateName("sandbox", id); err != nil {
		return err
	}
	n, unlock, err := m.lockRecord(ctx, network)
	if err != nil {
		return err
	}
	defer unlock()
	ep, ok := n.Endpoints[id]
	if !ok {
		return fmt.Errorf("network %q: sandbox %q: not connected: %w", network, id, errdefs.ErrNotFound)
	}
	ep.Names = dedupeNames(names)
	n.Endpoints[id] = ep
	return m.writeRecord(n)
}
