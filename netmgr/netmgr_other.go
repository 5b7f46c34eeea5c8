//go:build !linux

package netmgr

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

var errNotLinux = fmt.Errorf("netmgr: bridge networking needs Linux: %w", errdefs.ErrNotImplemented)

func hostPrefixes() ([]netip.Prefix, error)                              { return nil, errNotLinux }
func createBridge(*Network, string) error                                { return errNotLinux }
func ipv6Available() error                                               { return errNotLinux }
func deleteBridge(*Network) error                                        { return errNotLinux }
func bridgeExists(*Network) (bool, error)                                { return false, errNotLinux }
func deleteLink(string) error                                            { return errNotLinux }
func plumb(*Network, Endpoint, string) error                             { return errNotLinux }
func createNetns(string) error                                           { return errNotLinux }
func removeNetns(string) error                                           { return errNotLinux }
func (m *Manager) addFirewall(context.Context, *Network) error           { return errNotLinux }
func (m *Manager) removeFirewall(context.Context, *Network) error        { return errNotLinux }
func (m *Manager) ensureResolverLocked(context.Context, *Network) error  { return errNotLinux }
func stopProcess(*Process) error                                         { return errNotLinux }
func processAlive(Process) bool                                          { return false }
func (m *Manager) stopResolvers(string, *Process) error                  { return errNotLinux }
func (m *Manager) repairFirewall(context.Context, *Network) error        { return errNotLinux }
func (m *Manager) publish(context.Context, *Network, Endpoint) error     { return errNotLinux }
func (m *Manager) unpublish(context.Context, *Network, string) error     { return errNotLinux }
func choosePorts([]PortMapping, []*Network, bool) ([]PortMapping, error) { return nil, errNotLinux }

// Prune needs Linux.
func (m *Manager) Prune(context.Context, PruneOptions) (*PruneReport, error) { return nil, errNotLinux }

func startDeleteBridge(*Network, func() error, func(string) (bool, error)) func() error {
	return func() error { return errNotLinux }
}

// reaperSlot: link deletion is never put off off Linux.
type reaperSlot struct{}

// DeferLinkDeletion: see the Linux version; nothing to defer here.
func (m *Manager) DeferLinkDeletion() func() error   { return func() error { return nil } }
func (m *Manager) deleteVeth(name string) error      { return deleteLink(name) }
func (m *Manager) removeSandboxNetns(p string) error { return removeNetns(p) }
func (m *Manager) reapBridge(string) (bool, error)   { return false, nil }
